package models

import (
	"fmt"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/floats"
	"gorgonia.org/tensor"
)

// Batch sizes of the compiled graphs. Inputs are cut into batches of exactly
// this size (the last one zero-padded), so a sample's result never depends on
// how many samples were passed or how many workers ran.
const (
	ForwardBatch = 128
	GradBatch    = 64
)

// eachBatch runs fn on batches [lo,hi) of n samples, batch size bs, with up to
// s.workers goroutines, each holding its own engine.
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
	bs := ForwardBatch
	key := engineKey{batch: bs, dtype: tensor.Float32, mode: modeForward}
	err = s.eachBatch(n, bs, key, func(e *engine, lo, hi int) error {
		e.load(x[lo*dim:hi*dim], hi-lo)
		if err := e.run(); err != nil {
			return err
		}
		copy(logits[lo*c:hi*c], e.logits.Data().([]float32)[:(hi-lo)*c])
		copy(feats[lo*d:hi*d], e.feats.Data().([]float32)[:(hi-lo)*d])
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
// for every sample, from one batched backward pass per batch:
//
//	linear layer, a_i its input, δ_i = ∂J/∂(W a_i + b):  r_W = ‖a_i‖²·‖δ_i‖²,  r_b = ‖δ_i‖²
//	convolution, U_i = cols(a_i) (K×P), δ_i (Cout×P):  r_W = ‖δ_i U_iᵀ‖²_F,  r_b = Σ_c (Σ_p δ_icp)²
//
// The loss is summed (not averaged) over the batch, so δ_i is sample i's own gradient.
func (s *Sequential) GradNorms(x []float32, n int, c Confound, dst []float64) error {
	if err := s.checkInput(x, n); err != nil {
		return err
	}
	if err := s.checkConfound(c); err != nil {
		return err
	}
	p := len(s.params)
	if len(dst) != n*p {
		panic(fmt.Sprintf("models: GradNorms dst has %d values, want %d", len(dst), n*p))
	}
	dim := s.c * s.h * s.w
	bs := GradBatch
	key := engineKey{batch: bs, dtype: tensor.Float32, mode: modeDeltas, kind: confoundLoss(c.Act)}
	return s.eachBatch(n, bs, key, func(e *engine, lo, hi int) error {
		e.load(x[lo*dim:hi*dim], hi-lo)
		e.setTarget(c.Label)
		if err := e.run(); err != nil {
			return err
		}
		s.normsFromDeltas(e, hi-lo, dst[lo*p:hi*p])
		return nil
	})
}

// normsFromDeltas turns an engine's per-layer inputs and output gradients into
// the per-sample squared norms of the first m samples.
func (s *Sequential) normsFromDeltas(e *engine, m int, dst []float64) {
	p := len(s.params)
	var cols []float64
	for li, l := range s.layers {
		a, d := valueF64(e.acts[li]), valueF64(e.deltas[li])
		if l.conv {
			K, P := l.in*l.k*l.k, l.outH*l.outW
			inSz := l.in * l.inH * l.inW
			if len(cols) < K*P {
				cols = make([]float64, K*P)
			}
			for i := 0; i < m; i++ {
				im2col(a[i*inSz:(i+1)*inSz], l.in, l.inH, l.inW, l.k, l.pad, l.outH, l.outW, cols[:K*P])
				di := d[i*l.out*P : (i+1)*l.out*P]
				var rw, rb float64
				for o := 0; o < l.out; o++ {
					drow := di[o*P : (o+1)*P]
					sb := floats.Sum(drow)
					rb += sb * sb
					for k := 0; k < K; k++ {
						g := floats.Dot(drow, cols[k*P:(k+1)*P])
						rw += g * g
					}
				}
				dst[i*p+2*li], dst[i*p+2*li+1] = rw, rb
			}
			continue
		}
		for i := 0; i < m; i++ {
			var na, nd float64
			for _, v := range a[i*l.in : (i+1)*l.in] {
				na += v * v
			}
			for _, v := range d[i*l.out : (i+1)*l.out] {
				nd += v * v
			}
			dst[i*p+2*li], dst[i*p+2*li+1] = na*nd, nd
		}
	}
}

// im2col writes the K×P patch matrix of one image (C×H×W, stride 1, zero
// padding pad): row (c,ky,kx), column (oy,ox) holds img[c, oy+ky−pad, ox+kx−pad].
func im2col(img []float64, c, h, w, k, pad, oh, ow int, cols []float64) {
	P := oh * ow
	for ch := 0; ch < c; ch++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := cols[((ch*k+ky)*k+kx)*P:][:P]
				for oy := 0; oy < oh; oy++ {
					iy := oy + ky - pad
					for ox := 0; ox < ow; ox++ {
						ix := ox + kx - pad
						v := 0.0
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							v = img[(ch*h+iy)*w+ix]
						}
						row[oy*ow+ox] = v
					}
				}
			}
		}
	}
}

// paramGrads returns the full gradient of loss kind with targets t (n×C rows)
// for each sample separately, running one batch-1 graph per sample: the slow
// reference that the batched GradNorms is tested against. Gradients are in
// state_dict layout.
func (s *Sequential) paramGrads(x []float32, n int, t []float32, kind lossKind, dt tensor.Dtype) ([][][]float64, error) {
	if err := s.checkInput(x, n); err != nil {
		return nil, err
	}
	dim := s.c * s.h * s.w
	e, err := s.build(1, dt, modeGrads, kind)
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
			li := j / 2
			gd := append([]float64(nil), valueF64(gv)...)
			if j%2 == 0 && !s.layers[li].conv { // transpose [in,out] back to [out,in]
				l := s.layers[li]
				tr := make([]float64, len(gd))
				for o := 0; o < l.out; o++ {
					for k := 0; k < l.in; k++ {
						tr[o*l.in+k] = gd[k*l.out+o]
					}
				}
				gd = tr
			}
			out[i][j] = gd
		}
	}
	return out, nil
}

// SampleGrads returns ∂J(x_i)/∂θ_l for every sample i and parameter tensor l
// (state_dict layout, float64), with J the confounding loss of c, computed by a
// batch-1 graph per sample. It is the slow, obviously-correct reference for
// GradNorms and for closed forms such as GradNorm's; use GradNorms for work.
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
