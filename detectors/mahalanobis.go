package detectors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/purview-lab/purview/models"
)

func init() {
	Register("mahalanobis", "Mahalanobis (Lee et al. 2018), one layer, tied covariance: score = min_c (f−μ_c)ᵀΣ⁻¹(f−μ_c) of the channel-mean features f; "+
		"fitted on labelled in-distribution samples. Params tap (default: the penultimate layer), epsilon (input preprocessing, default 0)",
		newMahalanobis)
}

// Mahalanobis is the single-layer, label-free-at-test-time Mahalanobis
// detector of Lee, Lee, Lee and Shin (NeurIPS 2018) as OpenOOD ("mds") and
// pytorch-ood run it. From the in-distribution fit samples (FitData.InDist,
// with their true class labels) and the features f = channel means of one
// hidden layer (models.ChannelMean; the penultimate layer by default) it
// estimates class means μ_c and the tied covariance
//
//	Σ = (1/N) Σ_i (f_i − μ_{y_i})(f_i − μ_{y_i})ᵀ
//
// (sklearn EmpiricalCovariance on the class-centred features: maximum
// likelihood, denominator N), and the precision P = Σ⁺, the pseudo-inverse of
// scipy.linalg.pinvh (eigenvalues with |λ| ≤ D·ε_mach·max|λ| are dropped), as
// sklearn's precision_ — so a dead channel (zero variance) is ignored, not an
// error. Then
//
//	score(x) = min_c (f(x) − μ_c)ᵀ P (f(x) − μ_c),
//
// the squared distance to the closest class mean: the reference confidence
// max_c −(f−μ_c)ᵀP(f−μ_c) (OpenOOD; the paper writes −½ of it) negated, so
// higher = more anomalous.
//
// With epsilon ε > 0 the input is first preprocessed as in the paper,
//
//	x̂ = x − ε·sign(∇ₓ ½(f(x) − μ_ĉ)ᵀP(f(x) − μ_ĉ)),   ĉ = the closest class,
//
// a step that brings f closer to its class (raises the confidence), and the
// score is taken at x̂ (sign(0) = +1 and no clipping, see signStep). ε = 0,
// the default, reads the cached features and needs no gradient.
//
// Classes are the distinct labels of the fit set; a class the fit set lacks
// gets no mean. Unsupervised (fitted on in-distribution samples only); needs
// a models.Inspector. Fit must not run concurrently with Score.
//
// TOML parameters: tap (string, a layer name of the model, default the last
// one, the penultimate features), epsilon (float ≥ 0, default 0).
type Mahalanobis struct {
	Tap string  // layer name; "" = the model's last tap
	Eps float64 // input preprocessing step, pixel units

	tap   string // resolved at Fit
	gauss *classGaussian
}

func newMahalanobis(_ Env, params Decoder) (Detector, error) {
	cfg := struct {
		Tap     string  `toml:"tap"`
		Epsilon float64 `toml:"epsilon"`
	}{}
	if err := decodeParams("mahalanobis", params, &cfg); err != nil {
		return nil, err
	}
	if err := checkNonNegative("mahalanobis", "epsilon", cfg.Epsilon); err != nil {
		return nil, err
	}
	return &Mahalanobis{Tap: cfg.Tap, Eps: cfg.Epsilon}, nil
}

// Name is "mahalanobis", or "mahalanobis[tap=<name>,eps=<ε>]" listing the
// settings that differ from the defaults.
func (d *Mahalanobis) Name() string {
	var extra []string
	if d.Tap != "" {
		extra = append(extra, "tap="+d.Tap)
	}
	if d.Eps != 0 {
		extra = append(extra, "eps="+formatFloat(d.Eps))
	}
	return withParams("mahalanobis", extra)
}

func (*Mahalanobis) Kind() Kind     { return Unsupervised }
func (*Mahalanobis) NeedsFit() bool { return true }

// Fit estimates the class means and tied precision on fd.InDist.
func (d *Mahalanobis) Fit(fd FitData) error {
	typ := d.Name()
	if fd.InDist == nil {
		return fmt.Errorf("detectors: %s: no in-distribution samples to fit on", typ)
	}
	taps, err := modelTaps(typ, fd.InDist)
	if err != nil {
		return err
	}
	tap := d.Tap
	if tap == "" {
		tap = taps[len(taps)-1].Name
	}
	g, err := fitTapGaussian(typ, fd.InDist, tap)
	if err != nil {
		return err
	}
	d.tap, d.gauss = tap, g
	return nil
}

func (d *Mahalanobis) Score(p Probe) ([]float64, error) {
	typ := d.Name()
	if d.gauss == nil {
		return nil, fmt.Errorf("detectors: %s: Score called before Fit", typ)
	}
	key := fmt.Sprintf("mahalanobis-tap %q eps=%v gauss=%s", d.tap, d.Eps, d.gauss.fingerprint())
	m, err := memoRows(p, key, func(all Probe) (Matrix, error) {
		v, err := d.gauss.tapScores(typ, all, d.tap, d.Eps)
		return Matrix{Rows: len(v), Cols: 1, Data: v}, err
	})
	return m.Data, err
}

