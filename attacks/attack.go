package attacks

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/purview-lab/purview/internal/progress"
	"github.com/purview-lab/purview/models"
	"golang.org/x/sync/errgroup"
)

// Model is what the attacks need from a classifier; models.Inspector
// satisfies it. Implementations are safe for concurrent use and treat every
// sample independently. Inputs are n images, NCHW float32, sample-major.
type Model interface {
	Classes() int
	InputShape() (c, h, w int)
	// Forward returns the n×C logits (and penultimate features, unused here).
	Forward(x []float32, n int) (logits, feats []float32, err error)
	// InputGrad returns the n×C logits and the per-sample losses ℓ_i of loss,
	// and writes ∂ℓ_i/∂x_i into grad (len(x)).
	InputGrad(x []float32, n int, loss models.LossFunc, grad []float32) (logits []float32, losses []float64, err error)
}

// Norm names the norm of an attack's threat model.
type Norm int

const (
	// Unbounded attacks (CW-L2, DeepFool) minimise the perturbation instead
	// of keeping it inside a fixed ball; only the box [0,1] constrains them.
	Unbounded Norm = iota
	// Linf bounds max_j |x'_j − x_j| ≤ ε.
	Linf
	// L2 bounds ‖x' − x‖₂ ≤ ε.
	L2
)

