package experiments

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/models"
	"github.com/purview-lab/purview/report"
)

// smallConfig is a complete experiment small enough for the test suite: a
// LeNet-5 trained for one epoch on 3,000 MNIST images, probed against two
// noise sets with every detector.
const smallConfig = `
name = "small"
seed = 7
workers = 1

[model]
arch = "lenet5"
cache = "CACHE"

[train]
epochs = 2
samples = 5000

[datasets.mnist]
kind = "mnist"
[datasets.uniform]
kind = "uniform-noise"
count = 500
[datasets.gaussian]
kind = "gaussian-noise"
count = 500

[evaluate]
in_dist = "mnist:test"
fit_samples = 300
anomalies = ["uniform", "gaussian"]
samples = 150
folds = 3

[[detector]]
type = "msp"
[[detector]]
type = "maxlogit"
[[detector]]
type = "energy"
[[detector]]
type = "gradnorm"
[[detector]]
type = "purview"
head = "sum"
[[detector]]
type = "purview"
head = "gauss"
[[detector]]
type = "purview"
head = "logreg"
`

func runSmall(t *testing.T, cfgText, out string, workers int) (stdout, stderr string) {
	t.Helper()
	cfg, err := Parse([]byte(cfgText), filepath.Join(out, "small.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if err := Run(context.Background(), cfg, RunOptions{Out: out, Workers: workers, Stdout: &so, Stderr: &se}); err != nil {
		t.Fatalf("Run: %v\n%s", err, se.String())
	}
	return so.String(), se.String()
}

// TestRunEndToEnd runs a whole experiment twice, with 1 and 2 workers: every
// output file is written, the second run reuses the cached model, and every
// file but the manifest is byte-identical between the runs.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	tmp := t.TempDir()
	cfgText := strings.ReplaceAll(smallConfig, "CACHE", filepath.Join(tmp, "cache"))
	outA, outB := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	stdout, stderr := runSmall(t, cfgText, outA, 1)
	if !strings.Contains(stderr, "training on mnist:train (5000 images, 2 epochs)") {
		t.Errorf("first run did not train:\n%s", stderr)
	}
	for _, want := range []string{"| purview-logreg", "uniform", "gaussian", "results in"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	_, stderr2 := runSmall(t, cfgText, outB, 2)
	if !strings.Contains(stderr2, "cached weights") {
		t.Errorf("second run retrained instead of using the cache:\n%s", stderr2)
	}

	dirA, dirB := filepath.Join(outA, "small"), filepath.Join(outB, "small")
	wantFiles := []string{"config.toml", "features.json", "features.npy", "features.png", "features.svg", "manifest.json",
		"model.safetensors", "roc_gaussian.png", "roc_gaussian.svg", "roc_uniform.png", "roc_uniform.svg", "scores.csv",
		"table.csv", "table.json", "table.md", "table.tex", "train_log.json"}
	var got []string
	entries, _ := os.ReadDir(dirA)
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, wantFiles) {
		t.Errorf("run directory holds %v, want %v", got, wantFiles)
	}
	var man Manifest
	if b, err := os.ReadFile(filepath.Join(dirA, ManifestFile)); err != nil || json.Unmarshal(b, &man) != nil {
		t.Fatalf("manifest unreadable: %v", err)
	}
	if !slices.Equal(man.Outputs, wantFiles) {
		t.Errorf("manifest lists %v, want %v", man.Outputs, wantFiles)
	}
	if man.Model == nil || man.Model.Accuracy == nil || *man.Model.Accuracy < 0.9 {
		t.Errorf("manifest model summary %+v: want accuracy ≥ 0.9 after two epochs on 5000 images", man.Model)
	}
	for _, f := range wantFiles {
		if f == ManifestFile {
			continue
		}
		a, _ := os.ReadFile(filepath.Join(dirA, f))
		b, _ := os.ReadFile(filepath.Join(dirB, f))
		if f != "train_log.json" && !bytes.Equal(a, b) { // the log holds timings
			t.Errorf("%s differs between a run with 1 worker and one with 2", f)
		}
	}

	// The table agrees with the per-sample scores it was computed from.
	tb, err := os.Open(filepath.Join(dirA, "table.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	table, err := report.ReadJSON(tb)
	if err != nil {
		t.Fatal(err)
	}
	wantDet := []string{"msp", "maxlogit", "energy", "gradnorm", "purview-sum", "purview-gauss", "purview-logreg"}
	if !slices.Equal(table.Detectors, wantDet) {
		t.Errorf("detectors %v, want %v", table.Detectors, wantDet)
	}
	f, _ := os.Open(filepath.Join(dirA, "scores.csv"))
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{"pair", "set", "index", "label", "anomalous"}, wantDet...); !slices.Equal(rows[0], want) {
		t.Errorf("scores.csv header %v, want %v", rows[0], want)
	}
	if len(rows) != 1+2*(150+150) {
		t.Errorf("scores.csv has %d rows, want %d", len(rows), 1+2*300)
	}
	for _, c := range table.Cells {
		if c.Metrics.Normal != 150 || c.Metrics.Anomalous != 150 {
			t.Errorf("%s on %s: %d normal, %d anomalous samples, want 150 each", c.Detector, c.Set, c.Metrics.Normal, c.Metrics.Anomalous)
		}
		if c.Supervised != (c.Detector == "purview-logreg") || (c.Supervised && len(c.FoldAUROC) != 3) {
			t.Errorf("%s: supervised %v with %d folds", c.Detector, c.Supervised, len(c.FoldAUROC))
		}
		// Noise is far from digits: even this briefly trained model's
		// gradient features separate it.
		if min := map[string]float64{"purview-logreg": 0.95, "purview-gauss": 0.9}[c.Detector]; c.Metrics.AUROC < min {
			t.Errorf("%s on %s: AUROC %.3f, want ≥ %v", c.Detector, c.Set, c.Metrics.AUROC, min)
		}
	}
}

// TestRunRejectsDuplicateDerivedNames: two detectors whose derived names
// collide are refused before anything is computed.
func TestRunRejectsDuplicateDerivedNames(t *testing.T) {
	tmp := t.TempDir()
	cfgText := `
[model]
checkpoint = "CKPT"
[datasets.mnist]
kind = "mnist"
[datasets.uniform]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = ["uniform"]
[[detector]]
type = "purview"
head = "sum"
[[detector]]
type = "purview"
head = "sum"
`
	net, err := models.NewNetwork(models.ArchLeNet5, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tmp, "lenet.safetensors")
	if err := models.SaveCheckpoint(ckpt, net); err != nil {
		t.Fatal(err)
	}
	cfgText = strings.ReplaceAll(cfgText, "CKPT", ckpt)
	cfg, err := Parse([]byte(cfgText), "dup.toml")
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), cfg, RunOptions{Out: tmp})
	if err == nil || !strings.Contains(err.Error(), `two detectors are named "purview-sum"`) {
		t.Errorf("Run = %v, want the duplicate-name error", err)
	}
}
