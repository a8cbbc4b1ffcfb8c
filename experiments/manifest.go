package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/purview-lab/purview/internal/atomicfile"
	"github.com/purview-lab/purview/models"
)

// ManifestFile is the manifest's file name inside the run directory.
//
// manifest.json is the one output allowed to differ between two runs of the
// same configuration: it records wall-clock times and durations. Every other
// file of a run must be byte-identical across runs and worker counts.
const ManifestFile = "manifest.json"

// Manifest records how a run was made: the program and its dependencies, the
// machine, the configuration, the times and the outputs. Its JSON encoding has
// a fixed field order (the declaration order below).
type Manifest struct {
	Version   string `json:"purview_version"` // main module version from the build info, or "devel"
	GoVersion string `json:"go_version"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"` // runtime.NumCPU
	// BuildSettings holds the build info's settings (-tags, CGO_ENABLED,
	// GOAMD64, GOEXPERIMENT, vcs.*), which can change numerical results.
	BuildSettings map[string]string `json:"build_settings"`
	Dependencies  []Dependency      `json:"dependencies"` // sorted by path

	Seed         int64  `json:"seed"`          // the configuration's master seed
	ConfigFile   string `json:"config_file"`   // as given on the command line
	ConfigSHA256 string `json:"config_sha256"` // of the file's bytes
	// GitDescribe is `git describe --always --dirty` run in the current
	// directory; "" when that is not a git checkout or git is missing.
	GitDescribe string `json:"git_describe"`

	Start  string  `json:"start"` // RFC 3339, UTC
	End    string  `json:"end"`   // RFC 3339, UTC; "" until Finish
	Phases []Phase `json:"phases"`
	// Model describes the network the detectors probed.
	Model *ModelSummary `json:"model,omitempty"`
	// Claim is the headline claim of [paper] beside the measured one; nil
	// without a [paper] table.
	Claim *Claim `json:"claim,omitempty"`
	// Outputs lists the files the run wrote, relative to the run directory, sorted.
	Outputs []string `json:"outputs"`

	mu sync.Mutex
}

// ModelSummary says which weights a run used and how well they classify.
type ModelSummary struct {
	Arch    string `json:"arch"`
	Classes int    `json:"classes"`
	// Weights is the safetensors file the weights came from: the configured
	// model.weights, or model.safetensors of the training cache entry.
	Weights       string `json:"weights"`
	WeightsSHA256 string `json:"weights_sha256,omitempty"` // of the file's bytes, hex
	// NameMap is the name map model.weights was loaded under (see
	// models.LoadWeights); "" for a trained model.
	NameMap string `json:"name_map,omitempty"`
	// Mean and Std are the network's input normalisation; omitted when it has none.
	Mean       []float64 `json:"mean,omitempty"`
	Std        []float64 `json:"std,omitempty"`
	Accuracy   *float64  `json:"accuracy,omitempty"` // top-1 accuracy on AccuracyOn (a fraction); nil when that set has no labels
	AccuracyOn string    `json:"accuracy_on"`        // the full in-distribution split
}

func newModelSummary(net *models.Sequential, src modelSource) *ModelSummary {
	mean, std := net.Normalization()
	return &ModelSummary{Arch: net.Arch(), Classes: net.Classes(), Weights: src.weights, WeightsSHA256: src.sha256, NameMap: src.nameMap, Mean: mean, Std: std}
}

// Dependency is one module the binary was built with.
type Dependency struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Replace string `json:"replace,omitempty"` // "path version" of a replacement
}

// Phase is the wall-clock time spent in a named phase (train, score, metrics,
// report), in seconds.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// NewManifest starts a manifest for a run of cfg begun at start. It reads the
// build info and runs git; neither can fail the run.
func NewManifest(cfg *Config, start time.Time) *Manifest {
	m := &Manifest{
		Version:       "devel",
		GoVersion:     runtime.Version(),
		GOOS:          runtime.GOOS,
		GOARCH:        runtime.GOARCH,
		CPUs:          runtime.NumCPU(),
		BuildSettings: map[string]string{},
		Dependencies:  []Dependency{},
		Seed:          cfg.MasterSeed,
		ConfigFile:    cfg.File,
		ConfigSHA256:  configSHA(cfg),
		GitDescribe:   gitDescribe(),
		Start:         start.UTC().Format(time.RFC3339),
		Phases:        []Phase{},
		Outputs:       []string{},
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			m.Version = v
		}
		if bi.GoVersion != "" {
			m.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			m.BuildSettings[s.Key] = s.Value
		}
		for _, d := range bi.Deps {
			dep := Dependency{Path: d.Path, Version: d.Version}
			if d.Replace != nil {
				dep.Replace = strings.TrimSpace(d.Replace.Path + " " + d.Replace.Version)
			}
			m.Dependencies = append(m.Dependencies, dep)
		}
		slices.SortFunc(m.Dependencies, func(a, b Dependency) int { return strings.Compare(a.Path, b.Path) })
	}
	return m
}

// gitDescribe returns `git describe --always --dirty` of the current
// directory, or "" on any failure (no git, not a checkout, no commit yet).
func gitDescribe() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(out))
}

// AddPhase adds d to the time of the named phase (a phase recorded twice
// accumulates). Phases keep the order in which they were first recorded.
func (m *Manifest) AddPhase(name string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.Phases {
		if m.Phases[i].Name == name {
			m.Phases[i].Seconds += d.Seconds()
			return
		}
	}
	m.Phases = append(m.Phases, Phase{name, d.Seconds()})
}

// Time starts timing a phase and returns the function that stops it:
//
//	defer m.Time("score")()
func (m *Manifest) Time(name string) func() {
	t0 := time.Now()
	return func() { m.AddPhase(name, time.Since(t0)) }
}

// AddOutput records files the run wrote, relative to the run directory.
// Duplicates are dropped; the list stays sorted.
func (m *Manifest) AddOutput(names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if i, found := slices.BinarySearch(m.Outputs, n); !found {
			m.Outputs = slices.Insert(m.Outputs, i, n)
		}
	}
}

// Finish records the end time.
func (m *Manifest) Finish(end time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.End = end.UTC().Format(time.RFC3339)
}

// JSON returns the manifest as indented JSON ending in a newline.
func (m *Manifest) JSON() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil { // only strings, ints and finite floats: cannot happen
		panic(fmt.Sprintf("experiments: encoding manifest: %v", err))
	}
	return append(b, '\n')
}

// Write writes dir/manifest.json atomically.
func (m *Manifest) Write(dir string) error {
	return atomicfile.WriteFile(filepath.Join(dir, ManifestFile), m.JSON())
}