func (n Norm) String() string {
	switch n {
	case Unbounded:
		return "none"
	case Linf:
		return "linf"
	case L2:
		return "l2"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// Attack crafts adversarial examples batch by batch. Run drives it.
type Attack interface {
	// Name labels the attack in tables and files, e.g. "pgd" or a preset's name.
	Name() string
	// Threat returns the norm and radius ε of the attack's ball (Unbounded, 0
	// for minimum-norm attacks).
	Threat() (Norm, float64)
	// Perturb writes the adversarial examples of b into b.Adv (which holds a
	// copy of b.X on entry). It must keep b.Adv in [0,1] and, for bounded
	// attacks, inside the ball of radius ε around b.X. It returns early with
	// ctx.Err() when ctx is cancelled.
	Perturb(ctx context.Context, m Model, b *Batch) error
}

// Batch is one batch of an attack run.
type Batch struct {
	X       []float32 // clean images, N×C×H×W (read-only)
	Y       []int     // true labels, length N
	Adv     []float32 // adversarial images, same layout as X (output)
	C, H, W int       // image shape
	Offset  int       // index within the run of the batch's first sample
	Seed    uint64    // the run's seed
}

// Len returns the number of samples N of the batch.
func (b *Batch) Len() int { return len(b.Y) }

// Dim returns C·H·W.
func (b *Batch) Dim() int { return b.C * b.H * b.W }

// Rand returns the random source of sample i of the batch (0-based within
// the batch). It depends only on the run's seed and the sample's index in the
// run, so results do not depend on how the run is cut into batches.
func (b *Batch) Rand(i int) *rand.Rand { return sampleRand(b.Seed, b.Offset+i) }

// sampleRand returns a PCG generator for sample i of a run seeded with seed;
// both words of the state are hashed so that neighbouring seeds and indices
// give unrelated streams.
func sampleRand(seed uint64, i int) *rand.Rand {
	hi := mix64(seed ^ 0x6a09e667f3bcc909)
	lo := mix64(hi + mix64(uint64(i)+0xbb67ae8584caa73b))
	return rand.New(rand.NewPCG(hi, lo))
}

// mix64 is the splitmix64 finaliser.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Options controls how Run executes an attack; none of them changes the result.
type Options struct {
	// BatchSize is the number of samples per InputGrad call; 0 means 64.
	BatchSize int
	// Workers is the number of batches attacked concurrently; 0 means 1.
	// Models parallelise inside a batch too, so more workers than cores
	// rarely helps.
	Workers int
	// Seed seeds the random draws (random starts) of the attack.
	Seed uint64
	// Progress, if not nil, receives a progress bar (terminal) or one
	// summary line (anything else).
	Progress io.Writer
}

// validator is implemented by attacks that can check their parameters.
type validator interface{ Validate() error }

// Run attacks the n = len(y) images x (NCHW float32 in [0,1], shape
// m.InputShape()) with true labels y and returns the adversarial images with
// the model's predictions on them and the perturbation norms. It panics if
// len(x) ≠ n·C·H·W (a programming error); labels outside [0, m.Classes()) and
// pixels outside [0,1] are reported as errors.
func Run(ctx context.Context, a Attack, m Model, x []float32, y []int, opt Options) (*Result, error) {
	c, h, w := m.InputShape()
	d, n, classes := c*h*w, len(y), m.Classes()
	if len(x) != n*d {
		panic(fmt.Sprintf("attacks: Run: len(x) = %d, want %d labels × %d×%d×%d = %d", len(x), n, c, h, w, n*d))
	}
	if v, ok := a.(validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	if classes < 2 {
		return nil, fmt.Errorf("attacks: %s: the model has %d classes, want at least 2", a.Name(), classes)
	}
	for i, l := range y {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("attacks: %s: sample %d has label %d, want 0..%d", a.Name(), i, l, classes-1)
		}
	}
	for j, v := range x {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("attacks: %s: sample %d has pixel value %v outside [0,1]", a.Name(), j/d, v)
		}
	}
	bs := opt.BatchSize
	if bs <= 0 {
		bs = 64
	}
	workers := max(opt.Workers, 1)

	start := time.Now()
	r := &Result{
		Attack: a.Name(), N: n, C: c, H: h, W: w,
		Adv: make([]float32, len(x)), Labels: append([]int(nil), y...),
		CleanPred: make([]int, n), Pred: make([]int, n), Success: make([]bool, n),
		Linf: make([]float64, n), L2: make([]float64, n),
	}
	copy(r.Adv, x)
	task := progress.Start(opt.Progress, "attack "+a.Name(), n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for lo := 0; lo < n; lo += bs {
		hi := min(lo+bs, n)
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			b := &Batch{X: x[lo*d : hi*d], Y: y[lo:hi], Adv: r.Adv[lo*d : hi*d], C: c, H: h, W: w, Offset: lo, Seed: opt.Seed}
			if err := predict(m, b.X, hi-lo, classes, r.CleanPred[lo:hi]); err != nil {
				return fmt.Errorf("attacks: %s: clean forward pass of samples %d..%d: %w", a.Name(), lo, hi-1, err)
			}
			if err := a.Perturb(gctx, m, b); err != nil {
				if ctxErr := gctx.Err(); ctxErr != nil {
					return ctxErr
				}
				return fmt.Errorf("attacks: %s: samples %d..%d: %w", a.Name(), lo, hi-1, err)
			}
			if err := predict(m, b.Adv, hi-lo, classes, r.Pred[lo:hi]); err != nil {
				return fmt.Errorf("attacks: %s: adversarial forward pass of samples %d..%d: %w", a.Name(), lo, hi-1, err)
			}
			for i := lo; i < hi; i++ {
				r.Success[i] = r.Pred[i] != y[i]
				r.Linf[i], r.L2[i] = Distances(x[i*d:(i+1)*d], r.Adv[i*d:(i+1)*d])
			}
			task.Add(hi - lo)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.Elapsed = time.Since(start)
	task.Done(r.Summary().String())
	return r, nil
}

// predict writes the arg-max class of each of the n images of x into dst.
func predict(m Model, x []float32, n, classes int, dst []int) error {
	logits, _, err := m.Forward(x, n)
	if err != nil {
		return err
	}
	if len(logits) != n*classes {
		return fmt.Errorf("model returned %d logits for %d samples of %d classes", len(logits), n, classes)
	}
	for i := range n {
		dst[i] = argmax(logits[i*classes : (i+1)*classes])
	}
	return nil
}

// Distances returns ‖b − a‖∞ and ‖b − a‖₂, computed in float64 from the
// float32 values: the perturbation norms of Result.
func Distances(a, b []float32) (linf, l2 float64) {
	var s float64
	for j := range a {
		v := float64(b[j]) - float64(a[j])
		linf = math.Max(linf, math.Abs(v))
		s += v * v
	}
	return linf, math.Sqrt(s)
}

// argmax returns the index of the largest value, the first one on ties.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// crossEntropy is the softmax cross-entropy of logits z against class y,
//
//	ℓ = log Σ_j exp(z_j) − z_y,   ∂ℓ/∂z_j = softmax(z)_j − [j = y],
//
// computed in float64 with the maximum subtracted first; it writes the
// gradient into g.
func crossEntropy(z []float32, y int, g []float32) float64 {
	m := float64(z[0])
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(s)
	for j, v := range z {
		g[j] = float32(math.Exp(float64(v) - lse))
	}
	g[y]--
	return lse - float64(z[y])
}

// gradRunner calls InputGrad on a subset of a batch's samples, gathering them
// into reusable buffers so that finished samples cost nothing.
type gradRunner struct {
	m       Model
	d, c    int
	x, grad []float32
}

func newGradRunner(m Model, b *Batch) *gradRunner {
	return &gradRunner{m: m, d: b.Dim(), c: m.Classes()}
}

// run evaluates loss at the samples idx of src (a batch's N×D images) and
// returns their logits and input gradients, row k belonging to sample idx[k].
// loss receives k and the sample's batch index i = idx[k]. The returned
// slices are valid until the next call.
func (r *gradRunner) run(src []float32, idx []int, loss func(k, i int, z, g []float32) float64) (logits, grad []float32, err error) {
	n, d := len(idx), r.d
	if cap(r.x) < n*d {
		r.x = make([]float32, n*d)
		r.grad = make([]float32, n*d)
	}
	x, grad := r.x[:n*d], r.grad[:n*d]
	for k, i := range idx {
		copy(x[k*d:(k+1)*d], src[i*d:(i+1)*d])
	}
	clear(grad)
	logits, _, err = r.m.InputGrad(x, n, func(k int, z, g []float32) float64 { return loss(k, idx[k], z, g) }, grad)
	if err != nil {
		return nil, nil, err
	}
	if len(logits) != n*r.c {
		return nil, nil, fmt.Errorf("model returned %d logits for %d samples of %d classes", len(logits), n, r.c)
	}
	return logits, grad, nil
}

// all returns the indices 0..n−1.
func all(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// sign is torch.sign: −1, 0 or +1 (0 for 0 and NaN).
func sign(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// clamp32 limits v to [lo, hi].
func clamp32(v, lo, hi float32) float32 {
	return min(max(v, lo), hi)
}

// clamp64 limits v to [lo, hi].
func clamp64(v, lo, hi float64) float64 {
	return math.Min(math.Max(v, lo), hi)
}

// checkParam returns an error naming the parameter unless v is finite and
// ≥ 0 (> 0 when positive is true).
func checkParam(attack, key string, v float64, positive bool) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (positive && v == 0) {
		want := "≥ 0"
		if positive {
			want = "> 0"
		}
		return fmt.Errorf("attacks: %s: %s = %v, want a finite value %s", attack, key, v, want)
	}
	return nil
}
