package experiments

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/purview-lab/purview/detectors"
	"github.com/purview-lab/purview/metrics"
	"github.com/purview-lab/purview/models"
	"github.com/purview-lab/purview/report"
)

// smallConfig is a complete experiment small enough for the test suite: a
// LeNet-5 trained for two epochs on 5,000 MNIST images, probed against two
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
schedule = "constant"
learning_rate = 2e-3

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
	if man.Model != nil && man.Model.Accuracy != nil {
		t.Logf("accuracy after two epochs on 5000 images: %.4f", *man.Model.Accuracy)
	}
	if man.Model == nil || man.Model.Accuracy == nil || *man.Model.Accuracy < 0.9 {
		acc := math.NaN()
		if man.Model != nil && man.Model.Accuracy != nil {
			acc = *man.Model.Accuracy
		}
		t.Errorf("manifest model summary %+v (accuracy %v): want accuracy ≥ 0.9 after two epochs on 5000 images", man.Model, acc)
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
	// Every cell's AUROC is recomputed from the rows of its pair.
	col := map[string]int{}
	for j, h := range rows[0] {
		col[h] = j
	}
	for _, c := range table.Cells {
		var normal, anom []float64
		for _, r := range rows[1:] {
			if r[0] != c.Set {
				continue
			}
			v, err := strconv.ParseFloat(r[col[c.Detector]], 64)
			if err != nil {
				t.Fatal(err)
			}
			if r[4] == "1" {
				anom = append(anom, v)
			} else {
				normal = append(normal, v)
			}
		}
		if auc, err := metrics.AUROC(normal, anom); err != nil || auc != c.Metrics.AUROC {
			t.Errorf("%s on %s: table AUROC %v, recomputed from scores.csv %v (%v)", c.Detector, c.Set, c.Metrics.AUROC, auc, err)
		}
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
weights = "CKPT"
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
	err = Run(context.Background(), cfg, RunOptions{Out: tmp, Cache: filepath.Join(tmp, "cache")})
	if err == nil || !strings.Contains(err.Error(), `two detectors are named "purview-sum"`) {
		t.Errorf("Run = %v, want the duplicate-name error", err)
	}
}

// writeCheckpoint saves an untrained LeNet-5 for configs that need weights.
func writeCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	net, err := models.NewNetwork(models.ArchLeNet5, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lenet.safetensors")
	if err := models.SaveCheckpoint(path, net); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeIDX writes n zero images of h×w and their labels as raw IDX files.
func writeIDX(t *testing.T, dir string, n, h, w int) (images, labels string) {
	t.Helper()
	img := []byte{0, 0, 8, 3, 0, 0, 0, byte(n), 0, 0, 0, byte(h), 0, 0, 0, byte(w)}
	img = append(img, make([]byte, n*h*w)...)
	lab := append([]byte{0, 0, 8, 1, 0, 0, 0, byte(n)}, make([]byte, n)...)
	images, labels = filepath.Join(dir, "img.idx"), filepath.Join(dir, "lab.idx")
	if err := os.WriteFile(images, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(labels, lab, 0o644); err != nil {
		t.Fatal(err)
	}
	return images, labels
}

// TestCheckCatchesBeforeTraining: mistakes that only show when data is read
// are reported by Check (and so by validate, and by run before training),
// naming the config line and key.
func TestCheckCatchesBeforeTraining(t *testing.T) {
	tmp := t.TempDir()
	ckpt := writeCheckpoint(t, tmp)
	img, lab := writeIDX(t, tmp, 3, 14, 14)
	head := "[model]\nweights = " + strconvQuote(ckpt) + `
[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[datasets.small]
kind = "idx"
images = ` + strconvQuote(img) + "\nlabels = " + strconvQuote(lab) + "\n"
	for _, c := range []struct{ name, eval, want string }{
		{"missing split", `in_dist = "mnist:test"
anomalies = ["mnist"]`, `c.toml:13: evaluate.anomalies[0]: dataset "mnist" (mnist) has no split ""; its splits are train, test (write e.g. "mnist:test")`},
		{"split of a set without splits", `in_dist = "mnist:test"
anomalies = ["noise:test"]`, `c.toml:13: evaluate.anomalies[0]: dataset "noise" (uniform-noise) has no splits; refer to it as "noise"`},
		{"image shape", `in_dist = "mnist:test"
anomalies = ["small"]`, `c.toml:13: evaluate.anomalies[0]: small has 1x14x14 images; model lenet5 takes 1x28x28 (add e.g. adapt = ["channels", "resize"] to [datasets.small])`},
		{"fewer samples than folds", `in_dist = "mnist:test"
anomalies = ["noise"]
samples = 3
folds = 4`, `c.toml:15: evaluate.folds: 4-fold cross-validation of purview-logreg needs at least 4 samples per set; mnist:test has 3`},
	} {
		src := head + "[evaluate]\n" + c.eval + "\n[[detector]]\ntype = \"purview\"\n"
		cfg, err := Parse([]byte(src), "c.toml")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := Check(cfg); err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.name, err, c.want)
		}
	}
}

func strconvQuote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

// nanDetector scores sample 3 of every set NaN: the run must stop and name
// the detector, the set, the sample and its index in the source dataset.
type nanDetector struct{ kind detectors.Kind }

func (nanDetector) Name() string                { return "nan" }
func (d nanDetector) Kind() detectors.Kind      { return d.kind }
func (d nanDetector) NeedsFit() bool            { return false }
func (nanDetector) Fit(detectors.FitData) error { return nil }
func (nanDetector) Score(p detectors.Probe) ([]float64, error) {
	s := make([]float64, p.Len())
	for i := range s {
		s[i] = float64(i)
	}
	if len(s) > 3 {
		s[3] = math.NaN()
	}
	return s, nil
}

func init() {
	detectors.Register("test-nan", "test only", func(detectors.Env, detectors.Decoder) (detectors.Detector, error) {
		return nanDetector{detectors.Unsupervised}, nil
	})
	detectors.Register("test-nan-supervised", "test only", func(detectors.Env, detectors.Decoder) (detectors.Detector, error) {
		return nanDetector{detectors.Supervised}, nil
	})
}

func TestRunNamesNonFiniteScore(t *testing.T) {
	tmp := t.TempDir()
	ckpt := writeCheckpoint(t, tmp)
	for _, typ := range []string{"test-nan", "test-nan-supervised"} {
		src := "[model]\nweights = " + strconvQuote(ckpt) + `
[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
count = 50
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
samples = 20
fit_samples = 10
folds = 2
[[detector]]
type = "` + typ + "\"\n"
		cfg, err := Parse([]byte(src), "nan.toml")
		if err != nil {
			t.Fatal(err)
		}
		err = Run(context.Background(), cfg, RunOptions{Out: tmp, Cache: filepath.Join(tmp, "cache")})
		// Supervised scores come per fold: sample 3 of a fold is some other sample of the set.
		re := regexp.MustCompile(`^detector nan gave a NaN score to sample \d+ of mnist:test \(dataset index \d+\)$`)
		if typ == "test-nan" {
			re = regexp.MustCompile(`^detector nan gave a NaN score to sample 3 of mnist:test \(dataset index \d+\)$`)
		}
		if err == nil || !re.MatchString(err.Error()) {
			t.Errorf("%s: Run = %v, want an error naming the detector and the sample", typ, err)
		}
	}
}
