package models

import (
	"fmt"

	"golang.org/x/sync/errgroup"
	"gorgonia.org/tensor"
)

// Batch sizes of LeNet's engines. Inputs are cut into batches of exactly the
// architecture's size (the last one zero-padded), so a sample's result never
// depends on how many samples were passed or how many workers ran. ResNet-20
// uses resNetBatch for both.
const (
	ForwardBatch = 128
	GradBatch    = 32
	resNetBatch  = 32
)

// engineBudget bounds the value buffers of one engine of the zoo's larger
// networks (ResNet-18/34, DenseNet, WideResNet), whose batch sizes are the
// largest power of two (≤ ForwardBatch, GradBatch) whose activations fit it,
// gradients counted for gradient passes: ResNet-34 runs 32 / 16, WRN-28-10
// 8 / 4. The batch size depends only on the architecture.
const engineBudget = 256 << 20

func (s *Sequential) forwardBatch() int {
	switch s.arch {
	case ArchLeNet5, ArchLeNet5Dropout:
		return ForwardBatch
	case ArchResNet20:
		return resNetBatch
	}
	return pow2Batch(engineBudget/s.sampleBytes(), ForwardBatch)
}

func (s *Sequential) gradBatch() int {
	switch s.arch {
	case ArchLeNet5, ArchLeNet5Dropout:
		return GradBatch
	case ArchResNet20:
		return resNetBatch
	}
	return pow2Batch(engineBudget/(2*s.sampleBytes()), GradBatch)
}

// sampleBytes is the size of one sample's value buffers.
func (s *Sequential) sampleBytes() int {
	n := 0
	for v, sh := range s.prog.vals {
		if s.prog.root[v] == v {
			n += 4 * sh.size()
		}
	}
	return n
}

// pow2Batch returns the largest power of two ≤ min(n, most), at least 1.
func pow2Batch(n, most int) int {
	b := 1
	for 2*b <= min(n, most) {
		b *= 2
	}
	return b
}

