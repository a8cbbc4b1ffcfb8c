package models

import (
	"fmt"
	"math/rand/v2"
)

var (
	_ Inspector  = (*Sequential)(nil)
	_ Stochastic = (*Sequential)(nil)
)

// Taps lists the hidden layers LayerFeatures can read, input to output. LeNet-5:
// "conv1" (6×14×14, after ReLU and pooling), "conv2" (16×5×5), "fc1" (120) and
// "fc2" (84, after ReLU: the penultimate features). ResNet-20: "bn1" (16×32×32,
// after its ReLU), "blocks.0" … "blocks.8" (each block's output, after the
// residual add and ReLU) and "avgpool" (the 64 globally pooled features, the
// penultimate layer).
func (s *Sequential) Taps() []Tap { return append([]Tap(nil), s.prog.taps...) }

// tapIndex resolves tap names (nil: all) to indices into Taps().
func (s *Sequential) tapIndex(names []string) ([]int, error) {
	all := s.Taps()
	if names == nil {
		idx := make([]int, len(all))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	idx := make([]int, len(names))
	for i, name := range names {
		idx[i] = -1
		for j, t := range all {
			if t.Name == name {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("models: %s has no tap %q (taps: %v)", s.arch, name, tapNames(all))
		}
	}
	return idx, nil
}

func tapNames(ts []Tap) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// reduceRow writes one sample's tap activations (C×H×W) summarised as r into dst.
func reduceRow(src []float32, t Tap, r Reduce, dst []float32) {
	if r != ChannelMean {
		copy(dst, src)
		return
	}
	hw := t.H * t.W
	for c := 0; c < t.C; c++ {
		var sum float64
		for _, v := range src[c*hw : (c+1)*hw] {
			sum += float64(v)
		}
		dst[c] = float32(sum / float64(hw))
	}
}

// LayerFeatures returns, for each tap named in taps (all taps if nil), the n×Dim(r)
// matrix of its activations in eval mode. ChannelMean averages each channel over
// its H·W positions (in float64, rounded once).
func (s *Sequential) LayerFeatures(x []float32, n int, taps []string, r Reduce) ([][]float32, error) {
	if err := s.checkInput(x, n); err != nil {
		return nil, err
	}
	idx, err := s.tapIndex(taps)
	if err != nil {
		return nil, err
	}
	all := s.prog.taps
	out := make([][]float32, len(idx))
	nops := 0
	for i, j := range idx {
		out[i] = make([]float32, n*all[j].Dim(r))
		nops = max(nops, s.producer(s.prog.tapVal[j])+1)
	}
	dim := s.c * s.h * s.w
	err = s.eachNative(n, s.forwardBatch(), func(e *nengine, lo, hi int) error {
		e.load(x[lo*dim : hi*dim])
		e.forward(nops, passMode{})
		for i, j := range idx {
			t := all[j]
			src, d, full := e.vals[s.prog.tapVal[j]], t.Dim(r), t.C*t.H*t.W
			for k := lo; k < hi; k++ {
				reduceRow(src[(k-lo)*full:(k-lo+1)*full], t, r, out[i][k*d:(k+1)*d])
			}
		}
		return nil
	})
	return out, err
}

// InputGrad computes, batch by batch, the logits z_i and ∂ℓ_i(z_i)/∂x_i of a
// caller-supplied loss, with one forward and one backward pass per batch (the
// last zero-padded; padding rows carry no loss). Rows do not interact in eval
// mode, so the gradient of Σ_i ℓ_i with respect to the batch is every
// sample's own gradient. grad must have len(x) values.
func (s *Sequential) InputGrad(x []float32, n int, loss LossFunc, grad []float32) (logits []float32, losses []float64, err error) {
	if len(grad) != len(x) {
		panic(fmt.Sprintf("models: InputGrad grad has %d values, want %d", len(grad), len(x)))
	}
	if err := s.checkInput(x, n); err != nil {
		return nil, nil, err
	}
	c := s.classes
	logits, losses = make([]float32, n*c), make([]float64, n)
	err = s.nativeGrad(x, n, len(s.prog.ops), s.prog.logits, func(e *nengine, lo, m int) {
		z, g := e.vals[s.prog.logits], e.grads[s.prog.logits]
		copy(logits[lo*c:], z[:m*c])
		for i := 0; i < m; i++ {
			losses[lo+i] = e.callRow(loss, lo+i, z[i*c:(i+1)*c], g[i*c:(i+1)*c])
		}
	}, grad)
	return logits, losses, err
}

// FeatureGrad is InputGrad for a loss of tap's features reduced by r (the
// Mahalanobis detector's input preprocessing): loss(i, f_i, g) receives the
// Dim(r) features of sample i and writes ∂ℓ_i/∂f_i. The forward pass stops at
// the tap.
func (s *Sequential) FeatureGrad(x []float32, n int, tap string, r Reduce, loss LossFunc, grad []float32) (losses []float64, err error) {
	if len(grad) != len(x) {
		panic(fmt.Sprintf("models: FeatureGrad grad has %d values, want %d", len(grad), len(x)))
	}
	if err := s.checkInput(x, n); err != nil {
		return nil, err
	}
	idx, err := s.tapIndex([]string{tap})
	if err != nil {
		return nil, err
	}
	t, v := s.prog.taps[idx[0]], s.prog.tapVal[idx[0]]
	d, full, hw := t.Dim(r), t.C*t.H*t.W, t.H*t.W
	losses = make([]float64, n)
	err = s.nativeGrad(x, n, s.producer(v)+1, v, func(e *nengine, lo, m int) {
		if len(e.rowZ) < 2*d {
			e.rowZ = make([]float32, 2*d)
		}
		f, gf := e.rowZ[:d], e.rowZ[d:2*d]
		for i := 0; i < m; i++ {
			src, g := e.vals[v][i*full:(i+1)*full], e.grads[v][i*full:(i+1)*full]
			reduceRow(src, t, r, f)
			losses[lo+i] = e.callRow(loss, lo+i, f, gf)
			if r != ChannelMean {
				copy(g, gf)
				continue
			}
			for c := 0; c < t.C; c++ {
				gc := gf[c] / float32(hw)
				for j := range g[c*hw : (c+1)*hw] {
					g[c*hw+j] = gc
				}
			}
		}
	}, grad)
	return losses, err
}

// callRow calls loss on a copy of z (so the engine's buffers stay private)
// and writes its gradient into g (zeroed).
func (e *nengine) callRow(loss LossFunc, i int, z, g []float32) float64 {
	if len(e.rowG) < len(z) {
		e.rowG = make([]float32, len(z))
	}
	zc := e.rowG[:len(z)]
	copy(zc, z)
	clear(g)
	return loss(i, zc, g)
}

// nativeGrad runs nops ops forward, lets seed write the gradient of value v
// for the m real rows of each batch (starting at sample lo), propagates it back
// to the input and copies the input gradient into grad.
func (s *Sequential) nativeGrad(x []float32, n, nops, v int, seed func(e *nengine, lo, m int), grad []float32) error {
	dim := s.c * s.h * s.w
	return s.eachNative(n, s.gradBatch(), func(e *nengine, lo, hi int) error {
		e.load(x[lo*dim : hi*dim])
		e.forward(nops, passMode{})
		e.ensureGrads(false)
		e.clearGrads()
		seed(e, lo, hi-lo)
		e.backward(nops, backOpts{m: hi - lo, inputGrad: true})
		copy(grad[lo*dim:hi*dim], e.grads[0])
		return nil
	})
}

// HasDropout reports whether the architecture has dropout layers, i.e.
// whether DropoutForward differs from Forward.
func (s *Sequential) HasDropout() bool {
	for _, o := range s.prog.ops {
		if o.kind == opDropout {
			return true
		}
	}
	return false
}

// mix64 is SplitMix64's finaliser: it spreads consecutive sample indices over
// the PCG stream space.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// sampleRNG is the source of sample i's dropout masks under seed.
func sampleRNG(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, mix64(uint64(i))))
}

