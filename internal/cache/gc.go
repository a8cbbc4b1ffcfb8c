package cache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Info describes one entry, as `cache ls` shows it.
type Info struct {
	Kind        string
	Key         string // 64 hex digits
	Path        string // the entry directory
	Description string
	Size        int64     // bytes of all files in the entry directory, manifest included
	Created     time.Time // from the manifest
	LastUsed    time.Time // mtime of the manifest: the last Put or Get
	// Problem says why the entry is corrupt, judged from its manifest alone
	// (List does not read the files); "" when the manifest is sound.
	Problem string
}

var (
	prefixRE = regexp.MustCompile(`^[0-9a-f]{2}$`)
	hexKeyRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// List returns every entry of the store, sorted by kind, then creation time,
// then key. Directories that are not entries (the store's own .tmp, .corrupt,
// .trash, .locks and anything misplaced) are skipped.
func (s *Store) List() ([]Info, error) {
	infos, err := s.list()
	if err != nil {
		return nil, fmt.Errorf("cache: list: %w", err)
	}
	return infos, nil
}

func (s *Store) list() ([]Info, error) {
	var out []Info
	kinds, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	for _, kd := range kinds {
		if !kd.IsDir() || !kindRE.MatchString(kd.Name()) {
			continue
		}
		kdir := filepath.Join(s.dir, kd.Name())
		prefixes, err := os.ReadDir(kdir)
		if err != nil {
			return nil, err
		}
		for _, pd := range prefixes {
			if !pd.IsDir() || !prefixRE.MatchString(pd.Name()) {
				continue
			}
			pdir := filepath.Join(kdir, pd.Name())
			keys, err := os.ReadDir(pdir)
			if err != nil {
				return nil, err
			}
			for _, ed := range keys {
				if !ed.IsDir() || !hexKeyRE.MatchString(ed.Name()) || ed.Name()[:2] != pd.Name() {
					continue
				}
				info, err := s.info(filepath.Join(pdir, ed.Name()), kd.Name(), ed.Name())
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed while we looked
				}
				if err != nil {
					return nil, err
				}
				out = append(out, info)
			}
		}
	}
	slices.SortFunc(out, func(a, b Info) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), a.Created.Compare(b.Created), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

func (s *Store) info(dir, kind, hexKey string) (Info, error) {
	size, newest, err := dirStat(dir)
	if err != nil {
		return Info{}, err
	}
	info := Info{Kind: kind, Key: hexKey, Path: dir, Size: size, LastUsed: newest}
	m, problem, err := verify(dir, kind, hexKey, false)
	if err != nil {
		return Info{}, err
	}
	if problem != "" {
		info.Problem = problem
		return info, nil
	}
	info.Description, info.Created = m.Description, m.Created
	if st, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		info.LastUsed = st.ModTime()
	}
	return info, nil
}

// dirStat returns the total size of the regular files under dir and the
// newest modification time of anything in it, dir included.
func dirStat(dir string) (size int64, newest time.Time, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil
			}
			return err
		}
		st, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st.Mode().IsRegular() {
			size += st.Size()
		}
		if st.ModTime().After(newest) {
			newest = st.ModTime()
		}
		return nil
	})
	return size, newest, err
}

// StateDir is the store's directory of resumable training states (files
// the caller names and removes once the model is stored); GC removes those
// left untouched beyond the policy's MaxAge or MaxUnused.
const StateDir = ".train"

// DefaultTempAge is Policy.TempAge when left zero.
const DefaultTempAge = 24 * time.Hour

// Policy says what GC removes. Entries are removed in this order: corrupt
// ones, then those older than MaxAge or unused for longer than MaxUnused,
// then the least recently used until the rest fit in MaxBytes. Quarantined
// entries, leftovers of interrupted removals, and temporary directories and
// lock files untouched for TempAge are always removed.
type Policy struct {
	MaxAge    time.Duration // remove entries created longer ago than this; 0 = no limit
	MaxUnused time.Duration // remove entries not used (Put or Get) for longer than this; 0 = no limit
	MaxBytes  int64         // then remove least recently used entries until the total is at most this; 0 = no budget
	// TempAge is how long a temporary directory or lock file must have
	// been left untouched before it is taken for the debris of a killed
	// process; 0 means DefaultTempAge. It must exceed the longest Put.
	TempAge time.Duration
	Verify  bool // check every file's checksum too, removing corrupt entries (reads the whole store)
	DryRun  bool // report what would be removed, remove nothing
}

// Removed is one thing GC removed (or, with DryRun, would remove).
type Removed struct {
	Kind   string // "" for temporary directories, lock files and quarantined entries
	Key    string // "" likewise
	Path   string
	Bytes  int64
	Reason string
}

// GCResult lists what GC removed and the bytes it freed.
type GCResult struct {
	Removed []Removed
	Freed   int64
}

