package detectors

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/purview-lab/purview/internal/logexp"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat"

	"github.com/purview-lab/purview/models"
)

func init() {
	Register("purview",
		"purview (Lee et al. 2023): per-tensor gradient norms r_l = ‖∂J/∂θ_l‖² of J = Σ_c BCE(act(z)_c, y_c) under a confounding label y, "+
			"scored by a head. Params: label (\"ones\" default, \"zeros\", or k-hot class list such as [0, 3]), activation (sigmoid default, softmax), "+
			"head (logreg default: supervised, k-fold cross-validated; mlp: supervised 2-layer perceptron, param hidden (default 64); "+
			"gauss: Mahalanobis to in-distribution fit, param ridge; "+
			"sum: −Σ r_l, param direction \"smaller\" default or \"larger\"), l2 (logreg default 1e-2, mlp default 1e-3)",
		newPurview)
}

// Heads of the purview detector.
const (
	HeadSum    = "sum"    // score = ∓Σ_l r_l, training-free
	HeadGauss  = "gauss"  // Mahalanobis distance of log r to in-distribution samples
	HeadLogReg = "logreg" // logistic regression on standardized log r, supervised
	HeadMLP    = "mlp"    // 2-layer perceptron on standardized log r, supervised
)

// Directions of the sum head.
const (
	DirSmaller = "smaller" // anomalies have smaller norms: score = −Σ_l r_l
	DirLarger  = "larger"  // anomalies have larger norms: score = +Σ_l r_l
)

// Defaults of the purview parameters.
const (
	DefaultRidge = 1e-6 // gauss head: ridge λ, relative to the mean variance
	DefaultL2    = 1e-2 // logreg head: L2 penalty λ on the mean log-loss
	// logFloor keeps log r finite where a gradient norm is exactly zero
	// (a dead ReLU unit's bias, say): u = log(r + logFloor).
	logFloor = 1e-30
)

