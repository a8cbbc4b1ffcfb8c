package models

import (
	"math"
	"testing"
)

// TestLossGradFiniteDifferences checks the closed-form ∂J/∂z of every loss
// against central differences of the loss itself, including confident logits
// where naive log(softmax) or log(1−σ) would overflow.
func TestLossGradFiniteDifferences(t *testing.T) {
	cases := []struct {
		name string
		z, t []float64
	}{
		{"moderate", []float64{0.3, -1.2, 2.5, 0.1}, []float64{1, 1, 1, 1}},
		{"khot", []float64{0.3, -1.2, 2.5, 0.1}, []float64{1, 0, 0, 1}},
		{"zeros", []float64{0.3, -1.2, 2.5, 0.1}, []float64{0, 0, 0, 0}},
		{"onehot", []float64{4, -3, 1, 0.5}, []float64{0, 0, 1, 0}},
		{"confident", []float64{30, -20, -25, -18}, []float64{1, 0, 1, 1}},
	}
	const h = 1e-6
	for _, k := range []lossKind{lossCE, lossBCESigmoid, lossBCESoftmax} {
		for _, c := range cases {
			tf := func(j int) float64 { return c.t[j] }
			d := make([]float64, len(c.z))
			rowGrad(k, c.z, c.t, d)
			for j := range c.z {
				zp := append([]float64(nil), c.z...)
				zm := append([]float64(nil), c.z...)
				zp[j] += h
				zm[j] -= h
				fd := (rowLoss(k, zp, tf) - rowLoss(k, zm, tf)) / (2 * h)
				if math.IsNaN(d[j]) || math.Abs(fd-d[j]) > 1e-6*math.Max(1, math.Abs(fd)) {
					t.Errorf("%v %s: ∂J/∂z_%d = %.10g, finite difference %.10g", k, c.name, j, d[j], fd)
				}
			}
			if l := rowLoss(k, c.z, tf); math.IsNaN(l) || math.IsInf(l, 0) {
				t.Errorf("%v %s: loss %v", k, c.name, l)
			}
		}
	}
}

// TestLossClosedForms pins the losses to values computed by hand / PyTorch:
// BCE-with-logits of z=[0,0] against [1,1] is 2·log 2; softmax BCE with all
// ones is −Σ log p_c = GradNorm's loss.
func TestLossClosedForms(t *testing.T) {
	one := func(int) float64 { return 1 }
	if got, want := rowLoss(lossBCESigmoid, []float64{0, 0}, one), 2*math.Ln2; math.Abs(got-want) > 1e-15 {
		t.Errorf("sigmoid BCE = %v, want %v", got, want)
	}
	z := []float64{1, 2, 3}
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	want := 3*lse - 6
	if got := rowLoss(lossBCESoftmax, z, one); math.Abs(got-want) > 1e-12 {
		t.Errorf("softmax BCE all ones = %v, want %v", got, want)
	}
	d := make([]float64, 3)
	rowGrad(lossBCESoftmax, z, []float64{1, 1, 1}, d)
	for j := range z {
		p := math.Exp(z[j] - lse)
		if w := 3*p - 1; math.Abs(d[j]-w) > 1e-12 {
			t.Errorf("∂J/∂z_%d = %v, want C·p−1 = %v", j, d[j], w)
		}
	}
	// PyTorch: F.cross_entropy(torch.tensor([[1.,2.,3.]]), torch.tensor([2])) = 0.40760596
	if got := rowLoss(lossCE, z, func(j int) float64 { return []float64{0, 0, 1}[j] }); math.Abs(got-0.40760596444438) > 1e-9 {
		t.Errorf("cross-entropy = %v, want 0.40760596", got)
	}
}
