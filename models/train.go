package models

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/internal/progress"
)

// TrainConfig is the recipe of Train: an optimizer on the mean softmax
// cross-entropy, a learning-rate schedule, optional augmentation, optional
// resumption. The zero value of every field past Beta1/Beta2/Eps gives the
// original recipe (Adam, no weight decay, no augmentation) bit for bit.
type TrainConfig struct {
	Epochs       int
	BatchSize    int
	LearningRate float64
	// Schedule shapes the learning rate over the run, per batch step t of
	// T = steps per epoch × Epochs in all:
	//   - ScheduleCosine (the default, ""): lr_t = lr·½(1 + cos(π·t/T)), PyTorch's
	//     CosineAnnealingLR with T_max = T and eta_min = 0, stepped every batch;
	//   - ScheduleConstant: lr_t = lr;
	//   - ScheduleStep: lr_t = lr·Gamma^k, k the number of Milestones ≤ e, the
	//     0-based epoch of step t (PyTorch's MultiStepLR stepped every epoch).
	Schedule string
	Seed     uint64 // shuffles the training set each epoch; dropout masks and augmentations
	// Adam's β₁, β₂ and ε; zero means PyTorch's defaults 0.9, 0.999, 1e-8.
	// Adam only.
	Beta1, Beta2, Eps float64

	// Optimizer is OptimizerAdam (the default, "") or OptimizerSGD.
	Optimizer string
	// Momentum is SGD's μ in [0, 1) (0: plain SGD). SGD only.
	Momentum float64
	// WeightDecay (≥ 0) adds wd·θ to every gradient before the update — the
	// L2 form of PyTorch's weight_decay, for Adam and SGD alike — and, as in
	// PyTorch recipes that pass model.parameters(), to every parameter:
	// weights, biases and BatchNorm γ and β.
	WeightDecay float64
	// Nesterov selects SGD's Nesterov momentum; it needs Momentum > 0.
	Nesterov bool
	// Milestones are ScheduleStep's 0-based epoch indices (≥ 1, strictly
	// increasing) from which the learning rate is multiplied by another
	// Gamma. ScheduleStep only; it needs at least one.
	Milestones []int
	// Gamma in (0, 1] is ScheduleStep's decay factor; zero means 0.1.
	Gamma float64
	// WarmupEpochs (0 ≤ w ≤ Epochs) replaces the schedule for the first
	// W = WarmupEpochs × steps per epoch steps by a linear ramp,
	// lr_t = lr·(t+1)/W; from step W on the schedule applies, at its own step t
	// (the ramp does not shift it).
	WarmupEpochs int
	// Augment lists augmentations (AugmentCrop, AugmentFlip) applied, in list
	// order, to every training image each time it enters a batch; draws come
	// from a PCG stream of Seed, so runs stay bit-identical whatever the
	// worker count. Empty: none.
	Augment []string
	// CropPadding (≥ 0) is AugmentCrop's zero padding; zero means
	// DefaultCropPadding (4). Only with AugmentCrop.
	CropPadding int

	// StatePath, when not empty, makes the run resumable: after every epoch
	// Train writes the full training state there atomically, and when it starts
	// and the file exists it continues after the epoch saved in it (see Train).
	// It is not part of the recipe.
	StatePath string
}

// Learning-rate schedules.
const (
	ScheduleCosine   = "cosine"
	ScheduleConstant = "constant"
	ScheduleStep     = "step"
)

// Schedules lists the valid TrainConfig.Schedule values ("" means ScheduleCosine).
func Schedules() []string { return []string{ScheduleCosine, ScheduleConstant, ScheduleStep} }

// Defaults of the zero-valued fields.
const (
	defaultBeta1 = 0.9
	defaultBeta2 = 0.999
	defaultEps   = 1e-8
	defaultGamma = 0.1
)

// Validate checks the recipe on its own (Train also checks it against the
// data). Errors are one line, `models: training config: …`, naming the field
// by its config key (learning_rate, weight_decay, milestones, …).
func (cfg TrainConfig) Validate() error {
	_, err := cfg.normalized()
	return err
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("models: training config: "+format, args...)
}

