package experiments

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCreateRunDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runs")
	final := filepath.Join(root, "mnist")
	write := func(d *RunDir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(d.Path, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []string {
		var names []string
		entries, _ := os.ReadDir(final)
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	// A first run appears only when committed.
	d, err := CreateRunDir(root, "mnist")
	if err != nil {
		t.Fatal(err)
	}
	write(d, "table.csv", "first")
	write(d, "roc_old.png", "x")
	if _, err := os.Stat(final); err == nil {
		t.Fatal("run directory visible before Commit")
	}
	if err := d.Commit(); err != nil || d.Final() != final {
		t.Fatal(err, d.Final())
	}
	// A failed second run leaves the first intact.
	d2, _ := CreateRunDir(root, "mnist")
	write(d2, "table.csv", "half")
	d2.Discard()
	if b, _ := os.ReadFile(filepath.Join(final, "table.csv")); string(b) != "first" {
		t.Errorf("a discarded run changed the results: %q", b)
	}
	// A committed third run replaces the first whole: no stale files.
	d3, _ := CreateRunDir(root, "mnist")
	write(d3, "table.csv", "third")
	if err := d3.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := list(); !slices.Equal(got, []string{"table.csv"}) {
		t.Errorf("run directory holds %v, want only the new run's files", got)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("temporary directories left in %s: %v", root, entries)
	}
	for _, bad := range []string{"", "..", "../x", "a/b", ".hidden", "-x", "a b"} {
		if _, err := CreateRunDir(root, bad); err == nil || !strings.HasPrefix(err.Error(), "experiments: run name ") {
			t.Errorf("CreateRunDir(%q) error = %v, want an unsafe-name error", bad, err)
		}
	}
}

func TestManifest(t *testing.T) {
	t.Chdir(t.TempDir()) // not a git checkout: git_describe must be "" and no error
	cfg, err := Parse([]byte(minimal), "configs/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MasterSeed = 7
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	m := NewManifest(cfg, start)
	m.AddPhase("train", 1500*time.Millisecond)
	m.AddPhase("score", 2*time.Second)
	m.AddPhase("train", 500*time.Millisecond) // accumulates, keeps its place
	stop := m.Time("report")
	stop()
	m.AddOutput("table.md", "manifest.json", "table.csv", "table.md")
	m.Finish(start.Add(90 * time.Second))

	dir := t.TempDir()
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, m.JSON()) {
		t.Errorf("manifest.json differs from JSON()")
	}

	// Field order is fixed.
	var order []string
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		order = append(order, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	wantOrder := "purview_version go_version goos goarch cpus build_settings dependencies seed config_file config_sha256 git_describe start end phases outputs"
	if got := strings.Join(order, " "); got != wantOrder {
		t.Errorf("fields\n got %s\nwant %s", got, wantOrder)
	}

	var got struct {
		Version      string `json:"purview_version"`
		GoVersion    string `json:"go_version"`
		GOOS, GOARCH string
		CPUs         int
		Dependencies []Dependency
		Seed         int64
		ConfigFile   string  `json:"config_file"`
		ConfigSHA256 string  `json:"config_sha256"`
		GitDescribe  *string `json:"git_describe"`
		Start, End   string
		Phases       []Phase
		Outputs      []string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "devel" || got.GoVersion != runtime.Version() || got.GOOS != runtime.GOOS ||
		got.GOARCH != runtime.GOARCH || got.CPUs != runtime.NumCPU() {
		t.Errorf("build fields = %+v", got)
	}
	if got.Seed != 7 || got.ConfigFile != "configs/small.toml" {
		t.Errorf("seed, config = %d, %q", got.Seed, got.ConfigFile)
	}
	// sha256 of the minimal configuration's bytes, from sha256sum.
	if got.ConfigSHA256 != "a9484521e3fece4c57ed958bc8b17874bb84264d8f3060b2a820cce5e2de4e87" {
		t.Errorf("config_sha256 = %s", got.ConfigSHA256)
	}
	if got.GitDescribe == nil || *got.GitDescribe != "" {
		t.Errorf("git_describe = %v, want \"\" outside a git checkout", got.GitDescribe)
	}
	if got.Start != "2025-03-01T11:00:00Z" || got.End != "2025-03-01T11:01:30Z" {
		t.Errorf("times = %s, %s; want UTC RFC 3339", got.Start, got.End)
	}
	if len(got.Phases) != 3 || got.Phases[0] != (Phase{"train", 2}) || got.Phases[1] != (Phase{"score", 2}) || got.Phases[2].Name != "report" {
		t.Errorf("phases = %+v", got.Phases)
	}
	if strings.Join(got.Outputs, " ") != "manifest.json table.csv table.md" {
		t.Errorf("outputs = %v", got.Outputs)
	}
	if !slices.IsSortedFunc(got.Dependencies, func(a, b Dependency) int { return strings.Compare(a.Path, b.Path) }) {
		t.Errorf("dependencies not sorted")
	}
}
