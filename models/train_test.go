package models

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/internal/kernels"
)

func TestScheduleLearningRates(t *testing.T) {
	const steps = 10 // batches per epoch
	cos := TrainConfig{Epochs: 10, LearningRate: 1e-3, Schedule: ScheduleCosine}
	step := TrainConfig{Epochs: 4, LearningRate: 0.1, Schedule: ScheduleStep, Milestones: []int{2, 3}, Gamma: 0.1}
	step5 := TrainConfig{Epochs: 4, LearningRate: 0.1, Schedule: ScheduleStep, Milestones: []int{1}, Gamma: 0.5, WarmupEpochs: 1}
	warmConst := TrainConfig{Epochs: 3, LearningRate: 0.2, Schedule: ScheduleConstant, WarmupEpochs: 2}
	warmCos := TrainConfig{Epochs: 2, LearningRate: 0.1, Schedule: ScheduleCosine, WarmupEpochs: 1}
	// Hand-computed: cosine lr·½(1+cos(π·t/T)), T = 100; step lr·γ^#{m ≤ ⌊t/10⌋};
	// warm-up lr·(t+1)/W, W = warm-up epochs × 10.
	for _, c := range []struct {
		name string
		cfg  TrainConfig
		t    int
		want float64
	}{
		{"cosine start", cos, 0, 1e-3},
		{"cosine quarter", cos, 25, 1e-3 * 0.5 * (1 + math.Sqrt2/2)},
		{"cosine half", cos, 50, 5e-4},
		{"cosine last", cos, 99, 1e-3 * 0.5 * (1 + math.Cos(math.Pi*0.99))},
		{"constant", TrainConfig{Epochs: 10, LearningRate: 1e-3, Schedule: ScheduleConstant}, 99, 1e-3},
		{"step epoch 0", step, 0, 0.1},
		{"step epoch 1 end", step, 19, 0.1},
		{"step first milestone", step, 20, 0.01},
		{"step epoch 2 end", step, 29, 0.01},
		{"step second milestone", step, 30, 0.001},
		{"step last", step, 39, 0.001},
		{"warm-up first", warmConst, 0, 0.01},
		{"warm-up middle", warmConst, 9, 0.1},
		{"warm-up last", warmConst, 19, 0.2},
		{"after warm-up", warmConst, 20, 0.2},
		{"warm-up over step", step5, 0, 0.01},
		{"warm-up over step, last", step5, 9, 0.1},
		{"step after warm-up", step5, 10, 0.05},
		{"cosine after warm-up", warmCos, 10, 0.05}, // 0.1·½(1+cos(π·10/20))
		{"cosine warm-up", warmCos, 4, 0.05},
	} {
		if got := c.cfg.learningRate(c.t, steps); math.Abs(got-c.want) > 1e-15*c.want {
			t.Errorf("%s: lr(t=%d) = %.17g, want %.17g", c.name, c.t, got, c.want)
		}
	}
	// The default gamma is 0.1.
	cfg, err := TrainConfig{Epochs: 3, BatchSize: 1, LearningRate: 1, Schedule: ScheduleStep, Milestones: []int{1}}.normalized()
	if err != nil || cfg.learningRate(10, steps) != 0.1 {
		t.Errorf("default gamma: %v, lr %v, want 0.1", err, cfg.learningRate(10, steps))
	}
}

func randSet(n int) *datasets.Set {
	s := &datasets.Set{Name: "rand", C: 1, H: 28, W: 28, Images: randImages(n, 4), Labels: make([]int, n), Index: make([]int, n)}
	for i := range s.Labels {
		s.Labels[i], s.Index[i] = i%10, i
	}
	return s
}