// Purview is the detector of Lee, Lehman, Prabhushankar and AlRegib
// ("Probing the Purview of Neural Networks via Gradient Analysis", IEEE Access
// 2023). For an input x with logits z it asks the model for the purview
// features, one per parameter tensor θ_l,
//
//	r_l(x) = ‖∂J(x)/∂θ_l‖²₂,  J(x) = Σ_c BCE(act(z)_c, y_c),
//
// under a confounding label y ∈ {0,1}^C that is not one-hot (see
// models.Confound), and turns r(x) into a score with a head. Every head
// scores higher = more anomalous.
//
// Head "sum" is training-free (Unsupervised, no fit):
//
//	score = −Σ_l r_l   (direction "smaller", the default)
//	score = +Σ_l r_l   (direction "larger")
//
// The default is a measured property, not a convention: under the all-ones
// label anomalies get SMALLER gradient norms (LeNet-5/MNIST against
// Fashion-MNIST, where the un-negated sum gives AUROC ≈ 0.12).
//
// Head "gauss" is Unsupervised and fitted on FitData.InDist only. With
// u = log(r + 1e-30) (the floor keeps exactly-zero norms finite),
//
//	score = (u − μ)ᵀ (Σ + λ·mean(diag Σ)·I)⁻¹ (u − μ),
//
// the squared Mahalanobis distance to the mean μ and covariance Σ
// (denominator n − 1) of the in-distribution u; mean(diag Σ) is taken as 1 if
// it is 0. If the Cholesky factorization fails, λ is multiplied by 10 and
// retried, at most 3 times. Rescaling any r_l by a positive factor only
// shifts u_l, so the score is invariant to it (up to the floor); it is not
// invariant to general affine maps of u, because of the ridge.
//
// Head "logreg" is Supervised (the paper's protocol, with a linear detector)
// and fitted on FitData.Normal (y = 0) and FitData.Anomalous (y = 1). u is
// standardized, x_j = (u_j − m_j)/s_j, with the mean and standard deviation
// (denominator N) of all training rows — a column whose deviation is zero
// (to rounding) is ignored — and w, b minimize
//
//	(1/N) Σ_i [log(1 + exp(s_i)) − y_i·s_i] + (λ/2)·‖w‖²,   s_i = wᵀx_i + b,
//
// by Newton's method (gonum/optimize; deterministic; stops when every
// gradient entry is below 1e-10). The bias is not penalised. This is
// sklearn's LogisticRegression(C = 1/(λN)) with the lbfgs or newton-cg solver
// on StandardScaler output. score = wᵀx + b, the log-odds of "anomalous".
//
// Head "mlp" is Supervised like logreg: the paper trains "a 2-layer fully
// connected detector" on the per-layer norms (design.md §1; the width is not
// given in the sources at hand, so it is a parameter, default 64 hidden
// units). On the same standardized x,
//
//	score = w2ᵀ tanh(W1 x + b1) + b2,
//
// the log-odds of "anomalous", with θ minimising
// (1/N) Σ_i [log(1 + exp(s_i)) − y_i·s_i] + (λ/2)·(‖W1‖² + ‖w2‖²) by L-BFGS
// from a Glorot-uniform start drawn from FitData.Seed (see fitMLP). tanh
// rather than ReLU keeps the objective smooth, so L-BFGS's line searches and
// stopping rule are well defined; the same data and seed give the same
// weights bit for bit.
//
// Fit must not run concurrently with Score; concurrent Scores are safe.
//
// TOML parameters:
//
//	label      = "ones" (default) | "zeros" | [i, j, ...]  (k-hot class indices, k ≠ 1)
//	activation = "sigmoid" (default) | "softmax"
//	head       = "logreg" (default) | "mlp" | "sum" | "gauss"
//	direction  = "smaller" (default) | "larger"   (head sum only)
//	ridge      = 1e-6                             (head gauss only)
//	l2         = 1e-2 (logreg) | 1e-3 (mlp)       (heads logreg and mlp only)
//	hidden     = 64                               (head mlp only)
type Purview struct {
	cfg  PurviewConfig
	name string

	gauss  *gaussHead
	logreg *logregHead
	mlp    *mlpHead
}

// PurviewConfig configures a Purview detector built from Go code rather
// than TOML.
type PurviewConfig struct {
	Label     []float32         // confounding label, length C, entries 0 or 1, not one-hot
	Act       models.Activation // activation inside the confounding loss
	Head      string            // HeadSum, HeadGauss, HeadLogReg or HeadMLP
	Direction string            // head sum: DirSmaller or DirLarger ("" = DirSmaller)
	Ridge     float64           // head gauss: λ > 0 (0 = DefaultRidge)
	L2        float64           // heads logreg, mlp: λ > 0 (0 = DefaultL2, DefaultMLPL2)
	Hidden    int               // head mlp: hidden units ≥ 1 (0 = DefaultMLPHidden)
}

