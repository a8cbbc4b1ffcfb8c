package kernels

import (
	"fmt"
	"math"
)

// PoolShape describes a max pooling of an N×C×H×W input with a KH×KW window,
// stride and implicit −∞ padding (PyTorch's MaxPool2d, floor mode):
//
//	y[n,c,oy,ox] = max_{ky,kx} x[n,c, oy·SH+ky−PH, ox·SW+kx−PW]  (in-image taps only)
type PoolShape struct {
	N, C, H, W int
	KH, KW     int
	SH, SW     int
	PH, PW     int
}

// OutH is (H+2·PH−KH)/SH + 1; OutW likewise.
func (s PoolShape) OutH() int { return (s.H+2*s.PH-s.KH)/s.SH + 1 }

// OutW is (W+2·PW−KW)/SW + 1.
func (s PoolShape) OutW() int { return (s.W+2*s.PW-s.KW)/s.SW + 1 }

// InSize and OutSize are the lengths of x and y.
func (s PoolShape) InSize() int  { return s.N * s.C * s.H * s.W }
func (s PoolShape) OutSize() int { return s.N * s.C * s.OutH() * s.OutW() }

// MaxPool2dForward writes y and, per output, idx = the flat index into x of
// the maximum (the first one in window order on ties, as PyTorch). Every
// window must hold at least one in-image tap (PH < KH, PW < KW).
func MaxPool2dForward(s PoolShape, x, y []float32, idx []int32) {
	if s.N < 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.KH <= 0 || s.KW <= 0 || s.SH <= 0 || s.SW <= 0 ||
		s.PH < 0 || s.PW < 0 || s.PH >= s.KH || s.PW >= s.KW || s.OutH() <= 0 || s.OutW() <= 0 {
		panic(fmt.Sprintf("kernels: MaxPool2dForward: invalid pooling %+v", s))
	}
	checkLen("MaxPool2dForward", "x", len(x), s.InSize())
	checkLen("MaxPool2dForward", "y", len(y), s.OutSize())
	checkLen("MaxPool2dForward", "idx", len(idx), s.OutSize())
	oh, ow := s.OutH(), s.OutW()
	o := 0
	for pl := 0; pl < s.N*s.C; pl++ {
		base := pl * s.H * s.W
		plane := x[base : base+s.H*s.W]
		// Fast path: 2×2 stride 2 without padding (LeNet), all taps inside.
		if s.KH == 2 && s.KW == 2 && s.SH == 2 && s.SW == 2 && s.PH == 0 && s.PW == 0 {
			for oy := 0; oy < oh; oy++ {
				r0, r1 := plane[2*oy*s.W:], plane[(2*oy+1)*s.W:]
				for ox := 0; ox < ow; ox++ {
					j := 2 * ox
					best, bi := r0[j], 2*oy*s.W+j
					if v := r0[j+1]; v > best || v != v {
						best, bi = v, 2*oy*s.W+j+1
					}
					if v := r1[j]; v > best || v != v {
						best, bi = v, (2*oy+1)*s.W+j
					}
					if v := r1[j+1]; v > best || v != v {
						best, bi = v, (2*oy+1)*s.W+j+1
					}
					y[o], idx[o] = best, int32(base+bi)
					o++
				}
			}
			continue
		}
		for oy := 0; oy < oh; oy++ {
			y0 := max(0, oy*s.SH-s.PH)
			y1 := min(s.H, oy*s.SH-s.PH+s.KH)
			for ox := 0; ox < ow; ox++ {
				x0 := max(0, ox*s.SW-s.PW)
				x1 := min(s.W, ox*s.SW-s.PW+s.KW)
				// As PyTorch: start at −∞ on the first tap; a NaN wins and
				// only a later NaN replaces it.
				best, bi := float32(math.Inf(-1)), y0*s.W+x0
				for iy := y0; iy < y1; iy++ {
					for ix := x0; ix < x1; ix++ {
						if v := plane[iy*s.W+ix]; v > best || v != v {
							best, bi = v, iy*s.W+ix
						}
					}
				}
				y[o], idx[o] = best, int32(base+bi)
				o++
			}
		}
	}
}

// MaxPool2dBackward sets dx = 0, then dx[idx[j]] += dy[j] for every output j.
func MaxPool2dBackward(s PoolShape, dy []float32, idx []int32, dx []float32) {
	checkLen("MaxPool2dBackward", "dy", len(dy), s.OutSize())
	checkLen("MaxPool2dBackward", "idx", len(idx), s.OutSize())
	checkLen("MaxPool2dBackward", "dx", len(dx), s.InSize())
	clear(dx[:s.InSize()])
	for j, g := range dy[:s.OutSize()] {
		dx[idx[j]] += g
	}
}

