package datasets

import (
	"math"
	"slices"
	"testing"
)

// moments returns the mean and population standard deviation of x.
func moments(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

func TestNoise(t *testing.T) {
	// 10 images of 1×100×100 = 100,000 values: the standard errors of the mean
	// (≤ 0.29/√1e5 ≈ 0.001) and of a fraction (≤ 0.5/√1e5 ≈ 0.0016) make a
	// tolerance of 0.005 three standard errors or more.
	const tol = 0.005
	for _, tc := range []struct {
		name      string
		gen       func(seed uint64) *Set
		mean, std float64 // expected moments
		zeros     float64 // expected fraction of values exactly 0
	}{
		// U[0,1): mean 1/2, std 1/√12.
		{"uniform", func(s uint64) *Set { return UniformNoise(10, 1, 100, 100, s) }, 0.5, 1 / math.Sqrt(12), 0},
		// N(0.5, 0.25²) clipped at ±2σ: mean 0.5 by symmetry; std
		// 0.25·√((2Φ(2)−1) − 4φ(2) + 8(1−Φ(2))) = 0.239862; a fraction
		// 1−Φ(2) = 0.022750 is clipped to 0 (hand-computed with Python's math.erf).
		{"gaussian", func(s uint64) *Set { return GaussianNoise(10, 1, 100, 100, 0.5, 0.25, s) }, 0.5, 0.239862, 0.022750},
		// N(0, 0.25²) clipped: half the values become exactly 0; mean
		// 0.25·φ(0) = 0.25/√(2π) = 0.099736; std 0.25·√(1/2 − 1/(2π)) = 0.145955
		// (the clip at 1 = 4σ touches 3e-5 of the values; ignored).
		{"gaussian at 0", func(s uint64) *Set { return GaussianNoise(10, 1, 100, 100, 0, 0.25, s) }, 0.099736, 0.145955, 0.5},
		// std 0: every value is the mean.
		{"gaussian std 0", func(s uint64) *Set { return GaussianNoise(10, 1, 100, 100, 0.3, 0, s) }, float64(float32(0.3)), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, c := tc.gen(1), tc.gen(1), tc.gen(2)
			if !slices.Equal(a.Images, b.Images) {
				t.Fatal("same seed gave different images")
			}
			if tc.std > 0 && slices.Equal(a.Images, c.Images) {
				t.Fatal("different seeds gave the same images")
			}
			if err := a.Check(); err != nil {
				t.Fatal(err) // includes every value in [0,1]
			}
			if a.Len() != 10 || a.C != 1 || a.H != 100 || a.W != 100 {
				t.Fatalf("shape %d×%d×%d×%d", a.Len(), a.C, a.H, a.W)
			}
			for i := range a.Len() {
				if a.Labels[i] != -1 || a.Index[i] != i {
					t.Fatalf("sample %d: label %d index %d, want -1 %d", i, a.Labels[i], a.Index[i], i)
				}
			}
			mean, std := moments(a.Images)
			if math.Abs(mean-tc.mean) > tol || math.Abs(std-tc.std) > tol {
				t.Errorf("mean %.4f std %.4f, want %.4f %.4f ± %v", mean, std, tc.mean, tc.std, tol)
			}
			zeros := 0
			for _, v := range a.Images {
				if v == 0 {
					zeros++
				}
			}
			if f := float64(zeros) / float64(len(a.Images)); math.Abs(f-tc.zeros) > tol {
				t.Errorf("fraction of zeros %.4f, want %.4f", f, tc.zeros)
			}
		})
	}
}

func TestNoisePanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative count", func() { UniformNoise(-1, 1, 2, 2, 0) }},
		{"zero side", func() { UniformNoise(1, 0, 2, 2, 0) }},
		{"NaN mean", func() { GaussianNoise(1, 1, 2, 2, math.NaN(), 1, 0) }},
		{"negative std", func() { GaussianNoise(1, 1, 2, 2, 0.5, -1, 0) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}
