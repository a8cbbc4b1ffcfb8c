package detectors

import (
	"fmt"
	"math"

	"github.com/purview-lab/purview/models"
)

func init() {
	Register("odin", "ODIN (Liang et al. 2018): score = −max softmax(f(x̃)/T), x̃ = x − ε·sign(∇ₓ(−log S_ŷ(x;T))); "+
		"params temperature (default 1000), epsilon (default 0.0014)", newODIN)
}

// Defaults of ODIN: OpenOOD v1.5's configs/postprocessors/odin.yml
// (reference/anchors.md §1.2), which its automatic search sweeps over
// T ∈ {1, 10, 100, 1000} and ε ∈ {0.0014, 0.0028}.
const (
	DefaultODINTemperature = 1000
	DefaultODINEpsilon     = 0.0014
)

// ODIN is the detector of Liang, Li and Srikant (ICLR 2018; OpenOOD "odin").
// With temperature T, ŷ = argmax_c f(x)_c and S(x;T) = softmax(f(x)/T), the
// input is moved one step against the gradient of the loss −log S_ŷ(x;T),
//
//	x̃ = x − ε·sign(∇ₓ[−log S_ŷ(x;T)]),
//
// which raises the softmax score of the predicted class (more for
// in-distribution inputs than for anomalies), and
//
//	score(x) = −max_c S_c(x̃;T),   higher = more anomalous.
//
// sign(0) counts as +1, and x̃ is not clipped to [0,1], both as in the
// reference code (see signStep). ε is in pixel units: OpenOOD divides its
// sign step by the per-channel std because it perturbs normalised tensors,
// which is the same step in pixel space; here normalisation is a layer of
// the model. The gradient is taken of T·(−log S_ŷ), whose logit gradient
// S − e_ŷ does not vanish in float32 at large T and has the same sign.
// With ε = 0 no gradient is computed: the score is −max softmax(z/T) of the
// cached logits. Needs a models.Inspector for ε > 0; training-free.
//
// TOML parameters: temperature (float, default 1000), epsilon (float ≥ 0,
// default 0.0014).
type ODIN struct {
	T   float64 // temperature, > 0
	Eps float64 // input step ε ≥ 0, pixel units
}

func newODIN(_ Env, params Decoder) (Detector, error) {
	cfg := struct {
		Temperature float64 `toml:"temperature"`
		Epsilon     float64 `toml:"epsilon"`
	}{Temperature: DefaultODINTemperature, Epsilon: DefaultODINEpsilon}
	if err := decodeParams("odin", params, &cfg); err != nil {
		return nil, err
	}
	if err := checkTemperature("odin", cfg.Temperature); err != nil {
		return nil, err
	}
	if err := checkNonNegative("odin", "epsilon", cfg.Epsilon); err != nil {
		return nil, err
	}
	return ODIN{T: cfg.Temperature, Eps: cfg.Epsilon}, nil
}

// Name is "odin", or "odin[T=<t>,eps=<ε>]" listing the values that differ
// from the defaults.
func (o ODIN) Name() string {
	var extra []string
	if o.T != DefaultODINTemperature {
		extra = append(extra, "T="+formatFloat(o.T))
	}
	if o.Eps != DefaultODINEpsilon {
		extra = append(extra, "eps="+formatFloat(o.Eps))
	}
	return withParams("odin", extra)
}

func (ODIN) Kind() Kind        { return Unsupervised }
func (ODIN) NeedsFit() bool    { return false }
func (ODIN) Fit(FitData) error { return nil }

func (o ODIN) Score(p Probe) ([]float64, error) {
	const typ = "odin"
	if err := checkTemperature(typ, o.T); err != nil {
		return nil, err
	}
	if err := checkNonNegative(typ, "epsilon", o.Eps); err != nil {
		return nil, err
	}
	var z Matrix
	if o.Eps == 0 {
		var err error
		if z, err = logits(typ, p); err != nil {
			return nil, err
		}
	} else {
		xt, n, err := o.Perturb(p)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return []float64{}, nil
		}
		zt, _, err := p.Model().Forward(xt, n)
		if err != nil {
			return nil, fmt.Errorf("detectors: %s: forward pass on the perturbed inputs: %w", typ, err)
		}
		nc := p.Model().Classes()
		if len(zt) != n*nc {
			return nil, fmt.Errorf("detectors: %s: forward pass returned %d logits for %d samples of %d classes", typ, len(zt), n, nc)
		}
		z = Matrix{Rows: n, Cols: nc, Data: widen(zt)}
		if err := checkFinite(typ, "logits of the perturbed input", z); err != nil {
			return nil, err
		}
	}
	out := make([]float64, z.Rows)
	for i := range out {
		out[i] = negMaxSoftmax(z.Row(i), o.T)
	}
	return out, nil
}

// Perturb returns x̃ = x − ε·sign(∇ₓ[−log S_ŷ(x;T)]) for the n inputs of p
// (NCHW float32, sample-major).
func (o ODIN) Perturb(p Probe) (xt []float32, n int, err error) {
	const typ = "odin"
	ins, err := inspector(typ, p)
	if err != nil {
		return nil, 0, err
	}
	x, n, err := probeInputs(typ, p)
	if err != nil || n == 0 {
		return nil, 0, err
	}
	grad := make([]float32, len(x))
	if _, _, err := ins.InputGrad(x, n, odinLoss(o.T), grad); err != nil {
		return nil, 0, fmt.Errorf("detectors: %s: input gradient: %w", typ, err)
	}
	xt, err = signStep(typ, x, grad, o.Eps)
	return xt, n, err
}

// odinLoss is ℓ(z) = −log softmax(z/T)_ŷ, ŷ = argmax z; it writes the
// gradient of T·ℓ, softmax(z/T) − e_ŷ.
func odinLoss(t float64) models.LossFunc {
	return func(_ int, z32, g []float32) float64 {
		z := make([]float64, len(z32))
		for j, v := range z32 {
			z[j] = float64(v)
		}
		q := make([]float64, len(z))
		softmaxTo(q, z, t)
		y := argmax(z)
		for j := range g {
			g[j] = float32(q[j])
		}
		g[y] = float32(q[y] - 1)
		return -math.Log(q[y])
	}
}

// withParams returns name, or name[a,b,…] when extra is not empty.
func withParams(name string, extra []string) string {
	if len(extra) == 0 {
		return name
	}
	s := name + "["
	for i, e := range extra {
		if i > 0 {
			s += ","
		}
		s += e
	}
	return s + "]"
}