// NewPurview builds a purview detector from cfg.
func NewPurview(cfg PurviewConfig) (*Purview, error) {
	ones := 0
	for i, v := range cfg.Label {
		switch v {
		case 1:
			ones++
		case 0:
		default:
			return nil, fmt.Errorf("detectors: purview: label entry %d is %v, want 0 or 1", i, v)
		}
	}
	if len(cfg.Label) == 0 {
		return nil, fmt.Errorf("detectors: purview: empty label")
	}
	if ones == 1 {
		return nil, fmt.Errorf("detectors: purview: label %s is one-hot; a confounding label has 0 or at least 2 ones", labelName(cfg.Label))
	}
	if cfg.Act != models.Sigmoid && cfg.Act != models.Softmax {
		return nil, fmt.Errorf("detectors: purview: unknown activation %v", cfg.Act)
	}
	switch cfg.Head {
	case HeadSum, HeadGauss, HeadLogReg, HeadMLP:
	default:
		return nil, fmt.Errorf("detectors: purview: unknown head %q (want %q, %q, %q or %q)", cfg.Head, HeadSum, HeadGauss, HeadLogReg, HeadMLP)
	}
	if cfg.Direction == "" {
		cfg.Direction = DirSmaller
	}
	if cfg.Direction != DirSmaller && cfg.Direction != DirLarger {
		return nil, fmt.Errorf("detectors: purview: unknown direction %q (want %q or %q)", cfg.Direction, DirSmaller, DirLarger)
	}
	if cfg.Ridge == 0 {
		cfg.Ridge = DefaultRidge
	}
	if cfg.L2 == 0 {
		cfg.L2 = DefaultL2
		if cfg.Head == HeadMLP {
			cfg.L2 = DefaultMLPL2
		}
	}
	if cfg.Hidden == 0 {
		cfg.Hidden = DefaultMLPHidden
	}
	if cfg.Hidden < 0 {
		return nil, fmt.Errorf("detectors: purview: hidden must be ≥ 1, got %d", cfg.Hidden)
	}
	if !(cfg.Ridge > 0) || math.IsInf(cfg.Ridge, 0) {
		return nil, fmt.Errorf("detectors: purview: ridge must be a finite positive number, got %v", cfg.Ridge)
	}
	if !(cfg.L2 > 0) || math.IsInf(cfg.L2, 0) {
		return nil, fmt.Errorf("detectors: purview: l2 must be a finite positive number, got %v", cfg.L2)
	}
	cfg.Label = slices.Clone(cfg.Label)
	d := &Purview{cfg: cfg}
	d.name = purviewName(cfg)
	return d, nil
}

// purviewParams is the TOML table of a purview detector. Head-specific keys
// are pointers so that giving one to the wrong head is an error, not a no-op.
type purviewParams struct {
	Label      any      `toml:"label"`
	Activation string   `toml:"activation"`
	Head       string   `toml:"head"`
	Direction  *string  `toml:"direction"`
	Ridge      *float64 `toml:"ridge"`
	L2         *float64 `toml:"l2"`
	Hidden     *int     `toml:"hidden"`
}

func newPurview(env Env, params Decoder) (Detector, error) {
	pp := purviewParams{Head: HeadLogReg}
	if err := decodeParams("purview", params, &pp); err != nil {
		return nil, err
	}
	label, err := parseLabel(pp.Label, env.Classes)
	if err != nil {
		return nil, err
	}
	act, err := models.ParseActivation(pp.Activation)
	if err != nil {
		return nil, fmt.Errorf("detectors: purview: key \"activation\": %w", err)
	}
	cfg := PurviewConfig{Label: label, Act: act, Head: pp.Head}
	for _, k := range []struct {
		key, head, head2 string
		given            bool
	}{
		{"direction", HeadSum, "", pp.Direction != nil},
		{"ridge", HeadGauss, "", pp.Ridge != nil},
		{"l2", HeadLogReg, HeadMLP, pp.L2 != nil},
		{"hidden", HeadMLP, "", pp.Hidden != nil},
	} {
		if k.given && pp.Head != k.head && (k.head2 == "" || pp.Head != k.head2) {
			if k.head2 != "" {
				return nil, fmt.Errorf("detectors: purview: key %q applies to heads %q and %q only, not %q", k.key, k.head, k.head2, pp.Head)
			}
			return nil, fmt.Errorf("detectors: purview: key %q applies to head %q only, not %q", k.key, k.head, pp.Head)
		}
	}
	if pp.Direction != nil {
		if *pp.Direction != DirSmaller && *pp.Direction != DirLarger {
			return nil, fmt.Errorf("detectors: purview: key \"direction\": unknown direction %q (want %q or %q)", *pp.Direction, DirSmaller, DirLarger)
		}
		cfg.Direction = *pp.Direction
	}
	if pp.Ridge != nil {
		if !(*pp.Ridge > 0) || math.IsInf(*pp.Ridge, 0) {
			return nil, fmt.Errorf("detectors: purview: key \"ridge\": want a finite positive number, got %v", *pp.Ridge)
		}
		cfg.Ridge = *pp.Ridge
	}
	if pp.L2 != nil {
		if !(*pp.L2 > 0) || math.IsInf(*pp.L2, 0) {
			return nil, fmt.Errorf("detectors: purview: key \"l2\": want a finite positive number, got %v", *pp.L2)
		}
		cfg.L2 = *pp.L2
	}
	if pp.Hidden != nil {
		if *pp.Hidden < 1 {
			return nil, fmt.Errorf("detectors: purview: key \"hidden\": want an integer ≥ 1, got %d", *pp.Hidden)
		}
		cfg.Hidden = *pp.Hidden
	}
	if pp.Head != HeadSum && pp.Head != HeadGauss && pp.Head != HeadLogReg && pp.Head != HeadMLP {
		return nil, fmt.Errorf("detectors: purview: key \"head\": unknown head %q (want %q, %q, %q or %q)", pp.Head, HeadSum, HeadGauss, HeadLogReg, HeadMLP)
	}
	return NewPurview(cfg)
}

