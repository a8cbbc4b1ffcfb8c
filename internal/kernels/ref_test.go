package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// float64 reference implementations, written from the definitions.

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func conv64(s ConvShape, x, w, b []float64) []float64 {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float64, s.N*s.K*oh*ow)
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var acc float64
					if b != nil {
						acc = b[k]
					}
					for c := 0; c < s.C; c++ {
						for ky := 0; ky < s.KH; ky++ {
							for kx := 0; kx < s.KW; kx++ {
								iy, ix := oy*s.SH+ky-s.PH, ox*s.SW+kx-s.PW
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								acc += w[((k*s.C+c)*s.KH+ky)*s.KW+kx] * x[((n*s.C+c)*s.H+iy)*s.W+ix]
							}
						}
					}
					y[((n*s.K+k)*oh+oy)*ow+ox] = acc
				}
			}
		}
	}
	return y
}

func maxpool64(s PoolShape, x []float64) []float64 {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float64, s.N*s.C*oh*ow)
	for pl := 0; pl < s.N*s.C; pl++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best := math.Inf(-1)
				for ky := 0; ky < s.KH; ky++ {
					for kx := 0; kx < s.KW; kx++ {
						iy, ix := oy*s.SH+ky-s.PH, ox*s.SW+kx-s.PW
						if iy >= 0 && iy < s.H && ix >= 0 && ix < s.W {
							best = math.Max(best, x[(pl*s.H+iy)*s.W+ix])
						}
					}
				}
				y[(pl*oh+oy)*ow+ox] = best
			}
		}
	}
	return y
}

// bn64 normalises with batch statistics (train) or the given ones (eval).
func bn64(n, c, hw int, x, g, b []float64, eps float64, train bool, rm, rv []float64) []float64 {
	y := make([]float64, len(x))
	for ch := 0; ch < c; ch++ {
		var mu, v float64
		if train {
			for i := 0; i < n; i++ {
				for p := 0; p < hw; p++ {
					mu += x[(i*c+ch)*hw+p]
				}
			}
			mu /= float64(n * hw)
			for i := 0; i < n; i++ {
				for p := 0; p < hw; p++ {
					d := x[(i*c+ch)*hw+p] - mu
					v += d * d
				}
			}
			v /= float64(n * hw)
		} else {
			mu, v = rm[ch], rv[ch]
		}
		for i := 0; i < n; i++ {
			for p := 0; p < hw; p++ {
				j := (i*c+ch)*hw + p
				y[j] = g[ch]*(x[j]-mu)/math.Sqrt(v+eps) + b[ch]
			}
		}
	}
	return y
}

// fdCheck compares analytic gradients grad (of L(θ) = Σ r·f(θ)) at sampled
// coordinates with central differences of the float64 reference f.
func fdCheck(t *testing.T, name string, theta []float64, grad []float32, f func([]float64) []float64, r []float64, rng *rand.Rand, samples int) {
	t.Helper()
	loss := func() float64 {
		var l float64
		for i, v := range f(theta) {
			l += r[i] * v
		}
		return l
	}
	const h = 1e-5
	var scale float64
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(float64(g)))
	}
	for s := 0; s < samples; s++ {
		i := rng.IntN(len(theta))
		if s < len(theta) && len(theta) <= samples {
			i = s
		}
		old := theta[i]
		theta[i] = old + h
		lp := loss()
		theta[i] = old - h
		lm := loss()
		theta[i] = old
		num := (lp - lm) / (2 * h)
		if d := math.Abs(num - float64(grad[i])); d > 2e-3*(math.Abs(num)+0.05*scale) {
			t.Fatalf("%s: ∂L/∂θ[%d] = %v, finite difference %v", name, i, grad[i], num)
		}
	}
}

func closeTo(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > tol*(1+math.Abs(w)) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], w)
		}
	}
}
