package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testStore opens a store in a fresh directory with a fake clock and a
// logger writing to the returned buffer.
func testStore(t *testing.T) (*Store, *syncBuffer, *time.Time) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	logs := new(syncBuffer)
	s.Logger = slog.New(slog.NewTextHandler(logs, nil))
	clock := t0
	s.now = func() time.Time { return clock }
	return s, logs, &clock
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// bytesFile is a Put writer function that writes b.
func bytesFile(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

func testKey(name string) Key {
	return NewKey(KindModel, []byte("[model]\narch = \"lenet\"\n"), "test v1", Input{"data", name})
}

// SHA-256 of "hello" and of "" (sha256sum).
const (
	sumHello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	sumEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func putHello(t *testing.T, s *Store, key Key) *Entry {
	t.Helper()
	e, err := s.Put(key, "test entry", map[string]func(io.Writer) error{
		"weights.bin": bytesFile([]byte("hello")),
		"empty.json":  bytesFile(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPutGetRoundTrip(t *testing.T) {
	s, logs, _ := testStore(t)
	key := testKey("a")
	e := putHello(t, s, key)
	h := key.String()
	if want := filepath.Join(s.Dir(), "model", h[:2], h); e.Dir != want {
		t.Errorf("entry dir %s, want %s", e.Dir, want)
	}
	wantFiles := []FileInfo{{"empty.json", 0, sumEmpty}, {"weights.bin", 5, sumHello}}
	if fmt.Sprint(e.Manifest.Files) != fmt.Sprint(wantFiles) {
		t.Errorf("files %v, want %v", e.Manifest.Files, wantFiles)
	}

	g, ok, err := s.Get(key)
	if err != nil || !ok {
		t.Fatalf("Get: ok %v, err %v", ok, err)
	}
	if g.Dir != e.Dir || g.Key() != h || !g.Has("weights.bin") || g.Has("nope") {
		t.Errorf("Get returned %+v", g)
	}
	m := g.Manifest
	if m.Format != manifestFormat || m.Kind != "model" || m.Key != h || m.Description != "test entry" || !m.Created.Equal(t0) ||
		m.Inputs.Code != "test v1" || m.Inputs.Config != "[model]\narch = \"lenet\"\n" || fmt.Sprint(m.Inputs.Inputs) != "[{data a}]" {
		t.Errorf("manifest %+v", m)
	}
	f, err := g.Open("weights.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "hello" {
		t.Errorf("weights.bin holds %q", b)
	}
	if b, err := os.ReadFile(g.Path("empty.json")); err != nil || len(b) != 0 {
		t.Errorf("empty.json: %q, %v", b, err)
	}
	if _, err := g.Open("nope"); err == nil || !strings.HasPrefix(err.Error(), "cache: entry ") {
		t.Errorf("Open(nope) error %v", err)
	}

	// The manifest on disk is what Get returned, and nothing else is in the entry.
	raw, err := os.ReadFile(filepath.Join(e.Dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var disk Manifest
	if err := json.Unmarshal(raw, &disk); err != nil || fmt.Sprint(disk) != fmt.Sprint(m) {
		t.Errorf("manifest on disk %+v (%v), Get %+v", disk, err, m)
	}
	if names := dirNames(t, e.Dir); names != "empty.json manifest.json weights.bin" {
		t.Errorf("entry holds %s", names)
	}
	if names := dirNames(t, filepath.Join(s.Dir(), tmpDir)); names != "" {
		t.Errorf(".tmp holds %s after Put", names)
	}
	if logs.String() != "" {
		t.Errorf("unexpected log: %s", logs)
	}

	// A key never stored is a plain miss.
	if e, ok, err := s.Get(testKey("other")); e != nil || ok || err != nil {
		t.Errorf("Get(unknown) = %v, %v, %v", e, ok, err)
	}
}

func TestPutDir(t *testing.T) {
	s, _, _ := testStore(t)
	key := testKey("dir")
	e, err := s.PutDir(key, "via path", func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("hello"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(e.Manifest.Files) != fmt.Sprint([]FileInfo{{"model.safetensors", 5, sumHello}}) {
		t.Errorf("files %v", e.Manifest.Files)
	}
	if _, ok, err := s.Get(key); !ok || err != nil {
		t.Errorf("Get: %v %v", ok, err)
	}

	// Only plain files with plain names.
	for name, fill := range map[string]func(string) error{
		"subdirectory": func(dir string) error { return os.Mkdir(filepath.Join(dir, "sub"), 0o755) },
		"dot file":     func(dir string) error { return os.WriteFile(filepath.Join(dir, ".x"), nil, 0o644) },
		"manifest":     func(dir string) error { return os.WriteFile(filepath.Join(dir, ManifestFile), nil, 0o644) },
		"symlink":      func(dir string) error { return os.Symlink("/etc/passwd", filepath.Join(dir, "link")) },
	} {
		k := testKey("bad " + name)
		if _, err := s.PutDir(k, "", fill); err == nil || !strings.HasPrefix(err.Error(), "cache: put ") {
			t.Errorf("%s: error %v", name, err)
		}
		if _, ok, _ := s.Get(k); ok {
			t.Errorf("%s: entry stored", name)
		}
	}
}

func TestPutBadNames(t *testing.T) {
	s, _, _ := testStore(t)
	for _, name := range []string{"../escape", "a/b", ".hidden", "manifest.json", "", "sp ace"} {
		key := testKey(name)
		_, err := s.Put(key, "", map[string]func(io.Writer) error{"ok": bytesFile(nil), name: bytesFile(nil)})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("file name %q is not allowed", name)) {
			t.Errorf("Put(%q): error %v", name, err)
		}
		if _, ok, _ := s.Get(key); ok {
			t.Errorf("Put(%q) stored an entry", name)
		}
	}
	if _, err := s.Put(Key{}, "", nil); err == nil || !strings.HasPrefix(err.Error(), "cache: put: zero Key") {
		t.Errorf("Put(zero key): %v", err)
	}
	if _, _, err := s.Get(Key{}); err == nil || !strings.HasPrefix(err.Error(), "cache: get: zero Key") {
		t.Errorf("Get(zero key): %v", err)
	}
	if names := dirNames(t, filepath.Join(s.Dir(), tmpDir)); names != "" {
		t.Errorf(".tmp holds %s after failed Puts", names)
	}
}

// TestCorruptEntry damages an entry in each way Get must notice: the entry
// is reported as a miss, quarantined and logged, and a new Put (the
// recomputation) succeeds.
func TestCorruptEntry(t *testing.T) {
	for _, c := range []struct {
		name    string
		damage  func(dir string) error
		problem string // expected in the warning
	}{
		{"truncated file", func(dir string) error { return os.Truncate(filepath.Join(dir, "weights.bin"), 3) },
			"file weights.bin has 3 bytes, manifest says 5"},
		{"altered byte", func(dir string) error { return os.WriteFile(filepath.Join(dir, "weights.bin"), []byte("hellp"), 0o644) },
			"file weights.bin has SHA-256 "},
		{"missing file", func(dir string) error { return os.Remove(filepath.Join(dir, "empty.json")) },
			"file empty.json is missing"},
		{"missing manifest", func(dir string) error { return os.Remove(filepath.Join(dir, ManifestFile)) },
			"manifest.json is missing"},
		{"garbled manifest", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, ManifestFile), []byte("{\"format\":"), 0o644)
		},
			"manifest.json is not valid JSON"},
		{"manifest of another key", func(dir string) error {
			return editManifest(dir, func(m *Manifest) { m.Key = testKey("zz").String() })
		}, "manifest.json is for model/"},
		{"unsafe name in manifest", func(dir string) error {
			return editManifest(dir, func(m *Manifest) { m.Files[0].Name = "../../x" })
		}, "manifest.json lists an invalid file name"},
		{"other format", func(dir string) error {
			return editManifest(dir, func(m *Manifest) { m.Format = "v0" })
		}, "manifest.json has format"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, logs, _ := testStore(t)
			key := testKey("a")
			e := putHello(t, s, key)
			if err := c.damage(e.Dir); err != nil {
				t.Fatal(err)
			}
			if g, ok, err := s.Get(key); g != nil || ok || err != nil {
				t.Fatalf("Get of damaged entry = %v, %v, %v; want a miss", g, ok, err)
			}
			log := logs.String()
			if !strings.Contains(log, "corrupt entry quarantined") || !strings.Contains(log, e.Dir) || !strings.Contains(log, c.problem) {
				t.Errorf("warning %q lacks the path %s or %q", log, e.Dir, c.problem)
			}
			if _, err := os.Stat(e.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("damaged entry still in place: %v", err)
			}
			if n := dirNames(t, filepath.Join(s.Dir(), corruptDir)); n == "" {
				t.Error("nothing quarantined")
			}
			// The caller recomputes.
			putHello(t, s, key)
			if _, ok, err := s.Get(key); !ok || err != nil {
				t.Errorf("Get after recomputing: %v, %v", ok, err)
			}
		})
	}
}

func editManifest(dir string, edit func(*Manifest)) error {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	edit(&m)
	b, _ = json.Marshal(&m)
	return os.WriteFile(p, b, 0o644)
}

// TestPutOverCorruptEntry: a Put finding a damaged entry in its way
// replaces it.
func TestPutOverCorruptEntry(t *testing.T) {
	s, logs, _ := testStore(t)
	key := testKey("a")
	e := putHello(t, s, key)
	os.Truncate(filepath.Join(e.Dir, "weights.bin"), 0)
	e2 := putHello(t, s, key)
	if b, err := os.ReadFile(e2.Path("weights.bin")); err != nil || string(b) != "hello" {
		t.Errorf("after Put over corrupt entry: %q, %v", b, err)
	}
	if !strings.Contains(logs.String(), "corrupt entry quarantined") {
		t.Errorf("no warning: %q", logs)
	}
}

// TestConcurrentPut: four writers of one key, each with different content
// so we can tell whose copy won; all must get the same, complete entry.
func TestConcurrentPut(t *testing.T) {
	s, logs, _ := testStore(t)
	key := testKey("race")
	const n = 4
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		entries [n]*Entry
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			entries[i], errs[i] = s.Put(key, fmt.Sprintf("writer %d", i), map[string]func(io.Writer) error{
				"data.bin": func(w io.Writer) error {
					// Big enough that the writers overlap.
					_, err := w.Write(bytes.Repeat([]byte{byte('0' + i)}, 1<<20))
					return err
				},
			})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
	}
	g, ok, err := s.Get(key)
	if !ok || err != nil {
		t.Fatalf("Get: %v, %v", ok, err)
	}
	for i, e := range entries {
		if e.Dir != g.Dir || fmt.Sprint(e.Manifest) != fmt.Sprint(g.Manifest) {
			t.Errorf("writer %d got %+v, store holds %+v", i, e.Manifest, g.Manifest)
		}
	}
	b, _ := os.ReadFile(g.Path("data.bin"))
	if len(b) != 1<<20 || !bytes.Equal(b, bytes.Repeat(b[:1], 1<<20)) || g.Manifest.Description != "writer "+string(b[:1]) {
		t.Errorf("entry content is not one writer's: %d bytes starting %q, description %q", len(b), b[:min(4, len(b))], g.Manifest.Description)
	}
	if names := dirNames(t, filepath.Dir(g.Dir)); names != key.String() {
		t.Errorf("prefix directory holds %q", names)
	}
	if names := dirNames(t, filepath.Join(s.Dir(), tmpDir)); names != "" {
		t.Errorf(".tmp holds %s", names)
	}
	if logs.String() != "" {
		t.Errorf("unexpected log: %s", logs)
	}
}

// failingWriter passes limit bytes to w and then fails as a full disk does.
type failingWriter struct {
	w     io.Writer
	limit int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.w.Write(p[:f.limit])
		f.limit = 0
		return n, &os.PathError{Op: "write", Path: "(simulated)", Err: syscall.ENOSPC}
	}
	f.limit -= len(p)
	return f.w.Write(p)
}

// TestInterruptedPut: a write failing midway (a full disk) leaves neither an
// entry nor a partial one, and the error says where and why.
func TestInterruptedPut(t *testing.T) {
	s, _, _ := testStore(t)
	old := putHello(t, s, testKey("existing"))
	key := testKey("a")
	_, err := s.Put(key, "", map[string]func(io.Writer) error{
		"a-first.bin": bytesFile(bytes.Repeat([]byte("x"), 5000)),
		"b-second.bin": func(w io.Writer) error {
			_, err := io.Copy(&failingWriter{w: w, limit: 3000}, bytes.NewReader(make([]byte, 100000)))
			return err
		},
	})
	if err == nil {
		t.Fatal("Put succeeded")
	}
	msg := err.Error()
	if !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(msg, "cache: put "+s.entryDir(key)+": ") ||
		!strings.Contains(msg, "b-second.bin") || !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line naming the entry path, the file and ENOSPC", msg)
	}
	if _, ok, _ := s.Get(key); ok {
		t.Error("entry visible after a failed Put")
	}
	if _, err := os.Stat(s.entryDir(key)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("entry directory exists: %v", err)
	}
	if names := dirNames(t, filepath.Join(s.Dir(), tmpDir)); names != "" {
		t.Errorf(".tmp holds %s", names)
	}
	if infos, err := s.List(); err != nil || len(infos) != 1 || infos[0].Key != old.Key() {
		t.Errorf("List = %v, %v; want only the existing entry", infos, err)
	}
	if _, ok, err := s.Get(testKey("existing")); !ok || err != nil {
		t.Errorf("existing entry damaged: %v, %v", ok, err)
	}
}

// TestKilledPut: a process killed during Put leaves only a temporary
// directory, which neither Get nor List sees.
func TestKilledPut(t *testing.T) {
	s, _, _ := testStore(t)
	key := testKey("a")
	tmp := filepath.Join(s.Dir(), tmpDir, "model-"+key.String()[:16]+"-123")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tmp, "weights.bin"), []byte("hel"), 0o644)
	if _, ok, err := s.Get(key); ok || err != nil {
		t.Errorf("Get = %v, %v; want a miss", ok, err)
	}
	if infos, err := s.List(); len(infos) != 0 || err != nil {
		t.Errorf("List = %v, %v", infos, err)
	}
	putHello(t, s, key) // does not trip over the debris
}

