package detectors

// Helpers shared by the detectors that look inside the model (ODIN,
// Mahalanobis, LID, KD, BU): access to models.Inspector, the signed input
// step of ODIN and Mahalanobis, softmax, and parameter checks.

import (
	"fmt"
	"math"

	"github.com/purview-lab/purview/models"
)

// inspector returns the model of p as a models.Inspector, or an error naming
// the detector typ when the model cannot show its hidden layers.
func inspector(typ string, p Probe) (models.Inspector, error) {
	net := p.Model()
	if net == nil {
		return nil, fmt.Errorf("detectors: %s: the probe has no model", typ)
	}
	ins, ok := net.(models.Inspector)
	if !ok {
		return nil, fmt.Errorf("detectors: %s: model %s does not expose hidden layers and input gradients (it is not a models.Inspector)", typ, net.Arch())
	}
	return ins, nil
}

// modelTaps returns the hidden layers of p's model, input to output; at
// least one.
func modelTaps(typ string, p Probe) ([]models.Tap, error) {
	ins, err := inspector(typ, p)
	if err != nil {
		return nil, err
	}
	taps := ins.Taps()
	if len(taps) == 0 {
		return nil, fmt.Errorf("detectors: %s: model %s reports no hidden layers", typ, ins.Arch())
	}
	return taps, nil
}

// probeInputs returns the images of p for a detector that perturbs them.
func probeInputs(typ string, p Probe) ([]float32, int, error) {
	x, n, err := p.Inputs()
	if err != nil {
		return nil, 0, fmt.Errorf("detectors: %s: %w", typ, err)
	}
	return x, n, nil
}

// signStep returns the input step of ODIN and of Mahalanobis preprocessing,
//
//	x̃ = x − ε·s(g),   s(g) = +1 if g ≥ 0, −1 otherwise,
//
// elementwise, in float32 (x̃ = float32(x − ε) or float32(x + ε)). A zero
// gradient counts as positive, as in the reference code (ODIN,
// deep_Mahalanobis_detector, OpenOOD), which takes the sign as
// 2·(grad ≥ 0) − 1. The result is not clipped to [0,1] (neither is the
// reference's). It returns an error naming the first non-finite gradient
// entry.
func signStep(typ string, x, g []float32, eps float64) ([]float32, error) {
	if len(x) != len(g) {
		panic(fmt.Sprintf("detectors: signStep: %d inputs, %d gradient entries", len(x), len(g)))
	}
	out := make([]float32, len(x))
	for i, v := range g {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("detectors: %s: input gradient entry %d is %v", typ, i, v)
		}
		if v >= 0 {
			out[i] = float32(float64(x[i]) - eps)
		} else {
			out[i] = float32(float64(x[i]) + eps)
		}
	}
	return out, nil
}

// softmaxTo writes softmax(z/t) into dst (len(z)), max subtracted first.
func softmaxTo(dst, z []float64, t float64) {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v/t)
	}
	var s float64
	for j, v := range z {
		dst[j] = math.Exp(v/t - m)
		s += dst[j]
	}
	for j := range dst {
		dst[j] /= s
	}
}

// negMaxSoftmax returns −max_c softmax(z/t)_c = −1/Σ_c exp(z_c/t − max_k z_k/t).
func negMaxSoftmax(z []float64, t float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v/t)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(v/t - m)
	}
	return -1 / s
}

// argmax returns the index of the first largest entry of v.
func argmax(v []float64) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}

// checkPositive validates a parameter that must be finite and > 0.
func checkPositive(typ, key string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("detectors: %s: key %q: want a finite positive number, got %v", typ, key, v)
	}
	return nil
}

// checkNonNegative validates a parameter that must be finite and ≥ 0.
func checkNonNegative(typ, key string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("detectors: %s: key %q: want a finite number ≥ 0, got %v", typ, key, v)
	}
	return nil
}

// fitLabels returns the class labels of the in-distribution fit set p,
// checking that every sample has one (≥ 0).
func fitLabels(typ string, p Probe) ([]int, error) {
	labels := p.Labels()
	if labels == nil {
		return nil, fmt.Errorf("detectors: %s: the in-distribution fit samples have no class labels; the fit set must be a labelled dataset", typ)
	}
	if len(labels) != p.Len() {
		return nil, fmt.Errorf("detectors: %s: %d labels for %d in-distribution fit samples", typ, len(labels), p.Len())
	}
	for i, c := range labels {
		if c < 0 {
			return nil, fmt.Errorf("detectors: %s: in-distribution fit sample %d has no class label (%d); the fit set must be labelled", typ, i, c)
		}
	}
	return labels, nil
}

// featureRows fetches a matrix through get, wraps its error with typ, checks
// it has p.Len() finite rows; what names it in errors.
func featureRows(typ, what string, p Probe, get func() (Matrix, error)) (Matrix, error) {
	m, err := get()
	if err != nil {
		return Matrix{}, fmt.Errorf("detectors: %s: %w", typ, err)
	}
	if m.Rows != p.Len() {
		return Matrix{}, fmt.Errorf("detectors: %s: %d rows of %s for %d samples", typ, m.Rows, what, p.Len())
	}
	if err := checkFinite(typ, what, m); err != nil {
		return Matrix{}, err
	}
	return m, nil
}
