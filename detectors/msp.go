package detectors

import (
	"fmt"
	"math"
)

func init() {
	Register("msp", "maximum softmax probability (Hendrycks & Gimpel 2017): score = −max_c softmax(z)_c", newMSP)
}

// MSP is the maximum-softmax-probability baseline (Hendrycks & Gimpel, ICLR
// 2017; OpenOOD "msp"). With logits z of C classes,
//
//	score(x) = −max_c softmax(z)_c = −1 / Σ_c exp(z_c − max_k z_k),
//
// computed in float64 with the maximum subtracted first, so any finite logits
// give a score in [−1, −1/C]. Higher = more anomalous (a less confident
// prediction). Training-free; it has no parameters.
type MSP struct{}

func newMSP(_ Env, params Decoder) (Detector, error) {
	if err := decodeParams("msp", params, &struct{}{}); err != nil {
		return nil, err
	}
	return MSP{}, nil
}

func (MSP) Name() string      { return "msp" }
func (MSP) Kind() Kind        { return Unsupervised }
func (MSP) NeedsFit() bool    { return false }
func (MSP) Fit(FitData) error { return nil }
func (MSP) Score(p Probe) ([]float64, error) {
	z, err := logits("msp", p)
	if err != nil {
		return nil, err
	}
	out := make([]float64, z.Rows)
	for i := range out {
		row := z.Row(i)
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - m)
		}
		out[i] = -1 / s
	}
	return out, nil
}

// logits fetches the logits of p and checks they are usable: at least one
// class and finite values.
func logits(typ string, p Probe) (Matrix, error) {
	z, err := p.Logits()
	if err != nil {
		return Matrix{}, fmt.Errorf("detectors: %s: %w", typ, err)
	}
	if z.Rows > 0 && z.Cols == 0 {
		return Matrix{}, fmt.Errorf("detectors: %s: logits have no columns", typ)
	}
	if err := checkFinite(typ, "logits", z); err != nil {
		return Matrix{}, err
	}
	return z, nil
}