// BatchNorm2dTrain normalises an N×C×HW input with its batch statistics and
// updates the running ones, as PyTorch's BatchNorm2d in training mode:
//
//	μ_c = mean_{n,p} x,  σ²_c = mean_{n,p} (x−μ_c)²  (biased),
//	y = γ_c·(x−μ_c)/√(σ²_c+eps) + β_c,
//	run_μ ← (1−m)·run_μ + m·μ_c,  run_σ² ← (1−m)·run_σ² + m·σ²_c·M/(M−1),  M = N·HW.
//
// Statistics accumulate in float64. mean and invStd (len C) receive μ_c and
// 1/√(σ²_c+eps) for BatchNorm2dBackward. runMean/runVar may be nil (no update).
func BatchNorm2dTrain(n, c, hw int, x, gamma, beta []float32, eps, momentum float64, runMean, runVar, y, mean, invStd []float32) {
	bnCheck("BatchNorm2dTrain", n, c, hw, x, gamma, beta, y)
	checkLen("BatchNorm2dTrain", "mean", len(mean), c)
	checkLen("BatchNorm2dTrain", "invStd", len(invStd), c)
	m := float64(n * hw)
	for ch := 0; ch < c; ch++ {
		var s float64
		for i := 0; i < n; i++ {
			s += sum32(x[(i*c+ch)*hw : (i*c+ch+1)*hw])
		}
		mu := s / m
		var ss float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				d := float64(v) - mu
				ss += d * d
			}
		}
		v := ss / m
		is := 1 / math.Sqrt(v+eps)
		mean[ch], invStd[ch] = float32(mu), float32(is)
		bnApply(n, c, hw, ch, x, y, float32(is*float64(gamma[ch])), float32(float64(beta[ch])-mu*is*float64(gamma[ch])))
		if runMean != nil {
			runMean[ch] = float32((1-momentum)*float64(runMean[ch]) + momentum*mu)
		}
		if runVar != nil && m > 1 {
			runVar[ch] = float32((1-momentum)*float64(runVar[ch]) + momentum*v*m/(m-1))
		}
	}
}

// BatchNorm2dEval normalises with running statistics (PyTorch eval mode):
// y = γ_c·(x−run_μ_c)/√(run_σ²_c+eps) + β_c.
func BatchNorm2dEval(n, c, hw int, x, gamma, beta []float32, eps float64, runMean, runVar, y []float32) {
	bnCheck("BatchNorm2dEval", n, c, hw, x, gamma, beta, y)
	checkLen("BatchNorm2dEval", "runMean", len(runMean), c)
	checkLen("BatchNorm2dEval", "runVar", len(runVar), c)
	for ch := 0; ch < c; ch++ {
		is := 1 / math.Sqrt(float64(runVar[ch])+eps)
		a := is * float64(gamma[ch])
		bnApply(n, c, hw, ch, x, y, float32(a), float32(float64(beta[ch])-float64(runMean[ch])*a))
	}
}

// bnApply sets y = a·x + b on channel ch.
func bnApply(n, c, hw, ch int, x, y []float32, a, b float32) {
	for i := 0; i < n; i++ {
		src, dst := x[(i*c+ch)*hw:(i*c+ch+1)*hw], y[(i*c+ch)*hw:(i*c+ch+1)*hw]
		for j, v := range src {
			dst[j] = a*v + b
		}
	}
}

func bnCheck(op string, n, c, hw int, x, gamma, beta, y []float32) {
	if n < 0 || c <= 0 || hw <= 0 {
		panic(fmt.Sprintf("kernels: %s: bad sizes n=%d c=%d hw=%d", op, n, c, hw))
	}
	checkLen(op, "x", len(x), n*c*hw)
	checkLen(op, "y", len(y), n*c*hw)
	checkLen(op, "gamma", len(gamma), c)
	checkLen(op, "beta", len(beta), c)
}

