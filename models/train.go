package models

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/internal/progress"
)

// TrainConfig is the recipe of Train: Adam on the mean softmax cross-entropy.
type TrainConfig struct {
	Epochs       int
	BatchSize    int
	LearningRate float64
	// Schedule shapes the learning rate over the run: ScheduleConstant, or
	// ScheduleCosine (the default, "" ): lr_t = lr·½(1 + cos(π·t/T)) for step
	// t = 0…T−1 of T steps in all (PyTorch's CosineAnnealingLR with
	// T_max = T and eta_min = 0, stepped every batch).
	Schedule string
	Seed     uint64 // shuffles the training set each epoch
	// Adam's β₁, β₂ and ε; zero means PyTorch's defaults 0.9, 0.999, 1e-8.
	Beta1, Beta2, Eps float64
}

// Learning-rate schedules.
const (
	ScheduleCosine   = "cosine"
	ScheduleConstant = "constant"
)

// Schedules lists the valid TrainConfig.Schedule values.
func Schedules() []string { return []string{ScheduleCosine, ScheduleConstant} }

// learningRate returns the step size of step t (0-based) of total steps.
func (cfg TrainConfig) learningRate(t, total int) float64 {
	if cfg.Schedule == ScheduleConstant {
		return cfg.LearningRate
	}
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

// Train fits the network with Adam (PyTorch semantics: bias-corrected moments,
// θ ← θ − lr_t·m̂/(√v̂ + ε), lr_t from cfg.Schedule) on train, shuffling with cfg.Seed every epoch and
// dropping the last incomplete batch, in train mode: dropout active (masks
// drawn from cfg.Seed) and BatchNorm on batch statistics, its running mean and
// unbiased variance updated with momentum 0.1 as PyTorch does. After each epoch it measures the accuracy
// on test (if not nil) and reports on log: a bar on a terminal, one line per
// epoch otherwise. Same data, config and seed give bit-identical weights.
func (s *Sequential) Train(ctx context.Context, train, test *datasets.Set, cfg TrainConfig, log io.Writer) ([]EpochStats, error) {
	if cfg.Epochs < 1 || cfg.BatchSize < 1 || !(cfg.LearningRate > 0) {
		return nil, fmt.Errorf("models: invalid training config: epochs %d, batch size %d, learning rate %v", cfg.Epochs, cfg.BatchSize, cfg.LearningRate)
	}
	if cfg.Schedule == "" {
		cfg.Schedule = ScheduleCosine
	}
	if !slices.Contains(Schedules(), cfg.Schedule) {
		return nil, fmt.Errorf("models: unknown learning-rate schedule %q (known: %v)", cfg.Schedule, Schedules())
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
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	perm := make([]int, train.Len())
	for i := range perm {
		perm[i] = i
	}
	dim := train.Dim()
	xb := tr.e.vals[0]
	defer s.pool.reset() // the gorgonia graphs hold copies of the old weights
	var stats []EpochStats
	for ep := 1; ep <= cfg.Epochs; ep++ {
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
				copy(xb[k*dim:(k+1)*dim], train.Image(i))
				tr.labels[k] = train.Labels[i]
			}
			l, ok := tr.step(cfg.learningRate(tr.t, steps*cfg.Epochs))
			lossSum += l
			correct += ok
			task.Add(1)
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

// trainer is the state of an Adam run on one native engine.
type trainer struct {
	s           *Sequential
	e           *nengine
	m1, m2      [][]float32 // Adam's moments per parameter
	b1, b2, eps float64
	t           int        // steps taken
	drop        *rand.Rand // dropout masks, drawn row by row
	labels      []int      // label of each batch row
	onehot      []float32
}

func (s *Sequential) newTrainer(bs int, cfg TrainConfig) *trainer {
	tr := &trainer{s: s, e: s.newEngine(bs, s.workers),
		b1: orDefault(cfg.Beta1, 0.9), b2: orDefault(cfg.Beta2, 0.999), eps: orDefault(cfg.Eps, 1e-8),
		drop: rand.New(rand.NewPCG(cfg.Seed, 0xd209)), labels: make([]int, bs), onehot: make([]float32, bs*s.classes)}
	tr.e.ensureGrads(true)
	for _, p := range s.params {
		tr.m1 = append(tr.m1, make([]float32, len(p.Data)))
		tr.m2 = append(tr.m2, make([]float32, len(p.Data)))
	}
	return tr
}

// step trains on the batch in the engine's input (labels in tr.labels) with
// step size lr: forward in train mode (batch statistics, dropout), the mean
// cross-entropy, backward, one Adam update. It returns the batch's mean loss
// and how many rows the pre-update logits classified correctly.
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

// update takes one Adam step of size lr with the gradients in e.pgrad.
func (tr *trainer) update(lr float64) {
	e, s := tr.e, tr.s
	tr.t++
	c1 := 1 - math.Pow(tr.b1, float64(tr.t))
	c2 := 1 - math.Pow(tr.b2, float64(tr.t))
	b1, b2 := tr.b1, tr.b2
	for pi, p := range s.params {
		w, g, a, v := p.Data, e.pgrad[pi], tr.m1[pi], tr.m2[pi]
		for j := range w {
			gj := float64(g[j])
			a[j] = float32(b1*float64(a[j]) + (1-b1)*gj)
			v[j] = float32(b2*float64(v[j]) + (1-b2)*gj*gj)
			mh := float64(a[j]) / c1
			vh := float64(v[j]) / c2
			w[j] -= float32(lr * mh / (math.Sqrt(vh) + tr.eps))
		}
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