// normalized checks cfg and fills in the defaults of its zero fields.
func (cfg TrainConfig) normalized() (TrainConfig, error) {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if cfg.Epochs < 1 {
		return cfg, configErr("epochs must be at least 1, got %d", cfg.Epochs)
	}
	if cfg.BatchSize < 1 {
		return cfg, configErr("batch_size must be at least 1, got %d", cfg.BatchSize)
	}
	if !(cfg.LearningRate > 0) || !finite(cfg.LearningRate) {
		return cfg, configErr("learning_rate must be positive and finite, got %v", cfg.LearningRate)
	}
	if cfg.Schedule == "" {
		cfg.Schedule = ScheduleCosine
	}
	if !slices.Contains(Schedules(), cfg.Schedule) {
		return cfg, configErr("unknown schedule %q (known: %s)", cfg.Schedule, strings.Join(Schedules(), ", "))
	}
	if cfg.Optimizer == "" {
		cfg.Optimizer = OptimizerAdam
	}
	if !slices.Contains(Optimizers(), cfg.Optimizer) {
		return cfg, configErr("unknown optimizer %q (known: %s)", cfg.Optimizer, strings.Join(Optimizers(), ", "))
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"beta1", cfg.Beta1}, {"beta2", cfg.Beta2}, {"eps", cfg.Eps}} {
		if f.v != 0 && cfg.Optimizer != OptimizerAdam {
			return cfg, configErr("%s is an Adam setting, but optimizer is %q", f.key, cfg.Optimizer)
		}
		if !(f.v >= 0) || !finite(f.v) || (f.key != "eps" && f.v >= 1) {
			want := "in [0, 1)"
			if f.key == "eps" {
				want = "non-negative and finite"
			}
			return cfg, configErr("%s must be %s, got %v", f.key, want, f.v)
		}
	}
	if cfg.Optimizer == OptimizerAdam {
		cfg.Beta1, cfg.Beta2, cfg.Eps = orDefault(cfg.Beta1, defaultBeta1), orDefault(cfg.Beta2, defaultBeta2), orDefault(cfg.Eps, defaultEps)
		if cfg.Momentum != 0 {
			return cfg, configErr("momentum is an SGD setting (Adam's is beta1), but optimizer is %q", cfg.Optimizer)
		}
		if cfg.Nesterov {
			return cfg, configErr("nesterov is an SGD setting, but optimizer is %q", cfg.Optimizer)
		}
	}
	if !(cfg.Momentum >= 0 && cfg.Momentum < 1) {
		return cfg, configErr("momentum must be in [0, 1), got %v", cfg.Momentum)
	}
	if cfg.Nesterov && cfg.Momentum == 0 {
		return cfg, configErr("nesterov needs a momentum > 0")
	}
	if !(cfg.WeightDecay >= 0) || !finite(cfg.WeightDecay) {
		return cfg, configErr("weight_decay must be non-negative and finite, got %v", cfg.WeightDecay)
	}
	if cfg.Schedule == ScheduleStep {
		if len(cfg.Milestones) == 0 {
			return cfg, configErr("schedule %q needs milestones (0-based epochs at which the learning rate is multiplied by gamma)", ScheduleStep)
		}
		for i, m := range cfg.Milestones {
			if m < 1 {
				return cfg, configErr("milestones must be at least 1, got %v", cfg.Milestones)
			}
			if i > 0 && m <= cfg.Milestones[i-1] {
				return cfg, configErr("milestones must be increasing, got %v", cfg.Milestones)
			}
		}
		if !(cfg.Gamma >= 0 && cfg.Gamma <= 1) {
			return cfg, configErr("gamma must be in (0, 1], got %v", cfg.Gamma)
		}
		cfg.Gamma = orDefault(cfg.Gamma, defaultGamma)
		cfg.Milestones = slices.Clone(cfg.Milestones)
	} else {
		if len(cfg.Milestones) > 0 {
			return cfg, configErr("milestones are a setting of schedule %q, but schedule is %q", ScheduleStep, cfg.Schedule)
		}
		if cfg.Gamma != 0 {
			return cfg, configErr("gamma is a setting of schedule %q, but schedule is %q", ScheduleStep, cfg.Schedule)
		}
	}
	if cfg.WarmupEpochs < 0 || cfg.WarmupEpochs > cfg.Epochs {
		return cfg, configErr("warmup_epochs must be in [0, epochs = %d], got %d", cfg.Epochs, cfg.WarmupEpochs)
	}
	for i, a := range cfg.Augment {
		if !slices.Contains(Augmentations(), a) {
			return cfg, configErr("unknown augmentation %q in augment (known: %s)", a, strings.Join(Augmentations(), ", "))
		}
		if slices.Contains(cfg.Augment[:i], a) {
			return cfg, configErr("augmentation %q is listed twice in augment", a)
		}
	}
	cfg.Augment = slices.Clone(cfg.Augment)
	if cfg.CropPadding < 0 {
		return cfg, configErr("crop_padding must be non-negative, got %d", cfg.CropPadding)
	}
	if slices.Contains(cfg.Augment, AugmentCrop) {
		if cfg.CropPadding == 0 {
			cfg.CropPadding = DefaultCropPadding
		}
	} else if cfg.CropPadding != 0 {
		return cfg, configErr("crop_padding is a setting of augmentation %q, which augment does not list", AugmentCrop)
	}
	return cfg, nil
}

