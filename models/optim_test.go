package models

import (
	"math"
	"slices"
	"testing"
)

// closeTo reports whether got and want agree to float32 rounding (relative 1e-6).
func closeTo(got []float32, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		if math.Abs(float64(got[i])-w) > 1e-6*math.Max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}

// TestSGDUpdate: two steps of torch.optim.SGD's update, by hand, for
// θ = (1, −2, 0.5), a constant gradient (0.5, 0.25, −1), lr 0.1.
func TestSGDUpdate(t *testing.T) {
	g := []float32{0.5, 0.25, -1}
	for _, c := range []struct {
		name     string
		mu, wd   float64
		nesterov bool
		step1    []float64
		step2    []float64
		buf2     []float64 // momentum buffer after step 2 (nil: none kept)
	}{
		// θ − lr·g each step.
		{"plain", 0, 0, false, []float64{0.95, -2.025, 0.6}, []float64{0.9, -2.05, 0.7}, nil},
		// d = g + 0.1·θ = (0.6, 0.05, −0.95); θ₁ = θ − 0.1·d;
		// d₂ = g + 0.1·θ₁ = (0.594, 0.0495, −0.9405), θ₂ = θ₁ − 0.1·d₂.
		{"weight decay", 0, 0.1, false, []float64{0.94, -2.005, 0.595}, []float64{0.8806, -2.00995, 0.68905}, nil},
		// b₁ = d = (0.6, 0.05, −0.95), θ₁ = θ − 0.1·b₁ = (0.94, −2.005, 0.595);
		// d₂ = (0.594, 0.0495, −0.9405), b₂ = 0.9·b₁ + d₂ = (1.134, 0.0945, −1.7955),
		// θ₂ = θ₁ − 0.1·b₂.
		{"momentum", 0.9, 0.1, false, []float64{0.94, -2.005, 0.595}, []float64{0.8266, -2.01445, 0.77455}, []float64{1.134, 0.0945, -1.7955}},
		// b₁ = d, step d + 0.9·b₁ = 1.9·d = (1.14, 0.095, −1.805), θ₁ = (0.886, −2.0095, 0.6805);
		// d₂ = g + 0.1·θ₁ = (0.5886, 0.04905, −0.93195), b₂ = 0.9·b₁ + d₂ = (1.1286, 0.09405, −1.78695),
		// step d₂ + 0.9·b₂ = (1.60434, 0.133695, −2.540205), θ₂ = θ₁ − 0.1·step.
		{"nesterov", 0.9, 0.1, true, []float64{0.886, -2.0095, 0.6805}, []float64{0.725566, -2.0228695, 0.9345205}, []float64{1.1286, 0.09405, -1.78695}},
	} {
		w := []float32{1, -2, 0.5}
		var buf []float32
		if c.mu != 0 {
			buf = []float32{7, 7, 7} // the first step must overwrite it
		}
		sgdUpdate(w, g, buf, 0.1, c.mu, c.wd, c.nesterov, true)
		if !closeTo(w, c.step1) {
			t.Errorf("%s: step 1 gives %v, want %v", c.name, w, c.step1)
		}
		sgdUpdate(w, g, buf, 0.1, c.mu, c.wd, c.nesterov, false)
		if !closeTo(w, c.step2) {
			t.Errorf("%s: step 2 gives %v, want %v", c.name, w, c.step2)
		}
		if c.buf2 != nil && !closeTo(buf, c.buf2) {
			t.Errorf("%s: momentum buffer %v, want %v", c.name, buf, c.buf2)
		}
	}
}

// TestAdamUpdate: two Adam steps with L2 weight decay 0.1, lr 0.1, β (0.9,
// 0.999), ε 1e-8, θ = (1, −2), constant gradient (0.5, −0.25). By hand:
// g₁ = g + 0.1·θ = (0.6, −0.45); m₁ = 0.1·g₁, m₂ = 0.001·g₁², so the first
// step is lr·sign: θ₁ = (0.9, −1.9). g₂ = (0.59, −0.44),
// m₁ = (0.113, −0.0845), m₂ = (0.00070774, 0.0003958975), bias corrections
// 0.19 and 0.001999: θ₂ = θ₁ − 0.1·(m₁/0.19)/√(m₂/0.001999) = (0.80004734, −1.80006489).
func TestAdamUpdate(t *testing.T) {
	w, g := []float32{1, -2}, []float32{0.5, -0.25}
	m1, m2 := make([]float32, 2), make([]float32, 2)
	for step := 1; step <= 2; step++ {
		c1, c2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
		adamUpdate(w, g, m1, m2, 0.1, 0.9, 0.999, 1e-8, c1, c2, 0.1)
	}
	if !closeTo(w, []float64{0.8000473404883316, -1.800064887431148}) || !closeTo(m1, []float64{0.113, -0.0845}) || !closeTo(m2, []float64{0.00070774, 0.0003958975}) {
		t.Errorf("θ %v, m₁ %v, m₂ %v", w, m1, m2)
	}
	// Without weight decay the update is Train's original one, operation for operation.
	w, m1, m2 = []float32{1, -2}, []float32{0.01, 0.02}, []float32{0.001, 0.002}
	want := slices.Clone(w)
	a, v := slices.Clone(m1), slices.Clone(m2)
	const b1, b2, eps, lr, c1, c2 = 0.9, 0.999, 1e-8, 1e-3, 0.19, 0.001999
	for j := range want {
		gj := float64(g[j])
		a[j] = float32(b1*float64(a[j]) + (1-b1)*gj)
		v[j] = float32(b2*float64(v[j]) + (1-b2)*gj*gj)
		mh := float64(a[j]) / c1
		vh := float64(v[j]) / c2
		want[j] -= float32(lr * mh / (math.Sqrt(vh) + eps))
	}
	adamUpdate(w, g, m1, m2, lr, b1, b2, eps, c1, c2, 0)
	if !slices.Equal(w, want) || !slices.Equal(m1, a) || !slices.Equal(m2, v) {
		t.Errorf("wd = 0: θ %v, m₁ %v, m₂ %v; want %v, %v, %v", w, m1, m2, want, a, v)
	}
}