// TestTrainDeterministic: the same data, config and seed give bit-identical
// weights; another seed gives other weights; the loss goes down.
func TestTrainDeterministic(t *testing.T) {
	set := randSet(640)
	train := func(seed uint64) ([]Param, []EpochStats) {
		net, _ := NewNetwork(ArchLeNet5, 10, seed)
		net.SetWorkers(2)
		st, err := net.Train(context.Background(), set, set, TrainConfig{Epochs: 2, BatchSize: 64, LearningRate: 1e-3, Seed: seed}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return net.Params(), st
	}
	a, st := train(1)
	b, _ := train(1)
	c, _ := train(2)
	for i := range a {
		if !slices.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("%s differs between two runs with the same seed", a[i].Name)
		}
	}
	if slices.Equal(a[0].Data, c[0].Data) {
		t.Error("different seeds gave the same weights")
	}
	if len(st) != 2 || !(st[1].Loss < st[0].Loss) || st[0].TestAcc == nil {
		t.Errorf("epoch stats %+v: want 2 epochs, falling loss, a test accuracy", st)
	}
}

// goldenSet is a fixed random data set (uniform pixels, uniform labels).
func goldenSet(c, h, w, n int, seed uint64) *datasets.Set {
	r := rand.New(rand.NewPCG(seed, 2))
	s := &datasets.Set{Name: "golden", C: c, H: h, W: w, Images: make([]float32, n*c*h*w), Labels: make([]int, n), Index: make([]int, n)}
	for i := range s.Images {
		s.Images[i] = r.Float32()
	}
	for i := range s.Labels {
		s.Labels[i], s.Index[i] = r.IntN(10), i
	}
	return s
}