// TestUnwritableStore: Put into a store it cannot write fails with one line
// naming the path, and leaves the existing entries readable.
func TestUnwritableStore(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, s *Store)
		want  string
	}{
		{"read-only directory", func(t *testing.T, s *Store) {
			if os.Geteuid() == 0 {
				t.Skip("root ignores directory permissions; the blocked-path case covers the error path")
			}
			os.RemoveAll(filepath.Join(s.Dir(), tmpDir))
			chmodTree(t, s.Dir(), 0o555)
		}, "permission denied"},
		{"path blocked by a file", func(t *testing.T, s *Store) {
			// Works as root too: the temporary area is a file, not a directory.
			p := filepath.Join(s.Dir(), tmpDir)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _ := testStore(t)
			old := testKey("old")
			putHello(t, s, old)
			c.setup(t, s)
			key := testKey("new")
			_, err := s.Put(key, "", map[string]func(io.Writer) error{"x": bytesFile([]byte("x"))})
			if err == nil {
				t.Fatal("Put succeeded")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "cache: put "+s.entryDir(key)+": ") || !strings.Contains(msg, filepath.Join(s.Dir(), tmpDir)) ||
				!strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s and %q", msg, filepath.Join(s.Dir(), tmpDir), c.want)
			}
			if _, ok, err := s.Get(old); !ok || err != nil {
				t.Errorf("existing entry: %v, %v", ok, err)
			}
			if _, ok, _ := s.Get(key); ok {
				t.Error("new entry visible")
			}
		})
	}
}

func chmodTree(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, mode)
		}
		return nil
	})
	t.Cleanup(func() {
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil || !strings.HasPrefix(err.Error(), "cache: open") {
		t.Errorf("Open(\"\"): %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Open(filepath.Join(f, "cache")); err == nil || !strings.HasPrefix(err.Error(), "cache: open "+f) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Open under a file: %v", err)
	}
}

// dirNames lists a directory's entries, space-separated; "" if it is empty
// or missing.
func dirNames(t *testing.T, dir string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return strings.Join(names, " ")
}