// DropoutForward returns logits (n×C) with dropout active (train mode; BatchNorm
// stays in eval mode so rows stay independent) and everything else as in
// Forward. Sample i's masks come from a PCG source seeded with (seed, mix(i)),
// i its index in x, so row i depends only on x_i, seed and i — not on batching
// or workers. Architectures without dropout layers return an error (a
// Monte-Carlo estimate over identical passes would silently have zero variance).
func (s *Sequential) DropoutForward(x []float32, n int, seed uint64) ([]float32, error) {
	if !s.HasDropout() {
		return nil, fmt.Errorf("models: %s has no dropout layers (%s has)", s.arch, ArchLeNet5Dropout)
	}
	if err := s.checkInput(x, n); err != nil {
		return nil, err
	}
	c, dim := s.classes, s.c*s.h*s.w
	logits := make([]float32, n*c)
	err := s.eachNative(n, s.forwardBatch(), func(e *nengine, lo, hi int) error {
		e.load(x[lo*dim : hi*dim])
		for k := 0; k < hi-lo; k++ {
			e.fillMasks(k, sampleRNG(seed, lo+k))
		}
		e.forward(len(s.prog.ops), passMode{dropout: true})
		copy(logits[lo*c:hi*c], e.vals[s.prog.logits])
		return nil
	})
	return logits, err
}

// fillMasks draws row's masks of every dropout op, in op order, from rng:
// each unit is kept (value 1/(1−p)) when a uniform draw is ≥ p, else dropped (0).
func (e *nengine) fillMasks(row int, rng *rand.Rand) {
	for i, o := range e.s.prog.ops {
		if o.kind != opDropout {
			continue
		}
		w := e.s.prog.vals[o.in].size()
		keep := float32(1 / (1 - o.p))
		for j, mk := 0, e.masks[i][row*w:(row+1)*w]; j < w; j++ {
			mk[j] = 0
			if rng.Float64() >= o.p {
				mk[j] = keep
			}
		}
	}
}
