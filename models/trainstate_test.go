package models

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"
	"github.com/purview-lab/purview/datasets"
)

// cancelAfter cancels a context once n epoch lines have been logged.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	if strings.HasPrefix(string(p), "train epoch ") {
		if w.n--; w.n == 0 {
			w.cancel()
		}
	}
	return len(p), nil
}

// TestTrainStateResume: a run cancelled after epoch 1 and resumed by a fresh
// network from its state file ends with the same weights, bit for bit, as a
// run never interrupted — for Adam with dropout and weight decay, and for
// SGD with Nesterov momentum, the step schedule, warm-up, crop and flip on a
// ResNet (BatchNorm statistics).
func TestTrainStateResume(t *testing.T) {
	for _, c := range []struct {
		name string
		arch string
		set  *datasets.Set
		cfg  TrainConfig
	}{
		{"adam", ArchLeNet5Dropout, goldenSet(1, 28, 28, 160, 31),
			TrainConfig{Epochs: 3, BatchSize: 32, LearningRate: 2e-3, WeightDecay: 1e-3, Seed: 4}},
		{"sgd", ArchResNet20, goldenSet(3, 32, 32, 40, 32),
			TrainConfig{Epochs: 3, BatchSize: 16, LearningRate: 0.05, Seed: 5, Optimizer: OptimizerSGD, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4,
				Schedule: ScheduleStep, Milestones: []int{2}, WarmupEpochs: 1, Augment: []string{AugmentCrop, AugmentFlip}, CropPadding: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fresh := func(workers int) *Sequential {
				net, _ := NewNetwork(c.arch, 10, 6)
				net.SetWorkers(workers)
				return net
			}
			straight := fresh(1)
			if _, err := straight.Train(context.Background(), c.set, nil, c.cfg, nil); err != nil {
				t.Fatal(err)
			}

			cfg := c.cfg
			cfg.StatePath = filepath.Join(t.TempDir(), "run.state")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, err := fresh(1).Train(ctx, c.set, nil, cfg, &cancelAfter{n: 1, cancel: cancel})
			if !errors.Is(err, context.Canceled) || len(st) != 1 {
				t.Fatalf("interrupted run: %d epochs, %v; want 1 and context.Canceled", len(st), err)
			}

			resumed := fresh(2)
			st, err = resumed.Train(context.Background(), c.set, nil, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != 2 || st[0].Epoch != 2 || st[1].Epoch != 3 {
				t.Fatalf("resumed run reports %+v, want epochs 2 and 3", st)
			}
			if got, want := stateSum(resumed), stateSum(straight); got != want {
				t.Errorf("resumed weights %s, uninterrupted %s", got, want)
			}

			// A finished state: nothing to run, the final weights loaded.
			again := fresh(1)
			st, err = again.Train(context.Background(), c.set, nil, cfg, nil)
			if err != nil || len(st) != 0 || stateSum(again) != stateSum(straight) {
				t.Errorf("finished state: %d epochs, %v; weights equal: %v", len(st), err, stateSum(again) == stateSum(straight))
			}
		})
	}
}

// rewriteState rewrites the safetensors file at path through edit.
func rewriteState(t *testing.T, path, dst string, edit func(views map[string]safetensors.TensorView, meta map[string]string)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, meta, err := parseSafetensors(raw)
	if err != nil {
		t.Fatal(err)
	}
	views := map[string]safetensors.TensorView{}
	for _, nt := range st.Tensors() {
		views[nt.Name] = nt.TensorView
	}
	edit(views, meta)
	out, err := safetensors.Serialize(views, meta)
	if err != nil {
		t.Fatal(err)
	}
	writeBytes(t, dst, out)
}

func TestTrainStateErrors(t *testing.T) {
	set := goldenSet(1, 28, 28, 64, 41)
	cfg := TrainConfig{Epochs: 2, BatchSize: 32, LearningRate: 1e-3, Seed: 1}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	net, _ := NewNetwork(ArchLeNet5, 10, 1)
	goodCfg := cfg
	goodCfg.StatePath = good
	if _, err := net.Train(ctx, set, nil, goodCfg, &cancelAfter{n: 1, cancel: cancel}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "model.safetensors")
	if err := SaveCheckpoint(ckpt, net); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)

	type variant struct {
		name  string
		setup func(path string) // writes the state file to path
		cfg   func(c *TrainConfig)
		arch  string
		seed  uint64
		want  string
	}
	copyTo := func(b []byte) func(string) { return func(p string) { writeBytes(t, p, b) } }
	edit := func(f func(views map[string]safetensors.TensorView, meta map[string]string)) func(string) {
		return func(p string) { rewriteState(t, good, p, f) }
	}
	for _, v := range []variant{
		{name: "garbage", setup: copyTo([]byte("not a state at all")), want: "not a safetensors file"},
		{name: "empty", setup: copyTo(nil), want: "not a safetensors file"},
		{name: "truncated", setup: copyTo(raw[:len(raw)-100]), want: "not a safetensors file"},
		{name: "checkpoint", setup: func(p string) { raw, _ := os.ReadFile(ckpt); writeBytes(t, p, raw) }, want: `not a training state (format "pt", want "purview-train-state")`},
		{name: "version", setup: edit(func(_ map[string]safetensors.TensorView, m map[string]string) { m["version"] = "9" }), want: `unsupported version "9"`},
		{name: "learning rate", setup: copyTo(raw), cfg: func(c *TrainConfig) { c.LearningRate = 2e-3 }, want: "written by another run (differs in learning_rate 0.001 → 0.002); delete it to start over"},
		{name: "recipe", setup: copyTo(raw), cfg: func(c *TrainConfig) { c.Optimizer, c.Augment = OptimizerSGD, []string{AugmentFlip} },
			want: "differs in optimizer adam → sgd, momentum unset → 0, nesterov unset → false, augment none → flip, beta1 0.9 → unset, beta2 0.999 → unset, eps 1e-08 → unset"},
		{name: "initial weights", setup: copyTo(raw), seed: 2, want: "differs in initial_weights "},
		{name: "architecture", setup: copyTo(raw), arch: ArchLeNet5Dropout, want: "holds a lenet5, the network is a lenet5-dropout"},
		{name: "epoch", setup: edit(func(_ map[string]safetensors.TensorView, m map[string]string) { m["epoch"] = "3" }), want: `epoch "3", want 1…2`},
		{name: "step", setup: edit(func(_ map[string]safetensors.TensorView, m map[string]string) { m["step"] = "1" }), want: `step "1", want 2 after 1 epochs of 2 steps`},
		{name: "rng", setup: edit(func(_ map[string]safetensors.TensorView, m map[string]string) { m["rng.dropout"] = "7063673a00" }), want: "metadata rng.dropout: not a PCG state"},
		{name: "rng hex", setup: edit(func(_ map[string]safetensors.TensorView, m map[string]string) { delete(m, "rng.shuffle") }), want: "metadata rng.shuffle: not a PCG state"},
		{name: "tensors", setup: edit(func(v map[string]safetensors.TensorView, _ map[string]string) {
			delete(v, "optim.m2.fc3.bias")
			v["extra"] = v["fc3.bias"]
			v["conv1.bias"] = v["fc3.bias"]
		}), want: "tensors do not fit: conv1.bias is F32 [10], want F32 [6]; missing optim.m2.fc3.bias; unexpected extra"},
		{name: "perm", setup: edit(func(v map[string]safetensors.TensorView, _ map[string]string) {
			b := make([]byte, 8*64)
			binary.LittleEndian.PutUint64(b[8:], 5) // 0, 5, 0, …
			v[statePerm], _ = safetensors.NewTensorView(safetensors.I64, []uint64{64}, b)
		}), want: "train.perm is not a permutation of 0…63"},
		{name: "perm range", setup: edit(func(v map[string]safetensors.TensorView, _ map[string]string) {
			b := make([]byte, 8*64)
			binary.LittleEndian.PutUint64(b, 1<<63)
			v[statePerm], _ = safetensors.NewTensorView(safetensors.I64, []uint64{64}, b)
		}), want: "train.perm is not a permutation of 0…63"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(v.name, " ", "_")+".state")
		v.setup(path)
		c := cfg
		c.StatePath = path
		if v.cfg != nil {
			v.cfg(&c)
		}
		arch, seed := ArchLeNet5, uint64(1)
		if v.arch != "" {
			arch = v.arch
		}
		if v.seed != 0 {
			seed = v.seed
		}
		n, _ := NewNetwork(arch, 10, seed)
		before := stateSum(n)
		st, err := n.Train(context.Background(), set, nil, c, nil)
		t.Logf("%s: %v", v.name, err)
		prefix := "models: training state " + path + ": "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), v.want) {
			t.Errorf("%s: Train = %v, want %q…%q", v.name, err, prefix, v.want)
		}
		if st != nil || stateSum(n) != before {
			t.Errorf("%s: a refused state changed the network or ran epochs", v.name)
		}
	}

	// The unmodified state resumes.
	n, _ := NewNetwork(ArchLeNet5, 10, 1)
	if st, err := n.Train(context.Background(), set, nil, goodCfg, nil); err != nil || len(st) != 1 {
		t.Errorf("good state: %d epochs, %v", len(st), err)
	}
	// A state path that cannot be read or written.
	for _, c := range []struct{ path, want string }{
		{dir, "is a directory"},
		{filepath.Join(dir, "no", "such", "dir", "x.state"), "no such file or directory"},
	} {
		bad := cfg
		bad.StatePath = c.path
		n, _ := NewNetwork(ArchLeNet5, 10, 1)
		if _, err := n.Train(context.Background(), set, nil, bad, nil); err == nil || !strings.HasPrefix(err.Error(), "models: training state") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("state path %s: %v, want %q", c.path, err, c.want)
		}
	}
}
