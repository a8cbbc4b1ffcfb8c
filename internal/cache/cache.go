// Package cache is a content-addressed store for expensive results: trained
// models, adversarial and corrupted data sets, blocks of per-sample scores.
//
// An entry is a directory of plain files plus a manifest.json that lists
// every file's size and SHA-256. It lives at
//
//	DIR/<kind>/<first two hex digits of the key>/<key>/
//
// where the key (see NewKey) hashes everything that determines the content:
// the kind, the config section, the inputs' checksums and the code version.
//
// Writes are atomic at the level of the whole entry: Put builds the entry in
// DIR/.tmp/ and renames the finished, fsynced directory into place, so a
// crash or a failed write never leaves a partial entry visible. Several
// processes, on one machine or on shared storage, may Put the same key at
// once: rename(2) refuses to replace a non-empty directory, so the first
// rename wins and the others discard their copy and return the winner's
// entry. Get verifies every file's size and checksum; an entry that fails is
// moved to DIR/.corrupt/, logged, and reported as a miss so the caller
// recomputes it. GC removes old, unused or over-budget entries, quarantined
// ones and the temporary directories of killed processes.
//
// The store needs a file system with atomic rename(2) of directories and
// O_EXCL creation: local disks, NFSv3/v4, Lustre, GPFS, CephFS and the like.
// Object-store mounts (s3fs, gcsfuse) do not qualify.
//
// Special directories (never entries): .tmp (entries being written),
// .corrupt (quarantined entries), .trash (entries being removed) and .locks
// (compute locks, see Store.Lock).
package cache

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/purview-lab/purview/internal/atomicfile"
)

// ManifestFile is the name of the manifest inside every entry.
const ManifestFile = "manifest.json"

// manifestFormat identifies the manifest layout; a manifest with another
// format is treated as corrupt.
const manifestFormat = "purview-cache-entry v1"

const (
	tmpDir     = ".tmp"
	corruptDir = ".corrupt"
	trashDir   = ".trash"
	locksDir   = ".locks"
)