// BatchNorm2dBackward computes the gradients of a BatchNorm2dTrain forward
// from dy, with x̂ = (x−μ)·invStd and M = N·HW:
//
//	dβ_c = Σ dy,  dγ_c = Σ dy·x̂,  dx = γ_c·invStd_c/M·(M·dy − dβ_c − x̂·dγ_c).
//
// With eval true the forward used fixed (running) statistics, passed as mean
// and invStd = 1/√(run_σ²+eps); then dx = γ_c·invStd_c·dy. dx, dgamma, dbeta
// are overwritten; any of them may be nil. Sums accumulate in float64.
func BatchNorm2dBackward(n, c, hw int, x, dy, gamma, mean, invStd []float32, eval bool, dx, dgamma, dbeta []float32) {
	if n < 0 || c <= 0 || hw <= 0 {
		panic(fmt.Sprintf("kernels: BatchNorm2dBackward: bad sizes n=%d c=%d hw=%d", n, c, hw))
	}
	checkLen("BatchNorm2dBackward", "x", len(x), n*c*hw)
	checkLen("BatchNorm2dBackward", "dy", len(dy), n*c*hw)
	m := float64(n * hw)
	for ch := 0; ch < c; ch++ {
		mu, is := float64(mean[ch]), float64(invStd[ch])
		var sdy, sdyx float64
		for i := 0; i < n; i++ {
			xs, ds := x[(i*c+ch)*hw:(i*c+ch+1)*hw], dy[(i*c+ch)*hw:(i*c+ch+1)*hw]
			for j, g := range ds {
				sdy += float64(g)
				sdyx += float64(g) * (float64(xs[j]) - mu)
			}
		}
		dg := sdyx * is // Σ dy·x̂
		if dgamma != nil {
			dgamma[ch] = float32(dg)
		}
		if dbeta != nil {
			dbeta[ch] = float32(sdy)
		}
		if dx == nil {
			continue
		}
		g := float64(gamma[ch])
		// dx = a·dy + b·x + d, folding x̂ = (x−μ)·is.
		a, b, d := g*is, 0.0, 0.0
		if !eval {
			b = -g * is / m * dg * is
			d = -g*is/m*sdy - b*mu
		}
		for i := 0; i < n; i++ {
			xs, ds, out := x[(i*c+ch)*hw:(i*c+ch+1)*hw], dy[(i*c+ch)*hw:(i*c+ch+1)*hw], dx[(i*c+ch)*hw:(i*c+ch+1)*hw]
			for j, gv := range ds {
				out[j] = float32(a*float64(gv) + b*float64(xs[j]) + d)
			}
		}
	}
}

// GlobalAvgPoolForward sets y[n,c] = mean_p x[n,c,p] over the hw pixels.
func GlobalAvgPoolForward(n, c, hw int, x, y []float32) {
	checkLen("GlobalAvgPoolForward", "x", len(x), n*c*hw)
	checkLen("GlobalAvgPoolForward", "y", len(y), n*c)
	for i := 0; i < n*c; i++ {
		y[i] = float32(sum32(x[i*hw:(i+1)*hw]) / float64(hw))
	}
}

// GlobalAvgPoolBackward sets dx[n,c,p] = dy[n,c]/hw.
func GlobalAvgPoolBackward(n, c, hw int, dy, dx []float32) {
	checkLen("GlobalAvgPoolBackward", "dy", len(dy), n*c)
	checkLen("GlobalAvgPoolBackward", "dx", len(dx), n*c*hw)
	for i := 0; i < n*c; i++ {
		g := dy[i] / float32(hw)
		row := dx[i*hw : (i+1)*hw]
		for j := range row {
			row[j] = g
		}
	}
}

// ReLUForward sets y = max(x, 0); y may alias x.
func ReLUForward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// ReLUBackward sets dx = dy where y > 0, else 0 (the subgradient 0 at 0, as
// PyTorch); y is the forward output or input (same sign). dx may alias dy.
func ReLUBackward(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		// Branch-free (signs are random, so a branch mispredicts half the
		// time): int32(bits) > 0 exactly when v > 0 (or v is a positive NaN).
		m := uint32((-int64(int32(math.Float32bits(v)))) >> 63)
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
	}
}

// LinearForward computes y = x·Wᵀ + b for x (n×in), W (out×in, PyTorch
// layout), b (out, may be nil), y (n×out).
func LinearForward(n, in, out int, x, w, b, y []float32, workers int) {
	checkLen("LinearForward", "y", len(y), n*out)
	beta := float32(0)
	if b != nil {
		checkLen("LinearForward", "b", len(b), out)
		for i := 0; i < n; i++ {
			copy(y[i*out:(i+1)*out], b[:out])
		}
		beta = 1
	}
	SgemmParallel(workers, false, true, n, out, in, 1, x, in, w, in, beta, y, out)
}

// LinearBackward computes, from dy (n×out), dx = dy·W (n×in), dW = dyᵀ·x
// (out×in) and db = Σ_n dy (out). Outputs are overwritten; any may be nil.
func LinearBackward(n, in, out int, x, w, dy, dx, dw, db []float32, workers int) {
	checkLen("LinearBackward", "dy", len(dy), n*out)
	if dx != nil {
		SgemmParallel(workers, false, false, n, in, out, 1, dy, out, w, in, 0, dx, in)
	}
	if dw != nil {
		SgemmParallel(workers, true, false, out, in, n, 1, dy, out, x, in, 0, dw, in)
	}
	if db != nil {
		checkLen("LinearBackward", "db", len(db), out)
		for o := 0; o < out; o++ {
			var s float64
			for i := 0; i < n; i++ {
				s += float64(dy[i*out+o])
			}
			db[o] = float32(s)
		}
	}
}