// parseLabel turns the TOML value of "label" into a label vector of length
// classes: nil or "ones" → all ones, "zeros" → all zeros, an array of distinct
// class indices in [0, classes) → k-hot (an empty array is all zeros). A
// one-hot result is an error: the loss would then be an ordinary
// classification loss, not a confound.
func parseLabel(v any, classes int) ([]float32, error) {
	if classes <= 0 {
		return nil, fmt.Errorf("detectors: purview: the model's number of classes (Env.Classes) is %d, want ≥ 1", classes)
	}
	if v == nil {
		v = "ones"
	}
	label := make([]float32, classes)
	switch v := v.(type) {
	case string:
		switch v {
		case "ones":
			for i := range label {
				label[i] = 1
			}
		case "zeros":
		default:
			return nil, fmt.Errorf("detectors: purview: key \"label\": unknown label %q (want \"ones\", \"zeros\" or an array of class indices)", v)
		}
	case []any, []int64, []int:
		idx, err := labelIndices(v)
		if err != nil {
			return nil, err
		}
		for _, i := range idx {
			if i < 0 || i >= int64(classes) {
				return nil, fmt.Errorf("detectors: purview: key \"label\": class index %d out of range [0, %d)", i, classes)
			}
			if label[i] == 1 {
				return nil, fmt.Errorf("detectors: purview: key \"label\": class index %d appears twice", i)
			}
			label[i] = 1
		}
	default:
		return nil, fmt.Errorf("detectors: purview: key \"label\": got %T, want \"ones\", \"zeros\" or an array of class indices", v)
	}
	ones := 0
	for _, x := range label {
		ones += int(x)
	}
	if ones == 1 {
		return nil, fmt.Errorf("detectors: purview: key \"label\": %v is one-hot; a confounding label needs 0 or at least 2 classes", v)
	}
	return label, nil
}

// labelIndices converts a decoded TOML array to integers. Decoders give
// int64 for TOML integers; integral floats are accepted for decoders (JSON)
// that only know float64.
func labelIndices(v any) ([]int64, error) {
	switch v := v.(type) {
	case []int64:
		return v, nil
	case []int:
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out, nil
	}
	arr := v.([]any)
	out := make([]int64, len(arr))
	for k, e := range arr {
		switch e := e.(type) {
		case int64:
			out[k] = e
		case int:
			out[k] = int64(e)
		case float64:
			if e != math.Trunc(e) || math.Abs(e) > 1<<53 {
				return nil, fmt.Errorf("detectors: purview: key \"label\": entry %d is %v, want an integer class index", k, e)
			}
			out[k] = int64(e)
		default:
			return nil, fmt.Errorf("detectors: purview: key \"label\": entry %d is %v (%T), want an integer class index", k, e, e)
		}
	}
	return out, nil
}