// fileNameRE is the rule for file names inside an entry: plain names that
// cannot climb out of the entry directory or hide as dot files.
var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}$`)

// Store is a cache directory. Its methods are safe for concurrent use by
// several goroutines and several processes.
type Store struct {
	dir string
	// Logger receives the warnings about corrupt entries; nil means slog.Default().
	Logger *slog.Logger

	now       func() time.Time // the clock, replaced in tests
	lockPoll  time.Duration    // how often Lock retries
	lockStale time.Duration    // a lock file not refreshed for this long is abandoned
}

// Open returns the store in dir, creating dir if needed. Only dir itself is
// created: a store on a read-only file system can still serve Get.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("cache: open: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("cache: open %s: %w", abs, err)
	}
	return &Store{dir: abs, now: time.Now, lockPoll: time.Second, lockStale: 2 * time.Minute}, nil
}

// Dir returns the store's directory (absolute).
func (s *Store) Dir() string { return s.dir }

func (s *Store) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// entryDir is where key's entry lives.
func (s *Store) entryDir(key Key) string {
	h := key.String()
	return filepath.Join(s.dir, key.kind, h[:2], h)
}

// Manifest describes an entry; it is stored as the entry's manifest.json.
type Manifest struct {
	Format      string     `json:"format"` // "purview-cache-entry v1"
	Kind        string     `json:"kind"`
	Key         string     `json:"key"` // 64 hex digits
	Description string     `json:"description"`
	Created     time.Time  `json:"created"`        // UTC
	Host        string     `json:"host,omitempty"` // the machine that wrote the entry
	Inputs      KeyInfo    `json:"inputs"`
	Files       []FileInfo `json:"files"` // sorted by name
}

// FileInfo is one file of an entry.
type FileInfo struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// Entry is a verified cache entry.
type Entry struct {
	Dir      string // the entry directory
	Manifest Manifest
}

// Key returns the entry's key as 64 hex digits.
func (e *Entry) Key() string { return e.Manifest.Key }

// Has reports whether the entry holds a file called name.
func (e *Entry) Has(name string) bool {
	return slices.ContainsFunc(e.Manifest.Files, func(f FileInfo) bool { return f.Name == name })
}

// Path returns the path of the file called name in the entry. The file exists
// only if Has(name); Path does not check.
func (e *Entry) Path(name string) string { return filepath.Join(e.Dir, name) }

// Open opens the file called name for reading. Entries are never modified
// after they are written, so the caller may keep the file open; a concurrent
// GC can still remove the directory, which on POSIX systems does not affect
// files already open.
func (e *Entry) Open(name string) (*os.File, error) {
	if !e.Has(name) {
		return nil, fmt.Errorf("cache: entry %s has no file %q", e.Dir, name)
	}
	f, err := os.Open(e.Path(name))
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return f, nil
}

// Put stores the entry key: for each name in files, the file name gets the
// bytes its function writes (functions are called in name order, each with a
// buffered writer). desc is a one-line description for humans (`cache ls`).
//
// Nothing is visible under the entry's path until every file is written,
// fsynced and listed in the manifest. If a function or the disk fails, the
// partial entry is removed and the error, prefixed "cache: put <entry
// path>:", wraps the cause (errors.Is(err, syscall.ENOSPC) works). If another
// process stored key first, Put discards its own copy and returns that
// process's entry: equal keys are meant to have equal content.
//
// File names must match [A-Za-z0-9_][A-Za-z0-9._+-]* and not be
// "manifest.json".
func (s *Store) Put(key Key, desc string, files map[string]func(io.Writer) error) (*Entry, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	return s.put(key, desc, func(dir string) error {
		for _, name := range names {
			if err := checkFileName(name); err != nil {
				return err
			}
			if err := atomicfile.Write(filepath.Join(dir, name), files[name]); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutDir is Put for writers that need a path rather than an io.Writer (a
// checkpoint saver, say): fill writes the entry's files into the empty
// directory dir, which is private to this call. Only plain files are
// allowed, named as for Put. Everything else is as for Put.
func (s *Store) PutDir(key Key, desc string, fill func(dir string) error) (*Entry, error) {
	return s.put(key, desc, fill)
}

func checkFileName(name string) error {
	if !fileNameRE.MatchString(name) || name == ManifestFile {
		return fmt.Errorf("file name %q is not allowed (want [A-Za-z0-9_][A-Za-z0-9._+-]*, at most 200 bytes, not %s)", name, ManifestFile)
	}
	return nil
}

func (s *Store) put(key Key, desc string, fill func(dir string) error) (*Entry, error) {
	if key.IsZero() {
		return nil, errors.New("cache: put: zero Key (make keys with cache.NewKey)")
	}
	final := s.entryDir(key)
	fail := func(err error) (*Entry, error) {
		return nil, fmt.Errorf("cache: put %s: %w", final, err)
	}
	tmpRoot := filepath.Join(s.dir, tmpDir)
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(tmpRoot, key.kind+"-"+key.String()[:16]+"-")
	if err != nil {
		return fail(err)
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fail(err)
	}
	if err := fill(tmp); err != nil {
		return fail(err)
	}
	m := Manifest{
		Format:      manifestFormat,
		Kind:        key.kind,
		Key:         key.String(),
		Description: desc,
		Created:     s.now().UTC(),
		Inputs:      key.Info(),
		Files:       []FileInfo{},
	}
	m.Host, _ = os.Hostname()
	des, err := os.ReadDir(tmp)
	if err != nil {
		return fail(err)
	}
	for _, de := range des { // ReadDir sorts by name
		if err := checkFileName(de.Name()); err != nil {
			return fail(fmt.Errorf("%s: %w", filepath.Join(tmp, de.Name()), err))
		}
		if !de.Type().IsRegular() {
			return fail(fmt.Errorf("%s is not a regular file; an entry holds plain files only", filepath.Join(tmp, de.Name())))
		}
		fi, err := hashFile(filepath.Join(tmp, de.Name()), true)
		if err != nil {
			return fail(err)
		}
		m.Files = append(m.Files, fi)
	}
	b, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return fail(err)
	}
	mpath := filepath.Join(tmp, ManifestFile)
	if err := atomicfile.WriteFile(mpath, append(b, '\n')); err != nil {
		return fail(err)
	}
	// The manifest's mtime is the entry's "last used" time.
	now := s.now()
	if err := os.Chtimes(mpath, now, now); err != nil {
		return fail(err)
	}
	syncDir(tmp)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fail(err)
	}
	// A rename onto an existing, non-empty entry fails with EEXIST or
	// ENOTEMPTY: someone else won. If their entry turns out corrupt, Get
	// quarantines it and we try again.
	for attempt := 0; ; attempt++ {
		err := os.Rename(tmp, final)
		if err == nil {
			committed = true
			syncDir(filepath.Dir(final))
			return &Entry{Dir: final, Manifest: m}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fail(err)
		}
		e, ok, gerr := s.Get(key)
		if gerr != nil {
			return fail(gerr)
		}
		if ok {
			return e, nil // the deferred RemoveAll discards our copy
		}
		if attempt == 2 {
			return fail(fmt.Errorf("a corrupt entry is in the way and cannot be removed: %w", err))
		}
	}
}

// hashFile returns the size and SHA-256 of the file at path, fsyncing it
// first when sync is set.
func hashFile(path string, sync bool) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, err
	}
	defer f.Close()
	if sync {
		if err := f.Sync(); err != nil {
			return FileInfo{}, fmt.Errorf("fsync %s: %w", path, err)
		}
	}
	h := sha256.New()
	n, err := io.Copy(h, bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return FileInfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	return FileInfo{Name: filepath.Base(path), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// syncDir persists a directory's entries, best effort: some file systems
// cannot fsync a directory, which is not worth failing a finished write for.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Get returns the entry key, after checking that the manifest is intact and
// that every file it lists has the recorded size and SHA-256. ok is false
// when there is no entry, and also when the entry is corrupt: then it is
// moved to DIR/.corrupt/ (or left in place if the store is read-only), a
// warning is logged, and the caller should recompute and Put it. err is
// non-nil only for failures that are not the entry's fault, such as a
// permission error.
//
// Get marks the entry used (for GC) by setting its manifest's mtime, when
// the store is writable.
func (s *Store) Get(key Key) (*Entry, bool, error) {
	if key.IsZero() {
		return nil, false, errors.New("cache: get: zero Key (make keys with cache.NewKey)")
	}
	dir := s.entryDir(key)
	if _, err := os.Lstat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("cache: get: %w", err)
	}
	m, problem, err := verify(dir, key.kind, key.String(), true)
	if err != nil {
		return nil, false, fmt.Errorf("cache: get %s: %w", dir, err)
	}
	if problem != "" {
		s.quarantine(dir, key, problem)
		return nil, false, nil
	}
	now := s.now()
	os.Chtimes(filepath.Join(dir, ManifestFile), now, now) // best effort: a read-only store still serves
	return &Entry{Dir: dir, Manifest: *m}, true, nil
}

// verify checks the entry in dir. problem describes what makes the entry
// corrupt ("" if nothing); err is a failure that is not the entry's fault.
// With full unset only the manifest is checked.
func verify(dir, kind, hexKey string, full bool) (m *Manifest, problem string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "manifest.json is missing", nil
		}
		return nil, "", err
	}
	m = new(Manifest)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Sprintf("manifest.json is not valid JSON: %v", err), nil
	}
	switch {
	case m.Format != manifestFormat:
		return nil, fmt.Sprintf("manifest.json has format %q, want %q", m.Format, manifestFormat), nil
	case m.Kind != kind || m.Key != hexKey:
		return nil, fmt.Sprintf("manifest.json is for %s/%s, not %s/%s", m.Kind, m.Key, kind, hexKey), nil
	}
	for _, f := range m.Files {
		if checkFileName(f.Name) != nil {
			return nil, fmt.Sprintf("manifest.json lists an invalid file name %q", f.Name), nil
		}
	}
	if !full {
		return m, "", nil
	}
	for _, f := range m.Files {
		p := filepath.Join(dir, f.Name)
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Sprintf("file %s is missing", f.Name), nil
			}
			return nil, "", err
		}
		if st.Size() != f.Size {
			return nil, fmt.Sprintf("file %s has %d bytes, manifest says %d", f.Name, st.Size(), f.Size), nil
		}
		got, err := hashFile(p, false)
		if err != nil {
			return nil, "", err
		}
		if got.Size != f.Size || got.SHA256 != f.SHA256 {
			return nil, fmt.Sprintf("file %s has SHA-256 %s, manifest says %s", f.Name, got.SHA256, f.SHA256), nil
		}
	}
	return m, "", nil
}

// quarantine moves a corrupt entry out of the way, to DIR/.corrupt/, where
// GC deletes it. A concurrent reader that already found the entry sees it
// disappear in one step; if another process quarantined it first, the
// rename finds nothing, which is fine.
func (s *Store) quarantine(dir string, key Key, problem string) {
	q, err := s.moveAside(dir, corruptDir, key.kind+"-"+key.String()[:16]+"-")
	if err != nil {
		s.logger().Warn("cache: corrupt entry ignored, will be recomputed; it could not be moved away",
			"path", dir, "problem", problem, "err", err)
		return
	}
	s.logger().Warn("cache: corrupt entry quarantined, will be recomputed",
		"path", dir, "problem", problem, "moved_to", q)
}

// moveAside renames dir into a fresh directory under DIR/<sub>/ and returns
// its new path.
func (s *Store) moveAside(dir, sub, prefix string) (string, error) {
	root := filepath.Join(s.dir, sub)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	holder, err := os.MkdirTemp(root, prefix)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(holder, "entry")
	if err := os.Rename(dir, dst); err != nil {
		os.Remove(holder)
		return "", err
	}
	return dst, nil
}