// learningRate returns the step size of step t (0-based) of a normalized
// config with steps batches per epoch (formulas at TrainConfig.Schedule and
// WarmupEpochs).
func (cfg TrainConfig) learningRate(t, steps int) float64 {
	if w := cfg.WarmupEpochs * steps; t < w {
		return cfg.LearningRate * float64(t+1) / float64(w)
	}
	switch cfg.Schedule {
	case ScheduleConstant:
		return cfg.LearningRate
	case ScheduleStep:
		e, k := t/steps, 0
		for _, m := range cfg.Milestones {
			if m <= e {
				k++
			}
		}
		return cfg.LearningRate * math.Pow(cfg.Gamma, float64(k))
	}
	total := steps * cfg.Epochs
	return cfg.LearningRate * 0.5 * (1 + math.Cos(math.Pi*float64(t)/float64(total)))
}

// EpochStats describes one finished epoch.
type EpochStats struct {
	Epoch        int
	Loss         float64  // mean training loss over the epoch's batches
	TrainAcc     float64  // accuracy on the training batches, as seen during the epoch
	TestAcc      *float64 `json:",omitempty"` // accuracy on the test set after the epoch (nil without one)
	Seconds      float64
	ImagesPerSec float64
}

// Random streams of a run: PCG(cfg.Seed, stream).
const (
	streamShuffle = 0x5eed
	streamDropout = 0xd209
	streamAugment = 0xa06e
)