// labelName names a label in a detector's name: "ones", "zeros", or the
// class indices of its ones joined by "+", e.g. "0+3+7".
func labelName(label []float32) string {
	var idx []string
	for i, v := range label {
		if v == 1 {
			idx = append(idx, strconv.Itoa(i))
		}
	}
	switch len(idx) {
	case len(label):
		return "ones"
	case 0:
		return "zeros"
	}
	return strings.Join(idx, "+")
}

// purviewName is "purview-<head>", followed by the settings that differ from
// the defaults in brackets: activation, label, direction, hidden width; e.g.
// "purview-logreg[softmax,zeros]", "purview-sum[larger]" or
// "purview-mlp[hidden=32]".
func purviewName(cfg PurviewConfig) string {
	var extra []string
	if cfg.Act != models.Sigmoid {
		extra = append(extra, cfg.Act.String())
	}
	if l := labelName(cfg.Label); l != "ones" {
		extra = append(extra, l)
	}
	if cfg.Head == HeadSum && cfg.Direction != DirSmaller {
		extra = append(extra, cfg.Direction)
	}
	if cfg.Head == HeadMLP && cfg.Hidden != DefaultMLPHidden {
		extra = append(extra, "hidden="+strconv.Itoa(cfg.Hidden))
	}
	name := "purview-" + cfg.Head
	if len(extra) > 0 {
		name += "[" + strings.Join(extra, ",") + "]"
	}
	return name
}

// Name is the default column name, e.g. "purview-logreg" or
// "purview-gauss[softmax,0+3+7]".
func (d *Purview) Name() string { return d.name }

// Config returns the detector's configuration, defaults filled in.
func (d *Purview) Config() PurviewConfig {
	c := d.cfg
	c.Label = slices.Clone(c.Label)
	return c
}

// Confound returns the confounding label and activation the detector probes with.
func (d *Purview) Confound() models.Confound {
	return models.Confound{Label: slices.Clone(d.cfg.Label), Act: d.cfg.Act}
}

// Kind is Supervised for the logreg and mlp heads, Unsupervised otherwise.
func (d *Purview) Kind() Kind {
	if d.cfg.Head == HeadLogReg || d.cfg.Head == HeadMLP {
		return Supervised
	}
	return Unsupervised
}

// NeedsFit is false for the sum head only.
func (d *Purview) NeedsFit() bool { return d.cfg.Head != HeadSum }

// Fit fits the head: gauss on fd.InDist, logreg and mlp on fd.Normal and
// fd.Anomalous (mlp's initial weights from fd.Seed); the sum head needs
// nothing.
func (d *Purview) Fit(fd FitData) error {
	switch d.cfg.Head {
	case HeadGauss:
		if fd.InDist == nil {
			return fmt.Errorf("detectors: %s: no in-distribution samples to fit on", d.name)
		}
		r, err := d.features(fd.InDist, "in-distribution")
		if err != nil {
			return err
		}
		g, err := fitGauss(logFeatures(r), d.cfg.Ridge)
		if err != nil {
			return fmt.Errorf("detectors: %s: %w", d.name, err)
		}
		d.gauss = g
	case HeadLogReg, HeadMLP:
		if fd.Normal == nil || fd.Anomalous == nil {
			return fmt.Errorf("detectors: %s: needs labelled normal and anomalous samples to fit on", d.name)
		}
		r0, err := d.features(fd.Normal, "normal")
		if err != nil {
			return err
		}
		r1, err := d.features(fd.Anomalous, "anomalous")
		if err != nil {
			return err
		}
		if d.cfg.Head == HeadMLP {
			m, err := fitMLP(logFeatures(r0), logFeatures(r1), d.cfg.Hidden, d.cfg.L2, fd.Seed)
			if err != nil {
				return fmt.Errorf("detectors: %s: %w", d.name, err)
			}
			d.mlp = m
			return nil
		}
		lr, err := fitLogReg(logFeatures(r0), logFeatures(r1), d.cfg.L2)
		if err != nil {
			return fmt.Errorf("detectors: %s: %w", d.name, err)
		}
		d.logreg = lr
	}
	return nil
}

