package logexp

import (
	"math"
	"testing"
)

const tol = 1e-14

func TestLogSumExp(t *testing.T) {
	for _, c := range []struct {
		z    []float64
		t    float64
		want float64
	}{
		{[]float64{0, 0}, 1, math.Ln2},
		{[]float64{1, 2, 3}, 1, 3.40760596444438},      // python: math.log(sum(math.exp(v) for v in [1,2,3]))
		{[]float64{1, 2, 3}, 2, 2.1802696706417346},    // python: math.log(sum(math.exp(v/2) for v in [1,2,3]))
		{[]float64{1000, 1000}, 1, 1000 + math.Ln2},    // e^1000 overflows naively
		{[]float64{-1000, -1000}, 1, -1000 + math.Ln2}, // underflows naively
		{nil, 1, math.Inf(-1)},
	} {
		if got := LogSumExp(c.z, c.t); math.Abs(got-c.want) > tol*math.Max(1, math.Abs(c.want)) && got != c.want {
			t.Errorf("LogSumExp(%v, %v) = %.17g, want %.17g", c.z, c.t, got, c.want)
		}
	}
}

func TestSoftplusSigmoid(t *testing.T) {
	for _, c := range []struct{ x, sp, sg float64 }{
		{0, math.Ln2, 0.5},
		{1, 1.3132616875182228, 0.7310585786300049}, // python: math.log1p(math.exp(1)), 1/(1+math.exp(-1))
		{-1, 0.31326168751822286, 0.2689414213699951},
		{800, 800, 1},
		{-800, 0, 0},
	} {
		if got := Softplus(c.x); math.Abs(got-c.sp) > tol*math.Max(1, c.sp) {
			t.Errorf("Softplus(%v) = %.17g, want %.17g", c.x, got, c.sp)
		}
		if got := Sigmoid(c.x); math.Abs(got-c.sg) > tol {
			t.Errorf("Sigmoid(%v) = %.17g, want %.17g", c.x, got, c.sg)
		}
	}
}