// Train fits the network to train with cfg's optimizer (Adam by default, with
// PyTorch's semantics: bias-corrected moments, θ ← θ − lr_t·m̂/(√v̂ + ε); or
// SGD, see TrainConfig), lr_t from cfg.Schedule, shuffling with cfg.Seed every
// epoch and dropping the last incomplete batch, in train mode: dropout active
// (masks drawn from cfg.Seed) and BatchNorm on batch statistics, its running
// mean and unbiased variance updated with momentum 0.1 as PyTorch does.
// cfg.Augment's augmentations apply to each batch as it is loaded. After each
// epoch it measures the accuracy on test (if not nil) and reports on log: a
// bar on a terminal, one line per epoch otherwise (log may be nil). Same data,
// config, seed and initial weights give bit-identical weights, whatever the
// worker count.
//
// With cfg.StatePath set, Train writes after every epoch the full state of the
// run (weights and BatchNorm statistics, optimizer buffers, step counter, the
// state of every random source, the shuffle order) to that file, atomically;
// when the file exists as Train starts, it loads it — replacing the network's
// weights — and runs the remaining epochs, which gives the same weights bit for
// bit as a run never interrupted. The returned stats then cover only the
// epochs run by this call (their Epoch fields count from the start of the
// run); a state whose epochs are all done returns no stats and leaves the
// final weights in the network. A state written for another recipe, data set
// (name, size, shape), architecture or initial weights is refused, as is a
// corrupt one: delete the file to start over. When ctx is cancelled Train
// returns the stats so far and ctx's error; the state file still holds the
// last completed epoch, and the network's weights are those of mid-epoch.
func (s *Sequential) Train(ctx context.Context, train, test *datasets.Set, cfg TrainConfig, log io.Writer) ([]EpochStats, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	if train == nil {
		return nil, fmt.Errorf("models: no training set")
	}
	if err := s.checkSet(train); err != nil {
		return nil, err
	}
	if test != nil {
		if err := s.checkSet(test); err != nil {
			return nil, err
		}
	}
	bs := cfg.BatchSize
	steps := train.Len() / bs
	if steps == 0 {
		return nil, fmt.Errorf("models: training set %q has %d samples, fewer than one batch of %d", train.Name, train.Len(), bs)
	}
	tr := s.newTrainer(bs, cfg)
	shuffle, augSrc := rand.NewPCG(cfg.Seed, streamShuffle), rand.NewPCG(cfg.Seed, streamAugment)
	rng, augRNG := rand.New(shuffle), rand.New(augSrc)
	aug := newAugmenter(cfg.Augment, cfg.CropPadding, s.c, s.h, s.w)
	perm := make([]int, train.Len())
	for i := range perm {
		perm[i] = i
	}
	done := 0
	var run *runState
	if cfg.StatePath != "" {
		run = &runState{path: cfg.StatePath, recipe: cfg.recipe(s, train), perm: perm,
			sources: []namedSource{{"shuffle", shuffle}, {"dropout", tr.dropSrc}, {"augment", augSrc}}}
		if done, err = tr.loadState(run, cfg.Epochs, steps); err != nil {
			return nil, err
		}
		if done > 0 && log != nil {
			fmt.Fprintf(log, "train: resuming from %s after epoch %d/%d\n", cfg.StatePath, done, cfg.Epochs)
		}
	}
	dim := train.Dim()
	xb := tr.e.vals[0]
	defer s.weightsChanged() // the gorgonia graphs and packed filters hold copies of the old weights
	var stats []EpochStats
	for ep := done + 1; ep <= cfg.Epochs; ep++ {
		start := time.Now()
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		task := progress.Start(log, fmt.Sprintf("train epoch %d/%d", ep, cfg.Epochs), steps)
		var lossSum float64
		correct := 0
		for st := 0; st < steps; st++ {
			if err := ctx.Err(); err != nil {
				return stats, err
			}
			for k := 0; k < bs; k++ {
				i := perm[st*bs+k]
				x := xb[k*dim : (k+1)*dim]
				copy(x, train.Image(i))
				if aug != nil {
					aug.apply(x, augRNG)
				}
				tr.labels[k] = train.Labels[i]
			}
			l, ok := tr.step(cfg.learningRate(tr.t, steps))
			lossSum += l
			correct += ok
			task.Add(1)
		}
		if run != nil {
			if err := tr.saveState(run, ep); err != nil {
				return stats, err
			}
		}
		es := EpochStats{Epoch: ep, Loss: lossSum / float64(steps), TrainAcc: float64(correct) / float64(steps*bs)}
		if test != nil {
			acc, err := s.Accuracy(test)
			if err != nil {
				return stats, err
			}
			es.TestAcc = &acc
		}
		es.Seconds = time.Since(start).Seconds()
		es.ImagesPerSec = float64(steps*bs) / es.Seconds
		stats = append(stats, es)
		summary := fmt.Sprintf("loss %.4f, train acc %.2f%%", es.Loss, 100*es.TrainAcc)
		if test != nil {
			summary += fmt.Sprintf(", test acc %.2f%%", 100**es.TestAcc)
		}
		task.Done(summary + fmt.Sprintf(", %.0f img/s", es.ImagesPerSec))
	}
	return stats, nil
}

// trainer is the state of an optimizer run on one native engine.
type trainer struct {
	s           *Sequential
	e           *nengine
	opt         string      // OptimizerAdam or OptimizerSGD
	m1, m2      [][]float32 // Adam's moments per parameter
	mom         [][]float32 // SGD's momentum buffers per parameter (nil when μ = 0)
	b1, b2, eps float64
	mu, wd      float64
	nesterov    bool
	t           int // steps taken
	dropSrc     *rand.PCG
	drop        *rand.Rand // dropout masks, drawn row by row
	labels      []int      // label of each batch row
	onehot      []float32
}

