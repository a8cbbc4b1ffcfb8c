package detectors

import "fmt"

func init() {
	Register("mahalanobis-lr", "multi-layer Mahalanobis (Lee et al. 2018): per-layer min_c Mahalanobis distances after input preprocessing, "+
		"combined by logistic regression (supervised). Params epsilon (default 0.0014), l2 (default 1e-2)",
		newMahalanobisLR)
}

// DefaultMahalanobisEpsilon is the input-preprocessing step of the
// multi-layer Mahalanobis detector: OpenOOD's mds_ensemble default noise. The
// paper picks ε from {0, 0.01, 0.005, 0.002, 0.0014, 0.001, 0.0005} on
// held-out data (reference/anchors.md §4.4); set epsilon to sweep it.
const DefaultMahalanobisEpsilon = 0.0014

// MahalanobisLR is the full detector of Lee et al. (NeurIPS 2018): one
// Mahalanobis score per hidden layer, combined by a logistic regression
// trained on labelled normal and anomalous samples. For every tap l of the
// model (models.Inspector.Taps, input to output) it fits, on the labelled
// in-distribution samples FitData.InDist, class means and a tied precision
// of the channel-mean features as Mahalanobis does, and computes
//
//	s_l(x) = min_c (f_l(x̂_l) − μ_{l,c})ᵀ P_l (f_l(x̂_l) − μ_{l,c}),
//	x̂_l = x − ε·sign(∇ₓ ½(f_l(x) − μ_{l,ĉ})ᵀP_l(f_l(x) − μ_{l,ĉ})),
//
// each layer with its own preprocessed input, as in the reference code
// (pokaxpoka/deep_Mahalanobis_detector, lib_generation.get_Mahalanobis_score).
// A logistic regression on s = (s_1, …, s_L), fitted on FitData.Normal (0)
// and FitData.Anomalous (1) exactly as the purview logreg head (standardised
// features, L2 penalty λ, Newton), gives score = wᵀs̃ + b, the log-odds of
// "anomalous"; higher = more anomalous.
//
// Differences from the reference, all deliberate: the reference feeds the
// confidences −½·s_l unscaled to LogisticRegressionCV, which picks C by
// cross-validation; standardising makes the sign and the factor −½
// irrelevant, and λ is a fixed parameter. The reference estimates the class
// Gaussians on the training split; under cross-validation FitData.InDist is
// the normal training fold (in-distribution test samples with their labels),
// so a fold's normal training samples are also in its Gaussians (an O(1/N)
// effect on their distances).
//
// Supervised; needs a models.Inspector and labelled in-distribution samples.
// Every tap costs one input gradient and one forward pass per scored set
// when ε > 0. Fit must not run concurrently with Score.
//
// TOML parameters: epsilon (float ≥ 0, default 0.0014), l2 (float > 0,
// default 1e-2).
type MahalanobisLR struct {
	Eps float64
	L2  float64

	taps   []string
	gauss  []*classGaussian
	logreg *logregHead
}

func newMahalanobisLR(_ Env, params Decoder) (Detector, error) {
	const typ = "mahalanobis-lr"
	cfg := struct {
		Epsilon float64 `toml:"epsilon"`
		L2      float64 `toml:"l2"`
	}{Epsilon: DefaultMahalanobisEpsilon, L2: DefaultL2}
	if err := decodeParams(typ, params, &cfg); err != nil {
		return nil, err
	}
	if err := checkNonNegative(typ, "epsilon", cfg.Epsilon); err != nil {
		return nil, err
	}
	if err := checkPositive(typ, "l2", cfg.L2); err != nil {
		return nil, err
	}
	return &MahalanobisLR{Eps: cfg.Epsilon, L2: cfg.L2}, nil
}

// Name is "mahalanobis-lr", or "mahalanobis-lr[eps=<ε>,l2=<λ>]" listing the
// values that differ from the defaults.
func (d *MahalanobisLR) Name() string {
	var extra []string
	if d.Eps != DefaultMahalanobisEpsilon {
		extra = append(extra, "eps="+formatFloat(d.Eps))
	}
	if d.L2 != DefaultL2 {
		extra = append(extra, "l2="+formatFloat(d.L2))
	}
	return withParams("mahalanobis-lr", extra)
}

func (*MahalanobisLR) Kind() Kind     { return Supervised }
func (*MahalanobisLR) NeedsFit() bool { return true }

func (d *MahalanobisLR) Fit(fd FitData) error {
	typ := d.Name()
	if fd.InDist == nil || fd.Normal == nil || fd.Anomalous == nil {
		return fmt.Errorf("detectors: %s: needs labelled in-distribution, normal and anomalous samples to fit on", typ)
	}
	taps, err := modelTaps(typ, fd.InDist)
	if err != nil {
		return err
	}
	d.taps, d.gauss, d.logreg = nil, nil, nil
	var names []string
	var gauss []*classGaussian
	for _, t := range taps {
		g, err := fitTapGaussian(typ, fd.InDist, t.Name)
		if err != nil {
			return err
		}
		names = append(names, t.Name)
		gauss = append(gauss, g)
	}
	s0, err := layerScores(typ, fd.Normal, names, gauss, d.Eps)
	if err != nil {
		return err
	}
	s1, err := layerScores(typ, fd.Anomalous, names, gauss, d.Eps)
	if err != nil {
		return err
	}
	lr, err := fitLogReg(s0, s1, d.L2)
	if err != nil {
		return fmt.Errorf("detectors: %s: %w", typ, err)
	}
	d.taps, d.gauss, d.logreg = names, gauss, lr
	return nil
}

func (d *MahalanobisLR) Score(p Probe) ([]float64, error) {
	typ := d.Name()
	if d.logreg == nil {
		return nil, fmt.Errorf("detectors: %s: Score called before Fit", typ)
	}
	s, err := layerScores(typ, p, d.taps, d.gauss, d.Eps)
	if err != nil {
		return nil, err
	}
	return d.logreg.score(s), nil
}

// LayerScores returns the n×L matrix of per-layer scores s_l(x) of the
// fitted detector, columns named by the taps.
func (d *MahalanobisLR) LayerScores(p Probe) (Matrix, error) {
	if d.logreg == nil {
		return Matrix{}, fmt.Errorf("detectors: %s: LayerScores called before Fit", d.Name())
	}
	return layerScores(d.Name(), p, d.taps, d.gauss, d.Eps)
}

// layerScores computes s_l for every sample of p and tap l. A sample's s_l
// depends only on it, the layer's Gaussian and ε, and cross-validation
// refits the same Gaussians (on the same fit samples) in every fold and
// pair, so each is computed once per probe and Gaussian (memoRows): the
// input gradient and forward pass per tap were most of a paper run's time.
func layerScores(typ string, p Probe, taps []string, gauss []*classGaussian, eps float64) (Matrix, error) {
	n, L := p.Len(), len(taps)
	m := Matrix{Rows: n, Cols: L, Data: make([]float64, n*L), Names: taps}
	for l, tap := range taps {
		key := fmt.Sprintf("mahalanobis-tap %q eps=%v gauss=%s", tap, eps, gauss[l].fingerprint())
		s, err := memoRows(p, key, func(all Probe) (Matrix, error) {
			v, err := gauss[l].tapScores(typ, all, tap, eps)
			return Matrix{Rows: len(v), Cols: 1, Data: v}, err
		})
		if err != nil {
			return Matrix{}, err
		}
		for i, v := range s.Data {
			m.Data[i*L+l] = v
		}
	}
	return m, nil
}