// fitTapGaussian fits a classGaussian on the channel-mean features of tap of
// the labelled samples p.
func fitTapGaussian(typ string, p Probe, tap string) (*classGaussian, error) {
	labels, err := fitLabels(typ, p)
	if err != nil {
		return nil, err
	}
	f, err := featureRows(typ, fmt.Sprintf("features of layer %q", tap), p,
		func() (Matrix, error) { return p.LayerFeatures(tap, models.ChannelMean) })
	if err != nil {
		return nil, err
	}
	g, err := fitClassGaussian(f, labels)
	if err != nil {
		return nil, fmt.Errorf("detectors: %s: layer %q: %w", typ, tap, err)
	}
	return g, nil
}

// classGaussian holds class means and a tied precision P = W Wᵀ, kept as the
// whitening map W (D×r, r = rank) so a distance is a Euclidean norm:
// (f − μ)ᵀP(f − μ) = ‖Wᵀf − Wᵀμ‖².
type classGaussian struct {
	dim     int
	classes []int       // labels with a mean, ascending
	means   [][]float64 // μ_c, per entry of classes
	w       *mat.Dense  // D×r
	wMeans  [][]float64 // Wᵀμ_c

	fpOnce sync.Once
	fp     string
}

// fingerprint is a SHA-256 of the Gaussian's parameters: equal fits (the
// same samples, refitted in another fold) share memoised scores.
func (g *classGaussian) fingerprint() string {
	g.fpOnce.Do(func() {
		h := sha256.New()
		var b [8]byte
		put := func(v float64) {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		}
		put(float64(g.dim))
		for i, c := range g.classes {
			put(float64(c))
			for _, v := range g.means[i] {
				put(v)
			}
		}
		if g.w != nil {
			r, c := g.w.Dims()
			put(float64(r))
			put(float64(c))
			for i := 0; i < r; i++ {
				for j := 0; j < c; j++ {
					put(g.w.At(i, j))
				}
			}
		}
		g.fp = hex.EncodeToString(h.Sum(nil))
	})
	return g.fp
}

// fitClassGaussian estimates the class means and the pinvh precision of the
// tied maximum-likelihood covariance of the rows of f with classes labels.
func fitClassGaussian(f Matrix, labels []int) (*classGaussian, error) {
	if f.Rows != len(labels) {
		panic(fmt.Sprintf("detectors: fitClassGaussian: %d rows, %d labels", f.Rows, len(labels)))
	}
	if f.Rows < 2 {
		return nil, fmt.Errorf("need at least 2 in-distribution samples to fit a covariance, got %d", f.Rows)
	}
	if f.Cols == 0 {
		return nil, fmt.Errorf("the features have no columns")
	}
	dim := f.Cols
	g := &classGaussian{dim: dim}
	index := map[int]int{}
	var counts []int
	for _, c := range labels {
		if _, ok := index[c]; !ok {
			index[c] = -1
			g.classes = append(g.classes, c)
		}
	}
	slices.Sort(g.classes)
	for k, c := range g.classes {
		index[c] = k
	}
	g.means = make([][]float64, len(g.classes))
	counts = make([]int, len(g.classes))
	for k := range g.means {
		g.means[k] = make([]float64, dim)
	}
	for i, c := range labels {
		k := index[c]
		counts[k]++
		for j, v := range f.Row(i) {
			g.means[k][j] += v
		}
	}
	for k, m := range g.means {
		for j := range m {
			m[j] /= float64(counts[k])
		}
	}
	// Σ = (1/N) XcᵀXc with Xc the class-centred rows.
	xc := mat.NewDense(f.Rows, dim, nil)
	for i, c := range labels {
		mu := g.means[index[c]]
		row := xc.RawRowView(i)
		for j, v := range f.Row(i) {
			row[j] = v - mu[j]
		}
	}
	cov := mat.NewSymDense(dim, nil)
	cov.SymOuterK(1/float64(f.Rows), xc.T())
	w, err := pinvhFactor(cov)
	if err != nil {
		return nil, err
	}
	g.w = w
	g.wMeans = make([][]float64, len(g.means))
	for k, m := range g.means {
		g.wMeans[k] = g.whiten(nil, m)
	}
	return g, nil
}