// GC removes entries according to p, plus the store's debris (see Policy).
// It carries on past a failed removal and returns the failures joined.
//
// An entry is first renamed into DIR/.trash/ and then deleted, so other
// processes see it either whole or gone. A process that already holds an
// Entry from Get may find its files gone afterwards; run GC with age limits
// well beyond the length of a run.
func (s *Store) GC(p Policy) (GCResult, error) {
	if p.MaxAge < 0 || p.MaxUnused < 0 || p.MaxBytes < 0 || p.TempAge < 0 {
		return GCResult{}, fmt.Errorf("cache: gc: negative limit in policy %+v", p)
	}
	if p.TempAge == 0 {
		p.TempAge = DefaultTempAge
	}
	now := s.now()
	var res GCResult
	var errs []error
	remove := func(path, sub string, r Removed) {
		if !p.DryRun {
			target := path
			if sub != "" { // an entry: take it out of sight first
				moved, err := s.moveAside(path, sub, filepath.Base(path)[:min(16, len(filepath.Base(path)))]+"-")
				if errors.Is(err, fs.ErrNotExist) {
					return // someone else removed it
				}
				if err != nil {
					errs = append(errs, err)
					return
				}
				target = filepath.Dir(moved)
			}
			if err := os.RemoveAll(target); err != nil {
				errs = append(errs, err)
				return
			}
		}
		res.Removed = append(res.Removed, r)
		res.Freed += r.Bytes
	}

	// Debris: stale temporary directories and locks, quarantined entries,
	// leftovers of removals that were interrupted.
	for _, sub := range []string{tmpDir, locksDir, corruptDir, trashDir} {
		root := filepath.Join(s.dir, sub)
		des, err := os.ReadDir(root)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		for _, de := range des {
			path := filepath.Join(root, de.Name())
			size, newest, err := dirStat(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			var reason string
			switch sub {
			case tmpDir, locksDir:
				if idle := now.Sub(newest); idle > p.TempAge {
					reason = fmt.Sprintf("stale %s (untouched for %s)", map[string]string{tmpDir: "temporary directory", locksDir: "lock file"}[sub], idle.Round(time.Second))
				}
			case corruptDir:
				reason = "quarantined corrupt entry"
			case trashDir:
				reason = "leftover of an interrupted removal"
			}
			if reason != "" {
				remove(path, "", Removed{Path: path, Bytes: size, Reason: reason})
			}
		}
	}

	// Resumable training states (StateDir) of trainings that were abandoned
	// — stopped and never rerun, or their recipe changed — go by the entry
	// limits, measured from their last write (a running training rewrites
	// its state every epoch, and its lock keeps reruns away meanwhile).
	if des, err := os.ReadDir(filepath.Join(s.dir, StateDir)); err == nil {
		for _, de := range des {
			path := filepath.Join(s.dir, StateDir, de.Name())
			fi, err := os.Stat(path)
			if err != nil {
				continue
			}
			idle := now.Sub(fi.ModTime())
			limit := p.MaxUnused
			if p.MaxAge > 0 && (limit == 0 || p.MaxAge < limit) {
				limit = p.MaxAge
			}
			if limit > 0 && idle > limit {
				remove(path, "", Removed{Path: path, Bytes: fi.Size(), Reason: fmt.Sprintf("training state untouched for %s, limit %s", idle.Round(time.Second), limit)})
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}

	infos, err := s.list()
	if err != nil {
		errs = append(errs, err)
		return res, joinErrors("cache: gc", errs)
	}
	var keep []Info
	for _, in := range infos {
		r := Removed{Kind: in.Kind, Key: in.Key, Path: in.Path, Bytes: in.Size}
		if in.Problem == "" && p.Verify {
			_, problem, err := verify(in.Path, in.Kind, in.Key, true)
			if err != nil {
				errs = append(errs, err)
				keep = append(keep, in)
				continue
			}
			in.Problem = problem
		}
		switch {
		case in.Problem != "":
			r.Reason = "corrupt: " + in.Problem
		case p.MaxAge > 0 && now.Sub(in.Created) > p.MaxAge:
			r.Reason = fmt.Sprintf("created %s ago, max age %s", now.Sub(in.Created).Round(time.Second), p.MaxAge)
		case p.MaxUnused > 0 && now.Sub(in.LastUsed) > p.MaxUnused:
			r.Reason = fmt.Sprintf("unused for %s, max %s", now.Sub(in.LastUsed).Round(time.Second), p.MaxUnused)
		default:
			keep = append(keep, in)
			continue
		}
		remove(in.Path, trashDir, r)
	}
	if p.MaxBytes > 0 {
		var total int64
		for _, in := range keep {
			total += in.Size
		}
		slices.SortStableFunc(keep, func(a, b Info) int {
			return cmp.Or(a.LastUsed.Compare(b.LastUsed), a.Created.Compare(b.Created), cmp.Compare(a.Key, b.Key))
		})
		for _, in := range keep {
			if total <= p.MaxBytes {
				break
			}
			total -= in.Size
			remove(in.Path, trashDir, Removed{Kind: in.Kind, Key: in.Key, Path: in.Path, Bytes: in.Size,
				Reason: fmt.Sprintf("least recently used (last %s) while over the size budget of %d bytes", in.LastUsed.UTC().Format(time.RFC3339), p.MaxBytes)})
		}
	}
	return res, joinErrors("cache: gc", errs)
}

// joinErrors returns nil for no errors, else one line "prefix: e1; e2; …"
// that wraps them all.
func joinErrors(prefix string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	format := prefix + ": %w" + strings.Repeat("; %w", len(errs)-1)
	args := make([]any, len(errs))
	for i, e := range errs {
		args[i] = e
	}
	return fmt.Errorf(format, args...)
}