// eachBatch runs fn on batches [lo,hi) of n samples, batch size bs, with up to
// s.workers goroutines, each holding its own gorgonia engine.
func (s *Sequential) eachBatch(n, bs int, key engineKey, fn func(e *engine, lo, hi int) error) error {
	batches := (n + bs - 1) / bs
	var grp errgroup.Group // one goroutine per worker, each with its own engine
	next := make(chan int, batches)
	for b := 0; b < batches; b++ {
		next <- b
	}
	close(next)
	workers := min(s.workers, batches)
	for w := 0; w < workers; w++ {
		grp.Go(func() (err error) {
			// A panic in gorgonia would otherwise kill the process from this
			// goroutine, past the CLI's recover.
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("models: internal error in %s engine: %v", s.arch, r)
				}
			}()
			e, gen, err := s.pool.get(key)
			if err != nil {
				return err
			}
			defer s.pool.put(key, e, gen)
			for b := range next {
				lo := b * bs
				hi := min(lo+bs, n)
				if err := fn(e, lo, hi); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return grp.Wait()
}

func (s *Sequential) checkInput(x []float32, n int) error {
	d := s.c * s.h * s.w
	if n < 0 || len(x) != n*d {
		return fmt.Errorf("models: %s wants %d images of %dx%dx%d (%d values), got %d values", s.arch, n, s.c, s.h, s.w, n*d, len(x))
	}
	return nil
}

// Forward returns logits (n×C) and penultimate features (n×D), in eval mode.
func (s *Sequential) Forward(x []float32, n int) (logits, feats []float32, err error) {
	if err := s.checkInput(x, n); err != nil {
		return nil, nil, err
	}
	c, d, dim := s.classes, s.FeatureDim(), s.c*s.h*s.w
	logits, feats = make([]float32, n*c), make([]float32, n*d)
	p := &s.prog
	err = s.eachNative(n, s.forwardBatch(), func(e *nengine, lo, hi int) error {
		e.load(x[lo*dim : hi*dim])
		e.forward(len(p.ops), passMode{})
		copy(logits[lo*c:hi*c], e.vals[p.logits])
		copy(feats[lo*d:hi*d], e.vals[p.feat])
		return nil
	})
	return logits, feats, err
}

func (s *Sequential) checkConfound(c Confound) error {
	if len(c.Label) != s.classes {
		return fmt.Errorf("models: confounding label has %d entries, %s has %d classes", len(c.Label), s.arch, s.classes)
	}
	for i, v := range c.Label {
		if v != 0 && v != 1 {
			return fmt.Errorf("models: confounding label entry %d is %v, want 0 or 1", i, v)
		}
	}
	return nil
}

// GradNorms computes the purview features r_l(x_i) = ‖∂J(x_i)/∂θ_l‖²₂ exactly
// for every sample, in eval mode, from one batched backward pass per batch:
//
//	linear layer, a_i its input, δ_i = ∂J/∂(W a_i + b):  r_W = ‖a_i‖²·‖δ_i‖²,  r_b = ‖δ_i‖²
//	convolution, U_i = cols(a_i) (K×P), δ_i (Cout×P):  r_W = ‖δ_i U_iᵀ‖²_F,  r_b = Σ_c (Σ_p δ_icp)²
//	BatchNorm, x̂ = (x − μ_run)/√(σ²_run + ε), δ_i = ∂J/∂y:  r_γ = Σ_c (Σ_hw δ_i x̂_i)²,  r_β = Σ_c (Σ_hw δ_i)²
//
// ‖δ_i U_iᵀ‖²_F is computed directly or as Σ_{p,q} (δ_p·δ_q)(u_p·u_q),
// whichever costs fewer multiply-adds for the layer. The loss is summed (not
// averaged) over the batch, so δ_i is sample i's own gradient.
func (s *Sequential) GradNorms(x []float32, n int, c Confound, dst []float64) error {
	if err := s.checkInput(x, n); err != nil {
		return err
	}
	if err := s.checkConfound(c); err != nil {
		return err
	}
	np := len(s.params)
	if len(dst) != n*np {
		panic(fmt.Sprintf("models: GradNorms dst has %d values, want %d", len(dst), n*np))
	}
	dim := s.c * s.h * s.w
	kind := confoundLoss(c.Act)
	label := func(int) []float32 { return c.Label }
	nops := len(s.prog.ops)
	return s.eachNative(n, s.gradBatch(), func(e *nengine, lo, hi int) error {
		e.load(x[lo*dim : hi*dim])
		e.forward(nops, passMode{})
		e.ensureGrads(false)
		e.clearGrads()
		e.seedLoss(kind, hi-lo, label, 1)
		out := dst[lo*np : hi*np]
		clear(out)
		e.backward(nops, backOpts{norms: out, m: hi - lo})
		return nil
	})
}

// paramGrads returns the full gradient of loss kind with targets t (n×C rows)
// for each sample separately, running one batch-1 gorgonia graph per sample:
// the slow reference that the batched GradNorms is tested against. Gradients
// are in state_dict layout.
func (s *Sequential) paramGrads(x []float32, n int, t []float32, kind lossKind, dt tensor.Dtype) ([][][]float64, error) {
	if err := s.checkInput(x, n); err != nil {
		return nil, err
	}
	dim := s.c * s.h * s.w
	e, err := s.build(engineKey{batch: 1, dtype: dt, mode: modeGrads, kind: kind})
	if err != nil {
		return nil, err
	}
	out := make([][][]float64, n)
	for i := 0; i < n; i++ {
		e.load(x[i*dim:(i+1)*dim], 1)
		e.setTarget(t[i*s.classes : (i+1)*s.classes])
		if err := e.run(); err != nil {
			return nil, err
		}
		out[i] = make([][]float64, len(e.grads))
		for j, gv := range e.grads {
			out[i][j] = s.stateGrad(j, valueF64(gv))
		}
	}
	return out, nil
}

// SampleGrads returns ∂J(x_i)/∂θ_l for every sample i and parameter tensor l
// (state_dict layout, float64), with J the confounding loss of c, computed by a
// batch-1 gorgonia graph per sample. It is the slow, obviously-correct
// reference for GradNorms and for closed forms such as GradNorm's; use
// GradNorms for work.
func (s *Sequential) SampleGrads(x []float32, n int, c Confound) ([][][]float64, error) {
	if err := s.checkConfound(c); err != nil {
		return nil, err
	}
	t := make([]float32, n*s.classes)
	for i := 0; i < n; i++ {
		copy(t[i*s.classes:], c.Label)
	}
	return s.paramGrads(x, n, t, confoundLoss(c.Act), tensor.Float64)
}
