package detectors

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/purview-lab/purview/models"
)

func init() {
	Register("bu", "Bayesian uncertainty (Feinman et al. 2017): score = mean over classes of the variance of softmax over Monte-Carlo dropout passes; "+
		"needs a model with dropout (e.g. arch \"lenet5-dropout\"). Params passes (default 50), seed (default 0)", newBU)
}

// Defaults of the BU detector.
const (
	DefaultBUPasses = 50     // Feinman et al.'s number of stochastic passes
	buStream        = 0x4255 // "BU": PCG stream of the pass seeds
)

// BU is the Bayesian-uncertainty detector of Feinman et al. (2017). With
// p_t = softmax(z_t) the class probabilities of Monte-Carlo dropout pass t
// (dropout active, everything else in eval mode; models.Stochastic), over T
// passes,
//
//	score(x) = (1/C) Σ_c Var_t[p_{t,c}],   Var_t[v] = (1/T) Σ_t (v_t − v̄)²,
//
// numpy's preds.var(axis=0).mean(axis=1) (population variance) of the
// reference's get_mc_predictions; higher = more anomalous (more uncertain).
// Pass t draws its masks from seed s_t, the t-th Uint64 of a PCG source
// seeded with (seed, buStream), through Probe.DropoutLogits, so the passes are
// cached with the probe and a sample has the same masks in every subset
// (cross-validation folds included).
//
// A model without dropout has no uncertainty to measure: if it is not a
// models.Stochastic, reports HasDropout() == false, or gives identical
// softmax outputs in the first two passes for every sample, Score returns an error naming the
// detector and suggesting an architecture with dropout ("lenet5-dropout").
//
// Unsupervised, training-free. TOML parameters: passes (int ≥ 2, default
// 50), seed (int ≥ 0, default 0).
type BU struct {
	Passes int
	Seed   uint64
}

func newBU(_ Env, params Decoder) (Detector, error) {
	b, err := buParams("bu", params)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// buConfig is the TOML table of BU; kd+bu embeds it.
type buConfig struct {
	Passes int   `toml:"passes"`
	Seed   int64 `toml:"seed"`
}

func (c buConfig) check(typ string) (BU, error) {
	if c.Passes < 2 {
		return BU{}, fmt.Errorf("detectors: %s: key \"passes\": want an integer ≥ 2, got %d", typ, c.Passes)
	}
	if c.Seed < 0 {
		return BU{}, fmt.Errorf("detectors: %s: key \"seed\": want an integer ≥ 0, got %d", typ, c.Seed)
	}
	return BU{Passes: c.Passes, Seed: uint64(c.Seed)}, nil
}

func buParams(typ string, params Decoder) (BU, error) {
	cfg := buConfig{Passes: DefaultBUPasses}
	if err := decodeParams(typ, params, &cfg); err != nil {
		return BU{}, err
	}
	return cfg.check(typ)
}

// Name is "bu", or "bu[passes=<T>,seed=<s>]" listing the values that differ
// from the defaults.
func (b BU) Name() string { return withParams("bu", b.extra()) }

func (b BU) extra() []string {
	var extra []string
	if b.Passes != DefaultBUPasses {
		extra = append(extra, fmt.Sprintf("passes=%d", b.Passes))
	}
	if b.Seed != 0 {
		extra = append(extra, fmt.Sprintf("seed=%d", b.Seed))
	}
	return extra
}

func (BU) Kind() Kind        { return Unsupervised }
func (BU) NeedsFit() bool    { return false }
func (BU) Fit(FitData) error { return nil }

func (b BU) Score(p Probe) ([]float64, error) { return b.uncertainty(b.Name(), p) }

// noDropout is the error of a model without dropout.
func noDropout(typ string, net models.Network, why string) error {
	arch := "?"
	if net != nil {
		arch = net.Arch()
	}
	return fmt.Errorf("detectors: %s: model %s %s, so Monte-Carlo dropout has no uncertainty to measure; "+
		"use a model trained with dropout, e.g. arch \"lenet5-dropout\"", typ, arch, why)
}

// uncertainty computes the BU score of every sample of p; typ names the
// detector in errors.
func (b BU) uncertainty(typ string, p Probe) ([]float64, error) {
	if b.Passes < 2 {
		return nil, fmt.Errorf("detectors: %s: needs at least 2 dropout passes, got %d", typ, b.Passes)
	}
	if net := p.Model(); net != nil {
		if _, ok := net.(models.Stochastic); !ok {
			return nil, noDropout(typ, net, "has no dropout forward pass (it is not a models.Stochastic)")
		}
		if hd, ok := net.(interface{ HasDropout() bool }); ok && !hd.HasDropout() {
			return nil, noDropout(typ, net, "has no dropout layer")
		}
	}
	rng := rand.New(rand.NewPCG(b.Seed, buStream))
	n := p.Len()
	probs := make([]Matrix, b.Passes)
	for t := range probs {
		z, err := featureRows(typ, "dropout logits", p, func() (Matrix, error) { return p.DropoutLogits(rng.Uint64()) })
		if err != nil {
			return nil, err
		}
		softmaxRows(z)
		if t == 1 && n > 0 && slices.Equal(z.Data, probs[0].Data) {
			return nil, noDropout(typ, p.Model(), "gave the same outputs in two dropout passes for every sample")
		}
		probs[t] = z
	}
	out := make([]float64, n)
	if n == 0 {
		return out, nil
	}
	nc := probs[0].Cols
	tt := float64(b.Passes)
	for i := range out {
		var sum float64
		for c := 0; c < nc; c++ {
			var mean float64
			for _, m := range probs {
				mean += m.Data[i*nc+c]
			}
			mean /= tt
			var v float64
			for _, m := range probs {
				e := m.Data[i*nc+c] - mean
				v += e * e
			}
			sum += v / tt
		}
		out[i] = sum / float64(nc)
	}
	return out, nil
}

// softmaxRows replaces every row of m by its softmax, in place.
func softmaxRows(m Matrix) {
	for i := 0; i < m.Rows; i++ {
		row := m.Row(i)
		softmaxTo(row, row, 1)
	}
}