// Score returns one score per sample of p, higher = more anomalous.
func (d *Purview) Score(p Probe) ([]float64, error) {
	r, err := d.features(p, "scored")
	if err != nil {
		return nil, err
	}
	switch d.cfg.Head {
	case HeadSum:
		sign := -1.0
		if d.cfg.Direction == DirLarger {
			sign = 1
		}
		out := make([]float64, r.Rows)
		for i := range out {
			var s float64
			for _, v := range r.Row(i) {
				s += v
			}
			out[i] = sign * s
		}
		return out, nil
	case HeadGauss:
		if d.gauss == nil {
			return nil, fmt.Errorf("detectors: %s: Score called before Fit", d.name)
		}
		if r.Cols != len(d.gauss.mean) {
			return nil, fmt.Errorf("detectors: %s: %d gradient-norm columns, fitted on %d", d.name, r.Cols, len(d.gauss.mean))
		}
		return d.gauss.score(logFeatures(r)), nil
	case HeadMLP:
		if d.mlp == nil {
			return nil, fmt.Errorf("detectors: %s: Score called before Fit", d.name)
		}
		if r.Cols != d.mlp.p {
			return nil, fmt.Errorf("detectors: %s: %d gradient-norm columns, fitted on %d", d.name, r.Cols, d.mlp.p)
		}
		return d.mlp.score(logFeatures(r)), nil
	default:
		if d.logreg == nil {
			return nil, fmt.Errorf("detectors: %s: Score called before Fit", d.name)
		}
		if r.Cols != len(d.logreg.w) {
			return nil, fmt.Errorf("detectors: %s: %d gradient-norm columns, fitted on %d", d.name, r.Cols, len(d.logreg.w))
		}
		return d.logreg.score(logFeatures(r)), nil
	}
}

// features asks p for r(x) and checks every entry is finite and ≥ 0; which
// names the samples in errors.
func (d *Purview) features(p Probe, which string) (Matrix, error) {
	r, err := p.GradNorms(models.Confound{Label: d.cfg.Label, Act: d.cfg.Act})
	if err != nil {
		return Matrix{}, fmt.Errorf("detectors: %s: %w", d.name, err)
	}
	if r.Rows > 0 && r.Cols == 0 {
		return Matrix{}, fmt.Errorf("detectors: %s: the model reports no parameter tensors", d.name)
	}
	for i := 0; i < r.Rows; i++ {
		for j, v := range r.Row(i) {
			if !(v >= 0) || math.IsInf(v, 0) {
				col := strconv.Itoa(j)
				if j < len(r.Names) {
					col = strconv.Quote(r.Names[j])
				}
				return Matrix{}, fmt.Errorf("detectors: %s: gradient norm of %s sample %d, tensor %s, is %v; want a finite number ≥ 0",
					d.name, which, i, col, v)
			}
		}
	}
	return r, nil
}

// logFeatures returns u = log(r + 1e-30), elementwise.
func logFeatures(r Matrix) Matrix {
	u := Matrix{Rows: r.Rows, Cols: r.Cols, Names: r.Names, Data: make([]float64, len(r.Data))}
	for i, v := range r.Data {
		u.Data[i] = math.Log(v + logFloor)
	}
	return u
}

// gaussHead is a fitted Gaussian: mean and Cholesky factor of the
// regularised covariance.
type gaussHead struct {
	mean  []float64
	chol  mat.Cholesky
	ridge float64 // λ actually used, after any retries
}

// gaussRetries is how many times the ridge is multiplied by 10 after a
// failed Cholesky factorization.
const gaussRetries = 3

