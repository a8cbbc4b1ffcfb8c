package cache

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// gcFixture stores three entries on the fake clock:
//
//	entry  created  last used
//	a      t0       t0+150m (a Get)
//	b      t0+60m   t0+60m
//	c      t0+120m  t0+120m
//
// and sets the clock to t0+3h. Their sizes differ so the size budget can
// tell them apart.
func gcFixture(t *testing.T) (*Store, map[string]Info) {
	t.Helper()
	s, _, clock := testStore(t)
	for i, name := range []string{"a", "b", "c"} {
		*clock = t0.Add(time.Duration(i) * time.Hour)
		data := strings.Repeat("x", 1000*(i+1))
		if _, err := s.Put(testKey(name), "entry "+name, map[string]func(io.Writer) error{"f": bytesFile([]byte(data))}); err != nil {
			t.Fatal(err)
		}
	}
	*clock = t0.Add(150 * time.Minute)
	if _, ok, err := s.Get(testKey("a")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	*clock = t0.Add(3 * time.Hour)
	infos, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Info{}
	for _, in := range infos {
		byName[strings.TrimPrefix(in.Description, "entry ")] = in
	}
	return s, byName
}

func TestList(t *testing.T) {
	s, by := gcFixture(t)
	infos, _ := s.List()
	var order []string
	for _, in := range infos {
		order = append(order, in.Description)
	}
	if strings.Join(order, ",") != "entry a,entry b,entry c" { // sorted by creation
		t.Errorf("List order %v", order)
	}
	for name, want := range map[string]struct{ created, used time.Duration }{
		"a": {0, 150 * time.Minute}, "b": {time.Hour, time.Hour}, "c": {2 * time.Hour, 2 * time.Hour},
	} {
		in := by[name]
		if in.Kind != "model" || in.Key != testKey(name).String() || in.Path != s.entryDir(testKey(name)) || in.Problem != "" ||
			!in.Created.Equal(t0.Add(want.created)) || !in.LastUsed.Equal(t0.Add(want.used)) {
			t.Errorf("%s: %+v", name, in)
		}
		// The size is the data file plus the manifest.
		st, _ := os.Stat(filepath.Join(in.Path, ManifestFile))
		if data := map[string]int64{"a": 1000, "b": 2000, "c": 3000}[name]; in.Size != data+st.Size() {
			t.Errorf("%s: size %d, want %d + manifest %d", name, in.Size, data, st.Size())
		}
	}
}

func TestGCPolicies(t *testing.T) {
	_, by := gcFixture(t)
	sz := func(names ...string) int64 {
		var n int64
		for _, x := range names {
			n += by[x].Size
		}
		return n
	}
	for _, c := range []struct {
		name    string
		policy  Policy
		removed []string // in removal order
		reason  string   // in the first removal's reason
	}{
		{"nothing to do", Policy{}, nil, ""},
		{"generous limits", Policy{MaxAge: 4 * time.Hour, MaxUnused: 4 * time.Hour, MaxBytes: sz("a", "b", "c")}, nil, ""},
		// Created at 0, 60, 120 min; now 180 min; cutoff 100 min ago.
		{"max age", Policy{MaxAge: 100 * time.Minute}, []string{"a", "b"}, "created 3h0m0s ago, max age 1h40m0s"},
		// Last used 150, 60, 120 min; cutoff 80 min: only b.
		{"max unused", Policy{MaxUnused: 100 * time.Minute}, []string{"b"}, "unused for 2h0m0s, max 1h40m0s"},
		// LRU order b (60), c (120), a (150).
		{"budget one byte short", Policy{MaxBytes: sz("a", "b", "c") - 1}, []string{"b"}, "least recently used"},
		{"budget fits a", Policy{MaxBytes: sz("a")}, []string{"b", "c"}, "least recently used"},
		{"budget fits nothing", Policy{MaxBytes: 1}, []string{"b", "c", "a"}, "least recently used"},
		// b goes for being unused; then c, used before a, for the budget.
		{"unused, then budget", Policy{MaxUnused: 100 * time.Minute, MaxBytes: sz("c")}, []string{"b", "c"}, "unused"},
	} {
		for _, dry := range []bool{false, true} {
			s, by := gcFixture(t)
			c.policy.DryRun = dry
			res, err := s.GC(c.policy)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var got []string
			var freed int64
			for _, r := range res.Removed {
				name := strings.TrimPrefix(infoByKey(by, r.Key).Description, "entry ")
				got = append(got, name)
				freed += by[name].Size
				if r.Kind != "model" || r.Path != by[name].Path || r.Bytes != by[name].Size {
					t.Errorf("%s: removed %+v", c.name, r)
				}
			}
			if !slices.Equal(got, c.removed) || res.Freed != freed {
				t.Errorf("%s (dry run %v): removed %v freeing %d, want %v freeing %d", c.name, dry, got, res.Freed, c.removed, freed)
			}
			if len(res.Removed) > 0 && !strings.Contains(res.Removed[0].Reason, c.reason) {
				t.Errorf("%s: reason %q, want %q", c.name, res.Removed[0].Reason, c.reason)
			}
			// What is left is what List and Get see.
			left, _ := s.List()
			want := 3
			if !dry {
				want -= len(c.removed)
			}
			if len(left) != want {
				t.Errorf("%s (dry run %v): %d entries left, want %d", c.name, dry, len(left), want)
			}
			for _, name := range c.removed {
				_, ok, _ := s.Get(testKey(name))
				if ok == !dry {
					t.Errorf("%s (dry run %v): Get(%s) ok = %v", c.name, dry, name, ok)
				}
			}
			if !dry {
				if n := dirNames(t, filepath.Join(s.Dir(), trashDir)); n != "" {
					t.Errorf("%s: .trash holds %s", c.name, n)
				}
			}
		}
	}
}

func infoByKey(by map[string]Info, key string) Info {
	for _, in := range by {
		if in.Key == key {
			return in
		}
	}
	return Info{}
}

// TestGCDebris: stale temporary directories and locks, quarantined entries
// and interrupted removals go; fresh temporary directories stay.
func TestGCDebris(t *testing.T) {
	s, _, clock := testStore(t)
	*clock = t0.Add(48 * time.Hour)
	mk := func(sub, name string, age time.Duration, dir bool) string {
		p := filepath.Join(s.Dir(), sub, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if dir {
			os.MkdirAll(p, 0o755)
			os.WriteFile(filepath.Join(p, "part"), []byte("12345"), 0o644)
			os.Chtimes(filepath.Join(p, "part"), t0.Add(48*time.Hour-age), t0.Add(48*time.Hour-age))
		} else {
			os.WriteFile(p, []byte("12345"), 0o644)
		}
		os.Chtimes(p, t0.Add(48*time.Hour-age), t0.Add(48*time.Hour-age))
		return p
	}
	staleTmp := mk(tmpDir, "model-1", 25*time.Hour, true)
	freshTmp := mk(tmpDir, "model-2", time.Hour, true)
	staleLock := mk(locksDir, "model-x.lock", 25*time.Hour, false)
	freshLock := mk(locksDir, "model-y.lock", time.Minute, false)
	quarantined := mk(corruptDir, "model-3", 0, true)
	trash := mk(trashDir, "model-4", 0, true)

	// A temporary directory whose own mtime is old but whose file is being
	// written is in use.
	busy := mk(tmpDir, "model-5", 30*time.Hour, true)
	os.Chtimes(filepath.Join(busy, "part"), *clock, *clock)

	// A corrupt entry (garbled manifest) is found by List alone.
	e := putHello(t, s, testKey("bad"))
	os.WriteFile(filepath.Join(e.Dir, ManifestFile), []byte("nope"), 0o644)
	good := putHello(t, s, testKey("good"))

	res, err := s.GC(Policy{})
	if err != nil {
		t.Fatal(err)
	}
	var removed []string
	for _, r := range res.Removed {
		removed = append(removed, r.Path)
	}
	want := []string{staleTmp, staleLock, quarantined, trash, e.Dir}
	if !slices.Equal(removed, want) {
		t.Errorf("removed\n%v\nwant\n%v", removed, want)
	}
	for _, p := range want {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s still exists", p)
		}
	}
	for _, p := range []string{freshTmp, freshLock, busy, good.Dir} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if r := res.Removed[len(res.Removed)-1]; !strings.HasPrefix(r.Reason, "corrupt: manifest.json is not valid JSON") {
		t.Errorf("corrupt entry reason %q", r.Reason)
	}
	if res.Removed[0].Bytes != 5 || res.Removed[0].Reason != "stale temporary directory (untouched for 25h0m0s)" {
		t.Errorf("stale tmp: %+v", res.Removed[0])
	}

	// A shorter TempAge takes the fresh ones too.
	res, err = s.GC(Policy{TempAge: 30 * time.Second})
	if err != nil || len(res.Removed) != 2 || res.Removed[0].Path != freshTmp || res.Removed[1].Path != freshLock {
		t.Errorf("GC(TempAge 30s) = %+v, %v; want the fresh temporary directory and lock", res, err)
	}
}

// TestGCVerify: only Verify reads the files, so only it finds a damaged file.
func TestGCVerify(t *testing.T) {
	s, _, _ := testStore(t)
	e := putHello(t, s, testKey("a"))
	os.WriteFile(e.Path("weights.bin"), []byte("jello"), 0o644)
	if res, err := s.GC(Policy{}); err != nil || len(res.Removed) != 0 {
		t.Errorf("GC without Verify = %+v, %v", res, err)
	}
	res, err := s.GC(Policy{Verify: true})
	if err != nil || len(res.Removed) != 1 || !strings.HasPrefix(res.Removed[0].Reason, "corrupt: file weights.bin has SHA-256") {
		t.Errorf("GC with Verify = %+v, %v", res, err)
	}
}

func TestGCBadPolicy(t *testing.T) {
	s, _, _ := testStore(t)
	if _, err := s.GC(Policy{MaxAge: -time.Second}); err == nil || !strings.HasPrefix(err.Error(), "cache: gc: negative limit") {
		t.Errorf("negative MaxAge: %v", err)
	}
}

// TestGCTrainingStates: a training state goes when untouched beyond the
// smaller of MaxAge and MaxUnused, and never without an entry limit.
func TestGCTrainingStates(t *testing.T) {
	s, _, clock := testStore(t)
	*clock = t0.Add(48 * time.Hour)
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(s.Dir(), StateDir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("1234567"), 0o644)
		os.Chtimes(p, clock.Add(-age), clock.Add(-age))
		return p
	}
	old := mk("model-a.state", 30*time.Hour)
	recent := mk("model-b.state", 2*time.Hour)
	for _, c := range []struct {
		p    Policy
		want []string
	}{
		{Policy{}, nil},
		{Policy{MaxUnused: 48 * time.Hour}, nil},
		{Policy{MaxUnused: 24 * time.Hour, DryRun: true}, []string{old}},
		{Policy{MaxAge: 72 * time.Hour, MaxUnused: time.Hour, DryRun: true}, []string{old, recent}},
		{Policy{MaxAge: 24 * time.Hour}, []string{old}},
	} {
		res, err := s.GC(c.p)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Removed {
			got = append(got, r.Path)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("GC(%+v) removed %v, want %v", c.p, got, c.want)
		}
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("old state survived")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("recent state removed: %v", err)
	}
}