// stateSum is the SHA-256 of a network's state dict (names and float32 bits).
func stateSum(net *Sequential) string {
	h := sha256.New()
	for _, p := range net.StateDict() {
		h.Write([]byte(p.Name))
		for _, v := range p.Data {
			h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestTrainGolden: recipes that set none of the fields added with SGD,
// schedules, augmentation and resumption train exactly as Train did before
// them — cached models and README numbers depend on it. The checksums were
// computed with the Train of commit 5232917 (Adam only), per SGEMM kernel
// (FMA or not changes the bits): `go test` and `go test -tags purego`.
func TestTrainGolden(t *testing.T) {
	golden := map[string][3]string{
		"avx2-asm": {
			"7a559e0dd953b3dc8c0ac8f06bfda7dba5f4d1cfb1e806d5d6c7c9da408f1dee",
			"200efd008abb1c64ddf274a353ba89d869362fe31d74d94e523364789ad585e3",
			"9a4c2be2e326c301bad1da54fd7f35a57bfcc6f636363164b0a80a67b39822ec",
		},
		"go": {
			"1d8d9fd3f4ad2a47e508f64c2e1c3023d6a0fbeaef0b11b4476d2f78a7baccf8",
			"9c752152ae10a3a6c4e5e68a0872a884761205b6ac66ea3436030c5411cb0e46",
			"72b54ed7a7ed084d91b3fa0146c4365a67bddf971f62086cf3742aad919c8a1a",
		},
	}
	want, ok := golden[kernels.Backend()]
	if !ok {
		t.Skipf("no golden checksums for SGEMM backend %s", kernels.Backend())
	}
	for i, c := range []struct {
		arch string
		set  *datasets.Set
		cfg  TrainConfig
	}{
		{ArchLeNet5, goldenSet(1, 28, 28, 256, 11), TrainConfig{Epochs: 2, BatchSize: 32, LearningRate: 1e-3, Seed: 7}},
		{ArchLeNet5Dropout, goldenSet(1, 28, 28, 200, 12), TrainConfig{Epochs: 2, BatchSize: 64, LearningRate: 2e-3, Schedule: ScheduleConstant, Seed: 8, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6}},
		{ArchResNet20, goldenSet(3, 32, 32, 48, 13), TrainConfig{Epochs: 2, BatchSize: 16, LearningRate: 1e-3, Seed: 9}},
	} {
		net, _ := NewNetwork(c.arch, 10, 5)
		net.SetWorkers(2)
		if _, err := net.Train(context.Background(), c.set, nil, c.cfg, nil); err != nil {
			t.Fatal(err)
		}
		if got := stateSum(net); got != want[i] {
			t.Errorf("%s %+v: state dict SHA-256 %s, want %s", c.arch, c.cfg, got, want[i])
		}
	}
}

func TestTrainConfigErrors(t *testing.T) {
	set := randSet(64)
	net, _ := NewNetwork(ArchLeNet5, 10, 1)
	ok := TrainConfig{Epochs: 2, BatchSize: 64, LearningRate: 1e-3}
	with := func(f func(c *TrainConfig)) TrainConfig {
		c := ok
		f(&c)
		return c
	}
	const pre = "models: training config: "
	for _, c := range []struct {
		cfg  TrainConfig
		want string
	}{
		{with(func(c *TrainConfig) { c.Epochs = 0 }), pre + "epochs must be at least 1, got 0"},
		{with(func(c *TrainConfig) { c.BatchSize = -1 }), pre + "batch_size must be at least 1, got -1"},
		{with(func(c *TrainConfig) { c.LearningRate = math.NaN() }), pre + "learning_rate must be positive and finite, got NaN"},
		{with(func(c *TrainConfig) { c.LearningRate = 0 }), pre + "learning_rate must be positive and finite, got 0"},
		{with(func(c *TrainConfig) { c.Schedule = "linear" }), pre + `unknown schedule "linear" (known: cosine, constant, step)`},
		{with(func(c *TrainConfig) { c.Optimizer = "rmsprop" }), pre + `unknown optimizer "rmsprop" (known: adam, sgd)`},
		{with(func(c *TrainConfig) { c.Beta1 = 1 }), pre + "beta1 must be in [0, 1), got 1"},
		{with(func(c *TrainConfig) { c.Eps = -1 }), pre + "eps must be non-negative and finite, got -1"},
		{with(func(c *TrainConfig) { c.Optimizer, c.Beta2 = OptimizerSGD, 0.99 }), pre + `beta2 is an Adam setting, but optimizer is "sgd"`},
		{with(func(c *TrainConfig) { c.Momentum = 0.9 }), pre + `momentum is an SGD setting (Adam's is beta1), but optimizer is "adam"`},
		{with(func(c *TrainConfig) { c.Nesterov = true }), pre + `nesterov is an SGD setting, but optimizer is "adam"`},
		{with(func(c *TrainConfig) { c.Optimizer, c.Momentum = OptimizerSGD, 1 }), pre + "momentum must be in [0, 1), got 1"},
		{with(func(c *TrainConfig) { c.Optimizer, c.Nesterov = OptimizerSGD, true }), pre + "nesterov needs a momentum > 0"},
		{with(func(c *TrainConfig) { c.WeightDecay = -1e-4 }), pre + "weight_decay must be non-negative and finite, got -0.0001"},
		{with(func(c *TrainConfig) { c.Schedule = ScheduleStep }), pre + `schedule "step" needs milestones`},
		{with(func(c *TrainConfig) { c.Schedule, c.Milestones = ScheduleStep, []int{5, 3} }), pre + "milestones must be increasing, got [5 3]"},
		{with(func(c *TrainConfig) { c.Schedule, c.Milestones = ScheduleStep, []int{2, 2} }), pre + "milestones must be increasing, got [2 2]"},
		{with(func(c *TrainConfig) { c.Schedule, c.Milestones = ScheduleStep, []int{0} }), pre + "milestones must be at least 1, got [0]"},
		{with(func(c *TrainConfig) { c.Schedule, c.Milestones, c.Gamma = ScheduleStep, []int{1}, 2 }), pre + "gamma must be in (0, 1], got 2"},
		{with(func(c *TrainConfig) { c.Milestones = []int{1} }), pre + `milestones are a setting of schedule "step", but schedule is "cosine"`},
		{with(func(c *TrainConfig) { c.Schedule, c.Gamma = ScheduleConstant, 0.5 }), pre + `gamma is a setting of schedule "step", but schedule is "constant"`},
		{with(func(c *TrainConfig) { c.WarmupEpochs = 3 }), pre + "warmup_epochs must be in [0, epochs = 2], got 3"},
		{with(func(c *TrainConfig) { c.WarmupEpochs = -1 }), pre + "warmup_epochs must be in [0, epochs = 2], got -1"},
		{with(func(c *TrainConfig) { c.Augment = []string{"blur"} }), pre + `unknown augmentation "blur" in augment (known: crop, flip)`},
		{with(func(c *TrainConfig) { c.Augment = []string{"flip", "crop", "flip"} }), pre + `augmentation "flip" is listed twice in augment`},
		{with(func(c *TrainConfig) { c.Augment, c.CropPadding = []string{"crop"}, -2 }), pre + "crop_padding must be non-negative, got -2"},
		{with(func(c *TrainConfig) { c.Augment, c.CropPadding = []string{"flip"}, 2 }), pre + `crop_padding is a setting of augmentation "crop", which augment does not list`},
		{with(func(c *TrainConfig) { c.BatchSize = 128 }), `models: training set "rand" has 64 samples, fewer than one batch of 128`},
	} {
		_, err := net.Train(context.Background(), set, nil, c.cfg, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Train(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
	for _, c := range []TrainConfig{
		ok,
		with(func(c *TrainConfig) {
			c.Optimizer, c.Momentum, c.Nesterov, c.WeightDecay = OptimizerSGD, 0.9, true, 5e-4
		}),
		with(func(c *TrainConfig) {
			c.Schedule, c.Milestones, c.Gamma, c.WarmupEpochs = ScheduleStep, []int{1, 5}, 0.2, 2
		}),
		with(func(c *TrainConfig) { c.Augment, c.CropPadding = []string{"flip", "crop"}, 2 }),
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

// TestTrainRecipes: SGD, weight decay, the step schedule and augmentation all
// take effect (each changes the weights) and stay deterministic across worker counts.
func TestTrainRecipes(t *testing.T) {
	set := goldenSet(1, 28, 28, 128, 21)
	base := TrainConfig{Epochs: 2, BatchSize: 32, LearningRate: 0.01, Seed: 3}
	run := func(cfg TrainConfig, workers int) string {
		net, _ := NewNetwork(ArchLeNet5, 10, 4)
		net.SetWorkers(workers)
		st, err := net.Train(context.Background(), set, nil, cfg, nil)
		if err != nil || len(st) != cfg.Epochs {
			t.Fatalf("%+v: %v, %d epochs", cfg, err, len(st))
		}
		return stateSum(net)
	}
	sums := map[string]string{}
	for _, c := range []struct {
		name string
		f    func(c *TrainConfig)
	}{
		{"adam", func(c *TrainConfig) {}},
		{"adam+wd", func(c *TrainConfig) { c.WeightDecay = 0.1 }},
		{"sgd", func(c *TrainConfig) { c.Optimizer = OptimizerSGD }},
		{"sgd+momentum", func(c *TrainConfig) { c.Optimizer, c.Momentum = OptimizerSGD, 0.9 }},
		{"sgd+nesterov+wd", func(c *TrainConfig) {
			c.Optimizer, c.Momentum, c.Nesterov, c.WeightDecay = OptimizerSGD, 0.9, true, 5e-4
		}},
		{"step", func(c *TrainConfig) { c.Schedule, c.Milestones = ScheduleStep, []int{1} }},
		{"warm-up", func(c *TrainConfig) { c.WarmupEpochs = 1 }},
		{"crop", func(c *TrainConfig) { c.Augment = []string{AugmentCrop} }},
		{"flip", func(c *TrainConfig) { c.Augment = []string{AugmentFlip} }},
		{"crop+flip", func(c *TrainConfig) { c.Augment = []string{AugmentCrop, AugmentFlip} }},
		{"flip+crop", func(c *TrainConfig) { c.Augment = []string{AugmentFlip, AugmentCrop} }},
	} {
		cfg := base
		c.f(&cfg)
		sum := run(cfg, 1)
		for name, other := range sums {
			if other == sum {
				t.Errorf("%s and %s give the same weights", c.name, name)
			}
		}
		sums[c.name] = sum
		if c.name == "sgd+nesterov+wd" || c.name == "crop+flip" {
			if again := run(cfg, 2); again != sum {
				t.Errorf("%s: weights differ between 1 and 2 workers", c.name)
			}
		}
	}
}
