package detectors

import "fmt"

func init() {
	Register("kd+bu", "KD+BU (Feinman et al. 2017): logistic regression on standardised [KD, BU] (supervised); "+
		"params bandwidth (default 1.2), passes (default 50), seed (default 0), l2 (default 1e-2)", newKDBU)
}

// KDBU is the combined detector of Feinman et al. (2017): a logistic
// regression on the two features
//
//	u(x) = [KD(x), BU(x)] = [−log p(h | ŷ), (1/C) Σ_c Var_t[p_{t,c}]]
//
// (see KD and BU), fitted on FitData.Normal (0) and FitData.Anomalous (1)
// like the purview logreg head: features standardised with the training
// mean and population deviation (the reference's z-scoring), L2 penalty λ,
// Newton. score = wᵀũ + b, the log-odds of "anomalous"; higher = more
// anomalous. The reference uses the log density itself (LogisticRegressionCV
// on z-scored [log p, BU], C cross-validated); the sign of a feature does
// not matter to the regression, and λ is fixed here.
//
// The KDEs are fitted on FitData.InDist (under cross-validation: the normal
// training fold, with its labels — the reference uses the training split);
// a normal training sample is left out of its own density (see KD).
//
// Supervised; needs penultimate features, labels for FitData.InDist and a
// model with dropout. Fit must not run concurrently with Score.
//
// TOML parameters: bandwidth (float > 0, default 1.2), passes (int ≥ 2,
// default 50), seed (int ≥ 0, default 0), l2 (float > 0, default 1e-2).
type KDBU struct {
	Bandwidth float64
	BU        BU
	L2        float64

	kde    *classKDE
	logreg *logregHead
}

func newKDBU(_ Env, params Decoder) (Detector, error) {
	const typ = "kd+bu"
	cfg := struct {
		Bandwidth float64 `toml:"bandwidth"`
		Passes    int     `toml:"passes"`
		Seed      int64   `toml:"seed"`
		L2        float64 `toml:"l2"`
	}{Bandwidth: DefaultKDBandwidth, Passes: DefaultBUPasses, L2: DefaultL2}
	if err := decodeParams(typ, params, &cfg); err != nil {
		return nil, err
	}
	if err := checkPositive(typ, "bandwidth", cfg.Bandwidth); err != nil {
		return nil, err
	}
	if err := checkPositive(typ, "l2", cfg.L2); err != nil {
		return nil, err
	}
	bu, err := buConfig{Passes: cfg.Passes, Seed: cfg.Seed}.check(typ)
	if err != nil {
		return nil, err
	}
	return &KDBU{Bandwidth: cfg.Bandwidth, BU: bu, L2: cfg.L2}, nil
}

// Name is "kd+bu", or "kd+bu[h=<σ>,passes=<T>,seed=<s>,l2=<λ>]" listing the
// values that differ from the defaults.
func (d *KDBU) Name() string {
	var extra []string
	if d.Bandwidth != DefaultKDBandwidth {
		extra = append(extra, "h="+formatFloat(d.Bandwidth))
	}
	extra = append(extra, d.BU.extra()...)
	if d.L2 != DefaultL2 {
		extra = append(extra, "l2="+formatFloat(d.L2))
	}
	return withParams("kd+bu", extra)
}

func (*KDBU) Kind() Kind     { return Supervised }
func (*KDBU) NeedsFit() bool { return true }

func (d *KDBU) Fit(fd FitData) error {
	typ := d.Name()
	if fd.InDist == nil || fd.Normal == nil || fd.Anomalous == nil {
		return fmt.Errorf("detectors: %s: needs labelled in-distribution, normal and anomalous samples to fit on", typ)
	}
	d.kde, d.logreg = nil, nil
	kde, err := fitKDE(typ, fd.InDist, d.Bandwidth)
	if err != nil {
		return err
	}
	u0, err := d.features(typ, kde, fd.Normal)
	if err != nil {
		return err
	}
	u1, err := d.features(typ, kde, fd.Anomalous)
	if err != nil {
		return err
	}
	lr, err := fitLogReg(u0, u1, d.L2)
	if err != nil {
		return fmt.Errorf("detectors: %s: %w", typ, err)
	}
	d.kde, d.logreg = kde, lr
	return nil
}

func (d *KDBU) Score(p Probe) ([]float64, error) {
	typ := d.Name()
	if d.logreg == nil {
		return nil, fmt.Errorf("detectors: %s: Score called before Fit", typ)
	}
	u, err := d.features(typ, d.kde, p)
	if err != nil {
		return nil, err
	}
	return d.logreg.score(u), nil
}

// Features returns the n×2 matrix [KD, BU] of p's samples (columns "kd",
// "bu"), as the regression sees them before standardisation.
func (d *KDBU) Features(p Probe) (Matrix, error) {
	if d.kde == nil {
		return Matrix{}, fmt.Errorf("detectors: %s: Features called before Fit", d.Name())
	}
	return d.features(d.Name(), d.kde, p)
}

func (d *KDBU) features(typ string, kde *classKDE, p Probe) (Matrix, error) {
	kd, err := kde.negLogDensity(typ, p)
	if err != nil {
		return Matrix{}, err
	}
	bu, err := d.BU.uncertainty(typ, p)
	if err != nil {
		return Matrix{}, err
	}
	u := Matrix{Rows: len(kd), Cols: 2, Data: make([]float64, 2*len(kd)), Names: []string{"kd", "bu"}}
	for i := range kd {
		u.Data[2*i], u.Data[2*i+1] = kd[i], bu[i]
	}
	return u, nil
}
