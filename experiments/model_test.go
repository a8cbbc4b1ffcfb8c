package experiments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/purview-lab/purview/internal/cache"
	"github.com/purview-lab/purview/models"
)

// resumeConfig trains a LeNet-5 for 3 short epochs on 256 MNIST images with
// most of the new recipe keys, so a resumed run exercises the state of SGD
// momentum, the step schedule and the augmentation stream.
const resumeConfig = `name = "resume"
seed = 3
[model]
arch = "lenet5"
[train]
samples = 256
epochs = 3
batch_size = 32
learning_rate = 0.05
optimizer = "sgd"
momentum = 0.9
nesterov = true
weight_decay = 5e-4
schedule = "step"
milestones = [2]
gamma = 0.5
augment = ["crop", "flip"]
crop_padding = 2
[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
count = 10
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
[[detector]]
type = "msp"
`

// cancelAfter cancels a context once the training log reports an epoch.
type cancelAfter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.cancel()
	}
	return len(p), nil
}

// TestTrainingResumes interrupts training after its first epoch, runs it
// again, and gets the weights of an uninterrupted run bit for bit, the full
// training log, and no state file left behind.
func TestTrainingResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	tmp := t.TempDir()
	cfg, err := Parse([]byte(resumeConfig), "resume.toml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := newSetup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	open := func(name string) *cache.Store {
		s, err := cache.Open(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ref, refStats, refSrc, err := st.plan.build(context.Background(), cfg, open("ref"), nil, 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(refStats) != 3 {
		t.Fatalf("uninterrupted run: %d epochs of stats", len(refStats))
	}

	store := open("resumed")
	state := trainStatePath(store, st.plan.key)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAfter{marker: "train epoch 1/3:", cancel: cancel}
	if _, _, _, err := st.plan.build(ctx, cfg, store, nil, 1, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted build: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no training state after the interruption: %v", err)
	}
	if _, ok, _ := store.Get(st.plan.key); ok {
		t.Fatalf("an interrupted training left a cache entry")
	}

	var log bytes.Buffer
	net, stats, src, err := st.plan.build(context.Background(), cfg, store, nil, 2, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming from "+state+" after epoch 1/3") {
		t.Errorf("the second run did not resume:\n%s", log.String())
	}
	if !reflect.DeepEqual(net.StateDict(), ref.StateDict()) {
		t.Errorf("resumed weights differ from an uninterrupted run's")
	}
	if src.sha256 != refSrc.sha256 || src.sha256 == "" {
		t.Errorf("cached model.safetensors: sha256 %s, uninterrupted %s", src.sha256, refSrc.sha256)
	}
	var epochs []int
	for _, s := range stats {
		epochs = append(epochs, s.Epoch)
	}
	if !reflect.DeepEqual(epochs, []int{1, 2, 3}) || stats[0].Loss != refStats[0].Loss || stats[2].Loss != refStats[2].Loss {
		t.Errorf("training log epochs %v (losses %v, %v; uninterrupted %v, %v)", epochs, stats[0].Loss, stats[len(stats)-1].Loss, refStats[0].Loss, refStats[2].Loss)
	}
	for _, f := range []string{state, state + ".log.json"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after the model was cached (%v)", f, err)
		}
	}

	// LoadModel (purview export) reads the same cache entry.
	var exportLog bytes.Buffer
	got, sum, err := LoadModel(context.Background(), cfg, RunOptions{Cache: filepath.Join(tmp, "ref"), Stderr: &exportLog})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.StateDict(), ref.StateDict()) || sum.Weights != refSrc.weights || sum.WeightsSHA256 != refSrc.sha256 ||
		filepath.Base(sum.Weights) != "model.safetensors" || !strings.Contains(exportLog.String(), "cached weights") {
		t.Errorf("LoadModel: summary %+v, log %q; want the cached weights %s", sum, exportLog.String(), refSrc.weights)
	}
}