// newTrainer sets up a run of cfg's optimizer (cfg need not be normalized:
// zero fields take their defaults).
func (s *Sequential) newTrainer(bs int, cfg TrainConfig) *trainer {
	src := rand.NewPCG(cfg.Seed, streamDropout)
	tr := &trainer{s: s, e: s.newEngine(bs, s.workers), opt: cfg.Optimizer,
		b1: orDefault(cfg.Beta1, defaultBeta1), b2: orDefault(cfg.Beta2, defaultBeta2), eps: orDefault(cfg.Eps, defaultEps),
		mu: cfg.Momentum, wd: cfg.WeightDecay, nesterov: cfg.Nesterov,
		dropSrc: src, drop: rand.New(src), labels: make([]int, bs), onehot: make([]float32, bs*s.classes)}
	if tr.opt == "" {
		tr.opt = OptimizerAdam
	}
	tr.e.ensureGrads(true)
	for _, p := range s.params {
		switch {
		case tr.opt == OptimizerAdam:
			tr.m1 = append(tr.m1, make([]float32, len(p.Data)))
			tr.m2 = append(tr.m2, make([]float32, len(p.Data)))
		case tr.mu != 0:
			tr.mom = append(tr.mom, make([]float32, len(p.Data)))
		}
	}
	return tr
}

// step trains on the batch in the engine's input (labels in tr.labels) with
// step size lr: forward in train mode (batch statistics, dropout), the mean
// cross-entropy, backward, one optimizer update. It returns the batch's mean
// loss and how many rows the pre-update logits classified correctly.
func (tr *trainer) step(lr float64) (loss float64, correct int) {
	loss, correct = tr.gradients()
	tr.update(lr)
	return loss, correct
}

// gradients runs the forward and backward pass of step, leaving ∂J/∂θ in e.pgrad.
func (tr *trainer) gradients() (loss float64, correct int) {
	e, s := tr.e, tr.s
	bs, c := e.batch, s.classes
	clear(tr.onehot)
	for k, l := range tr.labels {
		tr.onehot[k*c+l] = 1
		e.fillMasks(k, tr.drop)
	}
	pm := passMode{bnTrain: true, dropout: true}
	nops := len(s.prog.ops)
	e.forward(nops, pm)
	lg := e.vals[s.prog.logits]
	for k, l := range tr.labels {
		if argmax(lg[k*c:(k+1)*c]) == l {
			correct++
		}
	}
	e.clearGrads()
	for _, g := range e.pgrad {
		clear(g)
	}
	loss = e.seedLoss(lossCE, bs, func(i int) []float32 { return tr.onehot[i*c : (i+1)*c] }, 1/float64(bs)) / float64(bs)
	e.backward(nops, backOpts{params: true, m: bs, pm: pm})
	return loss, correct
}

// update takes one optimizer step of size lr with the gradients in e.pgrad.
func (tr *trainer) update(lr float64) {
	tr.s.packs.drop()
	e, s := tr.e, tr.s
	tr.t++
	if tr.opt == OptimizerSGD {
		for pi, p := range s.params {
			var buf []float32
			if tr.mom != nil {
				buf = tr.mom[pi]
			}
			sgdUpdate(p.Data, e.pgrad[pi], buf, lr, tr.mu, tr.wd, tr.nesterov, tr.t == 1)
		}
		return
	}
	c1 := 1 - math.Pow(tr.b1, float64(tr.t))
	c2 := 1 - math.Pow(tr.b2, float64(tr.t))
	for pi, p := range s.params {
		adamUpdate(p.Data, e.pgrad[pi], tr.m1[pi], tr.m2[pi], lr, tr.b1, tr.b2, tr.eps, c1, c2, tr.wd)
	}
}

// Accuracy returns the fraction of set's samples whose arg-max logit is their label.
func (s *Sequential) Accuracy(set *datasets.Set) (float64, error) {
	if err := s.checkSet(set); err != nil {
		return 0, err
	}
	logits, _, err := s.Forward(set.Images, set.Len())
	if err != nil {
		return 0, err
	}
	c, ok := s.classes, 0
	for i := 0; i < set.Len(); i++ {
		if argmax(logits[i*c:(i+1)*c]) == set.Labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(max(set.Len(), 1)), nil
}

func (s *Sequential) checkSet(set *datasets.Set) error {
	if set.C != s.c || set.H != s.h || set.W != s.w {
		return fmt.Errorf("models: set %q has %dx%dx%d images, %s wants %dx%dx%d", set.Name, set.C, set.H, set.W, s.arch, s.c, s.h, s.w)
	}
	if len(set.Images) != set.Len()*set.Dim() {
		return fmt.Errorf("models: set %q: %d values for %d images", set.Name, len(set.Images), set.Len())
	}
	for i, l := range set.Labels {
		if l < 0 || l >= s.classes {
			return fmt.Errorf("models: set %q: sample %d has label %d, want 0..%d", set.Name, i, l, s.classes-1)
		}
	}
	return nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}
