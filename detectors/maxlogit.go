package detectors

import "math"

func init() {
	Register("maxlogit", "maximum logit (Hendrycks et al. 2022): score = −max_c z_c", newMaxLogit)
}

// MaxLogit is the maximum-logit baseline (Hendrycks et al., ICML 2022;
// OpenOOD "mls"). With logits z,
//
//	score(x) = −max_c z_c.
//
// Higher = more anomalous. Training-free; it has no parameters.
type MaxLogit struct{}

func newMaxLogit(_ Env, params Decoder) (Detector, error) {
	if err := decodeParams("maxlogit", params, &struct{}{}); err != nil {
		return nil, err
	}
	return MaxLogit{}, nil
}

func (MaxLogit) Name() string      { return "maxlogit" }
func (MaxLogit) Kind() Kind        { return Unsupervised }
func (MaxLogit) NeedsFit() bool    { return false }
func (MaxLogit) Fit(FitData) error { return nil }
func (MaxLogit) Score(p Probe) ([]float64, error) {
	z, err := logits("maxlogit", p)
	if err != nil {
		return nil, err
	}
	out := make([]float64, z.Rows)
	for i := range out {
		m := math.Inf(-1)
		for _, v := range z.Row(i) {
			m = math.Max(m, v)
		}
		out[i] = -m
	}
	return out, nil
}
