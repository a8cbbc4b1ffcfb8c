package detectors

import "github.com/purview-lab/purview/internal/logexp"

func init() {
	Register("energy", "energy score (Liu et al. 2020): score = −T·logsumexp(z/T); param temperature (default 1)", newEnergy)
}

// Energy is the energy-based baseline (Liu et al., NeurIPS 2020; OpenOOD
// "ebo"). With logits z and temperature T > 0,
//
//	score(x) = E(x; T) = −T · log Σ_c exp(z_c / T),
//
// the free energy itself: OpenOOD's confidence T·logsumexp(z/T) (the negative
// free energy, larger = more in-distribution) negated, so higher = more
// anomalous. The log-sum-exp subtracts the maximum first, so large logits do
// not overflow.
//
// TOML parameters: temperature (float, default 1).
type Energy struct {
	T float64 // temperature, > 0
}

func newEnergy(_ Env, params Decoder) (Detector, error) {
	cfg := struct {
		Temperature float64 `toml:"temperature"`
	}{Temperature: 1}
	if err := decodeParams("energy", params, &cfg); err != nil {
		return nil, err
	}
	if err := checkTemperature("energy", cfg.Temperature); err != nil {
		return nil, err
	}
	return Energy{T: cfg.Temperature}, nil
}

// Name is "energy", or "energy[T=<t>]" for a temperature other than 1.
func (e Energy) Name() string {
	if e.T == 1 {
		return "energy"
	}
	return "energy[T=" + formatFloat(e.T) + "]"
}

func (Energy) Kind() Kind        { return Unsupervised }
func (Energy) NeedsFit() bool    { return false }
func (Energy) Fit(FitData) error { return nil }
func (e Energy) Score(p Probe) ([]float64, error) {
	if err := checkTemperature("energy", e.T); err != nil {
		return nil, err
	}
	z, err := logits("energy", p)
	if err != nil {
		return nil, err
	}
	out := make([]float64, z.Rows)
	for i := range out {
		lse := logexp.LogSumExp(z.Row(i), e.T)
		out[i] = -e.T * lse
	}
	return out, nil
}
