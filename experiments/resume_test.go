package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/purview-lab/purview/internal/cache"
)

// runDirFiles returns the files of a run directory, except the manifest and
// the training log (which hold timings), with their contents.
func runDirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if e.Name() == ManifestFile || e.Name() == "train_log.json" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameRunDirs(t *testing.T, what string, a, b map[string][]byte) {
	t.Helper()
	var names []string
	for n := range a {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !bytes.Equal(a[n], b[n]) {
			t.Errorf("%s: %s differs", what, n)
		}
	}
	if len(a) != len(b) {
		t.Errorf("%s: %d files, want %d", what, len(b), len(a))
	}
}

// smallResumeConfig is smallConfig with a shared cache and fewer detectors.
func smallResumeConfig(cacheDir string) string {
	return strings.ReplaceAll(smallConfig, "CACHE", cacheDir)
}

func runOpts(t *testing.T, cfgText, out string, opts RunOptions) error {
	t.Helper()
	cfg, err := Parse([]byte(cfgText), filepath.Join(out, "small.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var se bytes.Buffer
	opts.Out, opts.Stderr = out, &se
	err = Run(context.Background(), cfg, opts)
	if testing.Verbose() {
		t.Log(se.String())
	}
	return err
}

// TestResumeShardDeterminism: with small blocks, (1) a run interrupted after
// k blocks of work, at several k, then resumed gives the bytes of an
// uninterrupted run; (2) 1, 2 and 4 workers give the same bytes; (3) three
// shards merged give the same bytes, the merge computing no block the shards
// computed; (4) a truncated cache file is detected and recomputed.
func TestResumeShardDeterminism(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	old := blockRows
	blockRows = 64
	defer func() { blockRows = old; testHookCompute = nil }()
	tmp := t.TempDir()
	cacheDir := filepath.Join(tmp, "cache")
	cfgText := smallResumeConfig(cacheDir)

	// The reference run; it also trains and caches the model, which every
	// later run shares. Each phase below starts without cached blocks.
	refOut := filepath.Join(tmp, "ref")
	if err := runOpts(t, cfgText, refOut, RunOptions{Workers: 1, Cache: cacheDir}); err != nil {
		t.Fatal(err)
	}
	ref := runDirFiles(t, filepath.Join(refOut, "small"))
	noBlocks := func() { os.RemoveAll(filepath.Join(cacheDir, cache.KindScores)) }

	// (1) Interrupted after k computed blocks, then resumed.
	for _, k := range []int64{0, 3, 11} {
		noBlocks()
		var n atomic.Int64
		stop := errors.New("simulated crash")
		testHookCompute = func() error {
			if n.Add(1) > k {
				return stop
			}
			return nil
		}
		out := filepath.Join(tmp, "resume")
		if err := runOpts(t, cfgText, out, RunOptions{Workers: 2}); !errors.Is(err, stop) {
			t.Fatalf("k=%d: interrupted run returned %v", k, err)
		}
		testHookCompute = nil
		if err := runOpts(t, cfgText, out, RunOptions{Workers: 2}); err != nil {
			t.Fatal(err)
		}
		sameRunDirs(t, fmt.Sprintf("resumed after %d blocks", k), ref, runDirFiles(t, filepath.Join(out, "small")))
	}

	// (2) Worker counts.
	for _, w := range []int{2, 4} {
		noBlocks()
		out := filepath.Join(tmp, "w")
		if err := runOpts(t, cfgText, out, RunOptions{Workers: w}); err != nil {
			t.Fatal(err)
		}
		sameRunDirs(t, "workers", ref, runDirFiles(t, filepath.Join(out, "small")))
	}

	// (3) Three shards, then the merge: it reuses every block.
	noBlocks()
	shardCache := cacheDir
	out := filepath.Join(tmp, "sharded")
	for i := 0; i < 3; i++ {
		if err := runOpts(t, smallResumeConfig(shardCache), out, RunOptions{Workers: 2, Cache: shardCache, Shard: Shard{i, 3}}); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	cfg, _ := Parse([]byte(smallResumeConfig(shardCache)), "small.toml")
	if err := CheckShards(cfg, out, 3); err != nil {
		t.Fatal(err)
	}
	if err := CheckShards(cfg, out, 4); err == nil || !strings.Contains(err.Error(), "shards [0 1 2 3] of 4") {
		t.Errorf("CheckShards with a missing shard: %v", err)
	}
	var computed atomic.Int64
	testHookCompute = func() error { computed.Add(1); return nil }
	if err := runOpts(t, smallResumeConfig(shardCache), out, RunOptions{Workers: 1, Cache: shardCache}); err != nil {
		t.Fatal(err)
	}
	testHookCompute = nil
	if computed.Load() != 0 {
		t.Errorf("merge computed %d blocks the shards should have computed", computed.Load())
	}
	sameRunDirs(t, "3 shards merged", ref, runDirFiles(t, filepath.Join(out, "small")))

	// (4) A truncated cache file: detected, recomputed, same bytes.
	var victim string
	filepath.WalkDir(filepath.Join(shardCache, cache.KindScores), func(p string, d os.DirEntry, err error) error {
		if err == nil && victim == "" && d.Name() == "values.bin" {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no cached block found")
	}
	b, _ := os.ReadFile(victim)
	if err := os.WriteFile(victim, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	computed.Store(0)
	testHookCompute = func() error { computed.Add(1); return nil }
	if err := runOpts(t, smallResumeConfig(shardCache), out, RunOptions{Workers: 2, Cache: shardCache}); err != nil {
		t.Fatal(err)
	}
	testHookCompute = nil
	if computed.Load() != 1 {
		t.Errorf("after truncating one cached block, %d blocks were recomputed, want 1", computed.Load())
	}
	sameRunDirs(t, "after a truncated cache file", ref, runDirFiles(t, filepath.Join(out, "small")))
}

// TestKilledRunResumes kills (SIGKILL) a run in a child process while it
// writes cache entries, then runs the configuration again: the result is
// the bytes of an uninterrupted run.
func TestKilledRunResumes(t *testing.T) {
	if os.Getenv("PURVIEW_TEST_CHILD_CONFIG") != "" {
		return // the child is TestKilledRunChild
	}
	if testing.Short() {
		t.Skip("trains a model")
	}
	tmp := t.TempDir()
	cacheDir := filepath.Join(tmp, "cache")
	cfgText := smallResumeConfig(cacheDir)
	cfgPath := filepath.Join(tmp, "small.toml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	// Train and cache the model first, in-process: the kill should land in
	// the scoring, where the work is cut in blocks.
	refOut := filepath.Join(tmp, "ref")
	if err := runOpts(t, cfgText, refOut, RunOptions{Workers: 2, Cache: cacheDir}); err != nil {
		t.Fatal(err)
	}
	ref := runDirFiles(t, filepath.Join(refOut, "small"))
	os.RemoveAll(filepath.Join(cacheDir, cache.KindScores))

	out := filepath.Join(tmp, "killed")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunChild$")
	cmd.Env = append(os.Environ(), "PURVIEW_TEST_CHILD_CONFIG="+cfgPath, "PURVIEW_TEST_CHILD_OUT="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once a few blocks are in the cache (or after 60 s at most).
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		filepath.WalkDir(filepath.Join(cacheDir, cache.KindScores), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "values.bin" {
				n++
			}
			return nil
		})
		if n >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(out, "small")); err == nil {
		t.Log("the child finished before it was killed; the resume below then only rereads")
	}
	if err := runOpts(t, cfgText, out, RunOptions{Workers: 2, Cache: cacheDir}); err != nil {
		t.Fatal(err)
	}
	sameRunDirs(t, "resumed after SIGKILL", ref, runDirFiles(t, filepath.Join(out, "small")))
}

// TestKilledRunChild is the child process of TestKilledRunResumes.
func TestKilledRunChild(t *testing.T) {
	path := os.Getenv("PURVIEW_TEST_CHILD_CONFIG")
	if path == "" {
		t.Skip("child process of TestKilledRunResumes")
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	Run(context.Background(), cfg, RunOptions{Out: os.Getenv("PURVIEW_TEST_CHILD_OUT"), Workers: 2})
}

// TestUnwritableOutput: an output root that cannot hold a run directory gives
// a clear error naming it, and leaves the cache intact: the next run reuses
// every cached block.
func TestUnwritableOutput(t *testing.T) {
	tmp := t.TempDir()
	ckpt := writeCheckpoint(t, tmp)
	cfgText := "[model]\nweights = " + strconvQuote(ckpt) + `
[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
count = 100
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
samples = 100
fit_samples = 50
folds = 2
[[detector]]
type = "purview"
head = "gauss"
`
	cacheDir := filepath.Join(tmp, "cache")
	cfg, err := Parse([]byte(cfgText), "w.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), cfg, RunOptions{Out: filepath.Join(tmp, "ok"), Cache: cacheDir}); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(tmp, "file")
	os.WriteFile(blocker, []byte("not a directory"), 0o644)
	err = Run(context.Background(), cfg, RunOptions{Out: blocker, Cache: cacheDir})
	if err == nil || !strings.HasPrefix(err.Error(), "experiments: create run directory: ") || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("Run into a file: %v, want an error naming %s", err, blocker)
	}
	store, err := cache.Open(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := store.List()
	if err != nil || len(infos) == 0 {
		t.Fatalf("cache after the failed run: %d entries, %v", len(infos), err)
	}
	for _, in := range infos {
		if in.Problem != "" {
			t.Errorf("cache entry %s damaged: %s", in.Key, in.Problem)
		}
	}
	var computed atomic.Int64
	testHookCompute = func() error { computed.Add(1); return nil }
	defer func() { testHookCompute = nil }()
	if err := Run(context.Background(), cfg, RunOptions{Out: filepath.Join(tmp, "ok2"), Cache: cacheDir}); err != nil {
		t.Fatal(err)
	}
	if computed.Load() != 0 {
		t.Errorf("after the failed run, %d blocks were recomputed, want 0", computed.Load())
	}
}