func fitGauss(u Matrix, lambda float64) (*gaussHead, error) {
	if u.Rows < 2 {
		return nil, fmt.Errorf("need at least 2 in-distribution samples to fit a covariance, got %d", u.Rows)
	}
	x := mat.NewDense(u.Rows, u.Cols, u.Data)
	mean := make([]float64, u.Cols)
	for j := range mean {
		mean[j] = stat.Mean(mat.Col(nil, j, x), nil)
	}
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, x, nil)
	g := &gaussHead{mean: mean}
	var err error
	g.ridge, err = factorizeRidge(&g.chol, &cov, lambda, gaussRetries)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// factorizeRidge factorizes cov + λ·s·I, s = mean(diag cov) (1 if that is 0,
// i.e. every feature is constant), into chol. If the factorization fails it
// retries with 10λ, at most retries times, and returns the λ that worked.
func factorizeRidge(chol *mat.Cholesky, cov *mat.SymDense, lambda float64, retries int) (float64, error) {
	n := cov.SymmetricDim()
	var s float64
	for i := 0; i < n; i++ {
		s += cov.At(i, i)
	}
	s /= float64(n)
	if s == 0 {
		s = 1
	}
	a := mat.NewSymDense(n, nil)
	for try := 0; ; try++ {
		a.CopySym(cov)
		for i := 0; i < n; i++ {
			a.SetSym(i, i, a.At(i, i)+lambda*s)
		}
		if chol.Factorize(a) {
			return lambda, nil
		}
		if try == retries {
			return 0, fmt.Errorf("covariance of the %d log gradient norms is not positive definite even with ridge %g·mean(diag)", n, lambda)
		}
		lambda *= 10
	}
}

// score returns (u_i − μ)ᵀ Σ⁻¹ (u_i − μ) for every row.
func (g *gaussHead) score(u Matrix) []float64 {
	out := make([]float64, u.Rows)
	d := mat.NewVecDense(u.Cols, nil)
	var sol mat.VecDense
	for i := range out {
		for j, v := range u.Row(i) {
			d.SetVec(j, v-g.mean[j])
		}
		// The only possible error is a mat.Condition warning, with the
		// solution written all the same; the ridge bounds the condition.
		_ = g.chol.SolveVecTo(&sol, d)
		out[i] = mat.Dot(d, &sol)
	}
	return out
}

// logregHead is a fitted logistic regression on standardized features.
type logregHead struct {
	mean, scale []float64 // x_j = (u_j − mean_j)·scale_j; scale 0 ignores the column
	w           []float64
	b           float64
}

// Convergence of the logistic-regression fit: Newton stops when the largest
// gradient entry is below logregGradTol, and the fit is rejected if it is
// still above logregAcceptTol when the optimizer stops.
const (
	logregGradTol    = 1e-10
	logregAcceptTol  = 1e-7
	logregMaxNewtons = 200
)