// TestWeights loads model.weights: the class count must match the data,
// the normalisation comes from the file unless the config sets one, and a
// run records the file, its SHA-256 and the name map, and writes the
// headline claim of [paper].
func TestWeights(t *testing.T) {
	tmp := t.TempDir()
	save := func(name string, sp models.Spec) (string, string) {
		net, err := models.New(sp)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(tmp, name)
		if err := models.SaveCheckpoint(path, net); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		sum := sha256.Sum256(b)
		return path, hex.EncodeToString(sum[:])
	}
	w10, sum10 := save("lenet10.safetensors", models.Spec{Arch: "lenet5", Classes: 10, Seed: 1, Mean: []float64{0.1307}, Std: []float64{0.3081}})
	w100, _ := save("lenet100.safetensors", models.Spec{Arch: "lenet5", Classes: 100, Seed: 1})
	body := `
[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
count = 60
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
samples = 60
fit_samples = 60
folds = 2
[[detector]]
type = "msp"
[[detector]]
type = "purview"
head = "sum"
[paper]
claim = "ood"
`
	parse := func(model string) *Config {
		t.Helper()
		cfg, err := Parse([]byte("[model]\n"+model+body), "w.toml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	cfg := parse("weights = " + strconvQuote(w100) + "\n")
	want := "w.toml:2: model.weights: " + w100 + " holds a 100-class classifier, but the in-distribution set mnist:test has 10 classes (labels 0–9)"
	if err := Check(cfg); err == nil || err.Error() != want {
		t.Errorf("100 classes on MNIST:\n got %v\nwant %s", err, want)
	}

	// The file's normalisation, unless the config names one.
	net, sum, err := LoadModel(context.Background(), parse("weights = "+strconvQuote(w10)+"\n"), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m, s := net.Normalization(); !reflect.DeepEqual(m, []float64{0.1307}) || !reflect.DeepEqual(s, []float64{0.3081}) {
		t.Errorf("normalisation from the file: %v %v", m, s)
	}
	wantSum := &ModelSummary{Arch: "lenet5", Classes: 10, Weights: w10, WeightsSHA256: sum10, NameMap: "none", Mean: []float64{0.1307}, Std: []float64{0.3081}}
	if !reflect.DeepEqual(sum, wantSum) {
		t.Errorf("summary %+v, want %+v", sum, wantSum)
	}
	net, _, err = LoadModel(context.Background(), parse("weights = "+strconvQuote(w10)+"\nmean = [0.5]\nstd = [0.25]\n"), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m, s := net.Normalization(); !reflect.DeepEqual(m, []float64{0.5}) || !reflect.DeepEqual(s, []float64{0.25}) {
		t.Errorf("normalisation from the config: %v %v", m, s)
	}

	// A run: the manifest names the weights, and the claim is written.
	cfg = parse("weights = " + strconvQuote(w10) + "\n")
	var so bytes.Buffer
	out := filepath.Join(tmp, "runs")
	if err := Run(context.Background(), cfg, RunOptions{Out: out, Cache: filepath.Join(tmp, "cache"), Workers: 1, Stdout: &so}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(out, "w")
	var man Manifest
	if b, err := os.ReadFile(filepath.Join(dir, ManifestFile)); err != nil || json.Unmarshal(b, &man) != nil {
		t.Fatalf("manifest: %v", err)
	}
	if man.Model == nil || man.Model.Weights != w10 || man.Model.WeightsSHA256 != sum10 || man.Model.NameMap != "none" {
		t.Errorf("manifest model %+v", man.Model)
	}
	if man.Claim == nil || man.Claim.Protocol != "ood" || len(man.Claim.Tasks) != 1 || man.Claim.Tasks[0].Task != "noise" ||
		man.Claim.Tasks[0].Purview != "purview-sum" || man.Claim.Tasks[0].Baseline != "msp" {
		t.Errorf("manifest claim %+v", man.Claim)
	}
	md, err := os.ReadFile(filepath.Join(dir, "claims.md"))
	if err != nil || !strings.Contains(string(md), "| noise | purview-sum | ") {
		t.Errorf("claims.md: %v\n%s", err, md)
	}
	if _, err := os.Stat(filepath.Join(dir, "claims.json")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(so.String(), "headline claim (out-of-distribution detection): paper: purview beats the best baseline by up to +2.7 AUROC points; measured: up to ") {
		t.Errorf("stdout lacks the claim:\n%s", so.String())
	}
	for _, f := range []string{"claims.md", "claims.json"} {
		if !strings.Contains(strings.Join(man.Outputs, " "), f) {
			t.Errorf("manifest outputs %v lack %s", man.Outputs, f)
		}
	}
}
