package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMaxPool2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range []PoolShape{
		{N: 2, C: 3, H: 28, W: 28, KH: 2, KW: 2, SH: 2, SW: 2},             // LeNet fast path
		{N: 2, C: 2, H: 7, W: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1}, // overlapping, padded
		{N: 1, C: 2, H: 5, W: 9, KH: 2, KW: 3, SH: 1, SW: 3},               // odd
		{N: 1, C: 1, H: 7, W: 7, KH: 2, KW: 2, SH: 2, SW: 2},               // odd input, floor mode
	} {
		name := fmt.Sprintf("%+v", s)
		x := randSlice(rng, s.InSize())
		y, idx := make([]float32, s.OutSize()), make([]int32, s.OutSize())
		MaxPool2dForward(s, x, y, idx)
		closeTo(t, name, y, maxpool64(s, f64(x)), 0)
		for j := range y {
			if x[idx[j]] != y[j] {
				t.Fatalf("%s: x[idx[%d]] = %v, y = %v", name, j, x[idx[j]], y[j])
			}
		}
		r := randSlice(rng, s.OutSize())
		dx := randSlice(rng, s.InSize())
		MaxPool2dBackward(s, r, idx, dx)
		fdCheck(t, name+" dx", f64(x), dx, func(v []float64) []float64 { return maxpool64(s, v) }, f64(r), rng, 40)
	}
}

func TestMaxPool2dTiesAndNaN(t *testing.T) {
	// Hand-made window values; PyTorch (CPU) returns the first maximum, and a
	// NaN wins over any number.
	cases := []struct {
		x    []float32
		want int32
	}{
		{[]float32{1, 3, 3, 2}, 1},
		{[]float32{5, 5, 5, 5}, 0},
		{[]float32{1, float32(math.NaN()), 9, 2}, 1},
	}
	for _, c := range cases {
		for _, s := range []PoolShape{
			{N: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2, SH: 2, SW: 2},
			{N: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2, SH: 1, SW: 1}, // general path
		} {
			y, idx := make([]float32, 1), make([]int32, 1)
			MaxPool2dForward(s, c.x, y, idx)
			if idx[0] != c.want {
				t.Errorf("%v (stride %d): argmax %d, want %d", c.x, s.SH, idx[0], c.want)
			}
		}
	}
}

func TestBatchNorm2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const eps = 1e-5
	n, c, hw := 4, 3, 10
	x := randSlice(rng, n*c*hw)
	for i := range x {
		x[i] = 2*x[i] + 0.5
	}
	g, b := randSlice(rng, c), randSlice(rng, c)
	rm, rv := []float32{0.1, -0.2, 0.3}, []float32{1, 2, 0.5}
	y := make([]float32, len(x))
	mean, is := make([]float32, c), make([]float32, c)
	rm1, rv1 := append([]float32(nil), rm...), append([]float32(nil), rv...)
	BatchNorm2dTrain(n, c, hw, x, g, b, eps, 0.1, rm1, rv1, y, mean, is)
	x64, g64, b64 := f64(x), f64(g), f64(b)
	closeTo(t, "train forward", y, bn64(n, c, hw, x64, g64, b64, eps, true, nil, nil), 1e-5)
	// Running update as PyTorch: (1−m)·run + m·stat, unbiased variance.
	for ch := 0; ch < c; ch++ {
		var mu, ss float64
		for i := 0; i < n; i++ {
			for p := 0; p < hw; p++ {
				mu += x64[(i*c+ch)*hw+p]
			}
		}
		mu /= float64(n * hw)
		for i := 0; i < n; i++ {
			for p := 0; p < hw; p++ {
				d := x64[(i*c+ch)*hw+p] - mu
				ss += d * d
			}
		}
		wantM := 0.9*float64(rm[ch]) + 0.1*mu
		wantV := 0.9*float64(rv[ch]) + 0.1*ss/float64(n*hw-1)
		if math.Abs(float64(rm1[ch])-wantM) > 1e-6 || math.Abs(float64(rv1[ch])-wantV) > 1e-6 {
			t.Fatalf("channel %d: running (%v, %v), want (%v, %v)", ch, rm1[ch], rv1[ch], wantM, wantV)
		}
	}
	// Train-mode gradients.
	r := randSlice(rng, len(x))
	dx, dg, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
	BatchNorm2dBackward(n, c, hw, x, r, g, mean, is, false, dx, dg, db)
	r64 := f64(r)
	fdCheck(t, "train dx", x64, dx, func(v []float64) []float64 { return bn64(n, c, hw, v, g64, b64, eps, true, nil, nil) }, r64, rng, 40)
	fdCheck(t, "train dγ", g64, dg, func(v []float64) []float64 { return bn64(n, c, hw, x64, v, b64, eps, true, nil, nil) }, r64, rng, 3)
	fdCheck(t, "train dβ", b64, db, func(v []float64) []float64 { return bn64(n, c, hw, x64, g64, v, eps, true, nil, nil) }, r64, rng, 3)

	// Eval mode: running statistics, untouched.
	BatchNorm2dEval(n, c, hw, x, g, b, eps, rm, rv, y)
	rm64, rv64 := f64(rm), f64(rv)
	closeTo(t, "eval forward", y, bn64(n, c, hw, x64, g64, b64, eps, false, rm64, rv64), 1e-5)
	for ch := 0; ch < c; ch++ {
		mean[ch], is[ch] = rm[ch], float32(1/math.Sqrt(float64(rv[ch])+eps))
	}
	BatchNorm2dBackward(n, c, hw, x, r, g, mean, is, true, dx, dg, db)
	evalF := func(xv, gv, bv []float64) []float64 { return bn64(n, c, hw, xv, gv, bv, eps, false, rm64, rv64) }
	fdCheck(t, "eval dx", x64, dx, func(v []float64) []float64 { return evalF(v, g64, b64) }, r64, rng, 40)
	fdCheck(t, "eval dγ", g64, dg, func(v []float64) []float64 { return evalF(x64, v, b64) }, r64, rng, 3)
	fdCheck(t, "eval dβ", b64, db, func(v []float64) []float64 { return evalF(x64, g64, v) }, r64, rng, 3)
}

func TestGlobalAvgPoolReLULinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	// Global average pool: hand-computed means of 1..4 and 5..8.
	y := make([]float32, 2)
	GlobalAvgPoolForward(1, 2, 4, []float32{1, 2, 3, 4, 5, 6, 7, 8}, y)
	if y[0] != 2.5 || y[1] != 6.5 {
		t.Fatalf("GlobalAvgPoolForward = %v, want [2.5 6.5]", y)
	}
	dx := make([]float32, 8)
	GlobalAvgPoolBackward(1, 2, 4, []float32{4, -8}, dx)
	for i, want := range []float32{1, 1, 1, 1, -2, -2, -2, -2} {
		if dx[i] != want {
			t.Fatalf("GlobalAvgPoolBackward = %v", dx)
		}
	}
	// ReLU: subgradient 0 at 0.
	x := []float32{-1, 0, 2, -0.5, 3}
	r := make([]float32, len(x))
	ReLUForward(x, r)
	g := make([]float32, len(x))
	ReLUBackward(r, []float32{1, 1, 1, 1, 1}, g)
	for i, want := range []float32{0, 0, 2, 0, 3} {
		if r[i] != want || g[i] != map[bool]float32{true: 1, false: 0}[want > 0] {
			t.Fatalf("ReLU: y = %v, dx = %v", r, g)
		}
	}
	// Linear against the definition and finite differences.
	n, in, out := 5, 7, 3
	xs, w, b := randSlice(rng, n*in), randSlice(rng, out*in), randSlice(rng, out)
	lin := func(xv, wv, bv []float64) []float64 {
		yv := make([]float64, n*out)
		for i := 0; i < n; i++ {
			for o := 0; o < out; o++ {
				s := bv[o]
				for k := 0; k < in; k++ {
					s += xv[i*in+k] * wv[o*in+k]
				}
				yv[i*out+o] = s
			}
		}
		return yv
	}
	ys := make([]float32, n*out)
	LinearForward(n, in, out, xs, w, b, ys, 2)
	x64, w64, b64 := f64(xs), f64(w), f64(b)
	closeTo(t, "linear", ys, lin(x64, w64, b64), 1e-5)
	dy := randSlice(rng, n*out)
	dxs, dw, db := make([]float32, n*in), make([]float32, out*in), make([]float32, out)
	LinearBackward(n, in, out, xs, w, dy, dxs, dw, db, 2)
	r64 := f64(dy)
	fdCheck(t, "linear dx", x64, dxs, func(v []float64) []float64 { return lin(v, w64, b64) }, r64, rng, 20)
	fdCheck(t, "linear dw", w64, dw, func(v []float64) []float64 { return lin(x64, v, b64) }, r64, rng, 20)
	fdCheck(t, "linear db", b64, db, func(v []float64) []float64 { return lin(x64, w64, v) }, r64, rng, 3)
}