// pinvhFactor returns W with W Wᵀ = pinvh(a): a = V diag(λ) Vᵀ, and W = the
// columns v_j/√λ_j of the eigenvalues kept by scipy.linalg.pinvh's default
// cutoff |λ_j| > D·ε_mach·max|λ|. A kept negative eigenvalue (only possible
// for a covariance through rounding, and then below the cutoff) is an error.
func pinvhFactor(a *mat.SymDense) (*mat.Dense, error) {
	n := a.SymmetricDim()
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return nil, fmt.Errorf("eigendecomposition of the %d×%d covariance failed", n, n)
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	maxAbs := 0.0
	for _, v := range vals {
		maxAbs = math.Max(maxAbs, math.Abs(v))
	}
	cut := float64(n) * 0x1p-52 * maxAbs
	var keep []int
	for j, v := range vals {
		if math.Abs(v) > cut {
			if v < 0 {
				return nil, fmt.Errorf("the covariance has a negative eigenvalue %g", v)
			}
			keep = append(keep, j)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("the covariance is zero: every feature is constant within its class")
	}
	w := mat.NewDense(n, len(keep), nil)
	for k, j := range keep {
		s := 1 / math.Sqrt(vals[j])
		for i := 0; i < n; i++ {
			w.Set(i, k, vecs.At(i, j)*s)
		}
	}
	return w, nil
}

// whiten writes Wᵀf into dst (allocated when nil) and returns it.
func (g *classGaussian) whiten(dst, f []float64) []float64 {
	_, r := g.w.Dims()
	if dst == nil {
		dst = make([]float64, r)
	}
	mat.NewVecDense(r, dst).MulVec(g.w.T(), mat.NewVecDense(len(f), f))
	return dst
}

// nearest returns min_c (f − μ_c)ᵀP(f − μ_c) and the index (into classes)
// of the minimising class (the first on ties); wf is scratch of length r.
func (g *classGaussian) nearest(f, wf []float64) (float64, int) {
	wf = g.whiten(wf, f)
	best, arg := math.Inf(1), 0
	for k, m := range g.wMeans {
		var d float64
		for j, v := range wf {
			e := v - m[j]
			d += e * e
		}
		if d < best {
			best, arg = d, k
		}
	}
	return best, arg
}

// scores returns min_c squared distance for every row of f.
func (g *classGaussian) scores(f Matrix) []float64 {
	out := make([]float64, f.Rows)
	_, r := g.w.Dims()
	wf := make([]float64, r)
	for i := range out {
		out[i], _ = g.nearest(f.Row(i), wf)
	}
	return out
}

// loss is the preprocessing loss ℓ(f) = ½(f − μ_ĉ)ᵀP(f − μ_ĉ), ĉ the
// closest class; it writes ∂ℓ/∂f = P(f − μ_ĉ) = W(Wᵀf − Wᵀμ_ĉ).
func (g *classGaussian) loss() models.LossFunc {
	return func(_ int, f32, grad []float32) float64 {
		f := make([]float64, len(f32))
		for j, v := range f32 {
			f[j] = float64(v)
		}
		_, r := g.w.Dims()
		wf := make([]float64, r)
		d2, k := g.nearest(f, wf)
		for j, v := range g.wMeans[k] {
			wf[j] -= v
		}
		var pd mat.VecDense
		pd.MulVec(g.w, mat.NewVecDense(r, wf))
		for j := range grad {
			grad[j] = float32(pd.AtVec(j))
		}
		return d2 / 2
	}
}

// tapScores returns min_c squared Mahalanobis distance of the channel-mean
// features of tap for every sample of p, after input preprocessing with step
// eps when eps > 0.
func (g *classGaussian) tapScores(typ string, p Probe, tap string, eps float64) ([]float64, error) {
	what := fmt.Sprintf("features of layer %q", tap)
	if eps == 0 {
		f, err := featureRows(typ, what, p, func() (Matrix, error) { return p.LayerFeatures(tap, models.ChannelMean) })
		if err != nil {
			return nil, err
		}
		if f.Cols != g.dim {
			return nil, fmt.Errorf("detectors: %s: layer %q has %d features, fitted on %d", typ, tap, f.Cols, g.dim)
		}
		return g.scores(f), nil
	}
	ins, err := inspector(typ, p)
	if err != nil {
		return nil, err
	}
	x, n, err := probeInputs(typ, p)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []float64{}, nil
	}
	grad := make([]float32, len(x))
	if _, err := ins.FeatureGrad(x, n, tap, models.ChannelMean, g.loss(), grad); err != nil {
		return nil, fmt.Errorf("detectors: %s: gradient of the Mahalanobis distance at layer %q: %w", typ, tap, err)
	}
	xh, err := signStep(typ, x, grad, eps)
	if err != nil {
		return nil, err
	}
	out, err := ins.LayerFeatures(xh, n, []string{tap}, models.ChannelMean)
	if err != nil {
		return nil, fmt.Errorf("detectors: %s: %s of the preprocessed inputs: %w", typ, what, err)
	}
	if len(out) != 1 || len(out[0]) != n*g.dim {
		return nil, fmt.Errorf("detectors: %s: layer %q of the preprocessed inputs: got %d matrices, want 1 of %d×%d", typ, tap, len(out), n, g.dim)
	}
	f := Matrix{Rows: n, Cols: g.dim, Data: widen(out[0])}
	if err := checkFinite(typ, what+" of the preprocessed inputs", f); err != nil {
		return nil, err
	}
	return g.scores(f), nil
}