func fitLogReg(u0, u1 Matrix, lambda float64) (*logregHead, error) {
	if u0.Rows == 0 || u1.Rows == 0 {
		return nil, fmt.Errorf("need normal and anomalous samples, got %d and %d", u0.Rows, u1.Rows)
	}
	if u0.Cols != u1.Cols {
		return nil, fmt.Errorf("normal samples have %d features, anomalous %d", u0.Cols, u1.Cols)
	}
	n, p := u0.Rows+u1.Rows, u0.Cols
	raw := append(slices.Clone(u0.Data), u1.Data...)
	y := make([]float64, n)
	for i := u0.Rows; i < n; i++ {
		y[i] = 1
	}
	h := &logregHead{}
	h.mean, h.scale = standardScaler(raw, n, p)
	// X is n×(p+1): standardized features and a column of ones for the bias.
	dim := p + 1
	x := mat.NewDense(n, dim, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < p; j++ {
			x.Set(i, j, (raw[i*p+j]-h.mean[j])*h.scale[j])
		}
		x.Set(i, p, 1)
	}
	s := make([]float64, n)
	margins := func(th []float64) {
		mat.NewVecDense(n, s).MulVec(x, mat.NewVecDense(dim, th))
	}
	inv := 1 / float64(n)
	prob := optimize.Problem{
		Func: func(th []float64) float64 {
			margins(th)
			var f float64
			for i, si := range s {
				f += logexp.Softplus(si) - y[i]*si
			}
			var w2 float64
			for _, w := range th[:p] {
				w2 += w * w
			}
			return f*inv + lambda/2*w2
		},
		Grad: func(grad, th []float64) {
			margins(th)
			r := make([]float64, n)
			for i, si := range s {
				r[i] = (logexp.Sigmoid(si) - y[i]) * inv
			}
			mat.NewVecDense(dim, grad).MulVec(x.T(), mat.NewVecDense(n, r))
			for j := 0; j < p; j++ {
				grad[j] += lambda * th[j]
			}
		},
		Hess: func(hess *mat.SymDense, th []float64) {
			margins(th)
			// H = Xᵀ diag(σ(1−σ)/n) X + λ·diag(1,…,1,0), formed as (DX)ᵀ(DX).
			dx := mat.DenseCopyOf(x)
			for i, si := range s {
				q := logexp.Sigmoid(si)
				row := dx.RawRowView(i)
				f := math.Sqrt(q * (1 - q) * inv)
				for j := range row {
					row[j] *= f
				}
			}
			hess.SymOuterK(1, dx.T())
			for j := 0; j < p; j++ {
				hess.SetSym(j, j, hess.At(j, j)+lambda)
			}
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: logregGradTol,
		MajorIterations:   logregMaxNewtons,
		Converger:         optimize.NeverTerminate{},
	}
	res, err := optimize.Minimize(prob, make([]float64, dim), settings, &optimize.Newton{GradStopThreshold: logregGradTol})
	if res == nil {
		return nil, fmt.Errorf("logistic regression: %w", err)
	}
	// A line search may stop short at rounding level after the gradient is
	// already negligible; accept that, reject anything else.
	g := make([]float64, dim)
	prob.Grad(g, res.X)
	gmax := 0.0
	for _, v := range g {
		gmax = math.Max(gmax, math.Abs(v))
	}
	if !(gmax <= logregAcceptTol) {
		if err == nil {
			err = fmt.Errorf("stopped with status %v", res.Status)
		}
		return nil, fmt.Errorf("logistic regression did not converge (gradient %.3g after %d Newton steps): %w", gmax, res.MajorIterations, err)
	}
	h.w = slices.Clone(res.X[:p])
	h.b = res.X[p]
	return h, nil
}

// standardScaler returns the mean and inverse population deviation of every
// column of the n×p row-major raw; scale is 0 for a column whose deviation is
// zero to rounding, so the column is ignored.
func standardScaler(raw []float64, n, p int) (mean, scale []float64) {
	mean, scale = make([]float64, p), make([]float64, p)
	col := make([]float64, n)
	for j := 0; j < p; j++ {
		for i := range col {
			col[i] = raw[i*p+j]
		}
		m, v := stat.PopMeanVariance(col, nil)
		mean[j] = m
		// Treat a deviation at rounding level as zero: scaling it up would
		// turn a constant column into noise.
		if sd := math.Sqrt(v); sd > 1e-12*(1+math.Abs(m)) {
			scale[j] = 1 / sd
		}
	}
	return mean, scale
}

// score returns the log-odds wᵀx + b of every row.
func (h *logregHead) score(u Matrix) []float64 {
	out := make([]float64, u.Rows)
	for i := range out {
		s := h.b
		for j, v := range u.Row(i) {
			s += h.w[j] * (v - h.mean[j]) * h.scale[j]
		}
		out[i] = s
	}
	return out
}
