package detectors

import (
	"fmt"
	"math"

	"github.com/purview-lab/purview/internal/logexp"
)

func init() {
	Register("gradnorm", "GradNorm (Huang et al. 2021), last layer, L1, closed form: score = −(1/T)·‖h‖₁·Σ_j |C·p_j − 1|; param temperature (default 1)", newGradNorm)
}

// GradNorm is the GradNorm baseline of Huang, Geng and Li (NeurIPS 2021):
// the L1 norm of the gradient, with respect to the weights of the last linear
// layer z = W h + b, of the cross-entropy against the all-ones target,
// L = −Σ_c log softmax(z/T)_c. Because ∂L/∂z_j = (C·p_j − 1)/T, the gradient
// is ∂L/∂W = (C·p − 1) hᵀ / T and its L1 norm has the closed form
// (reference/anchors.md §3.2)
//
//	GradNorm(x) = (1/T) · ‖h‖₁ · Σ_j |C·p_j − 1|,   p = softmax(z/T),
//
// with h the penultimate features (the input of the last linear layer) and C
// the number of classes; no backward pass is needed. The official code uses
// GradNorm as an in-distribution confidence (larger = more ID), so
//
//	score(x) = −GradNorm(x),   higher = more anomalous.
//
// Like the official code (deeplearning-wisc/gradnorm_ood, test_ood.py), the
// bias gradient is not used. TOML parameters: temperature (float, default 1).
type GradNorm struct {
	T float64 // temperature, > 0
}

func newGradNorm(_ Env, params Decoder) (Detector, error) {
	cfg := struct {
		Temperature float64 `toml:"temperature"`
	}{Temperature: 1}
	if err := decodeParams("gradnorm", params, &cfg); err != nil {
		return nil, err
	}
	if err := checkTemperature("gradnorm", cfg.Temperature); err != nil {
		return nil, err
	}
	return GradNorm{T: cfg.Temperature}, nil
}

// Name is "gradnorm", or "gradnorm[T=<t>]" for a temperature other than 1.
func (g GradNorm) Name() string {
	if g.T == 1 {
		return "gradnorm"
	}
	return "gradnorm[T=" + formatFloat(g.T) + "]"
}

func (GradNorm) Kind() Kind        { return Unsupervised }
func (GradNorm) NeedsFit() bool    { return false }
func (GradNorm) Fit(FitData) error { return nil }
func (g GradNorm) Score(p Probe) ([]float64, error) {
	if err := checkTemperature("gradnorm", g.T); err != nil {
		return nil, err
	}
	z, err := logits("gradnorm", p)
	if err != nil {
		return nil, err
	}
	h, err := p.Penultimate()
	if err != nil {
		return nil, fmt.Errorf("detectors: gradnorm: %w", err)
	}
	if h.Rows != z.Rows {
		return nil, fmt.Errorf("detectors: gradnorm: %d rows of penultimate features for %d rows of logits", h.Rows, z.Rows)
	}
	if err := checkFinite("gradnorm", "penultimate features", h); err != nil {
		return nil, err
	}
	out := make([]float64, z.Rows)
	c := float64(z.Cols)
	for i := range out {
		row := z.Row(i)
		lse := logexp.LogSumExp(row, g.T)
		var s float64
		for _, v := range row {
			s += math.Abs(c*math.Exp(v/g.T-lse) - 1)
		}
		var h1 float64
		for _, v := range h.Row(i) {
			h1 += math.Abs(v)
		}
		out[i] = -h1 * s / g.T
	}
	return out, nil
}
