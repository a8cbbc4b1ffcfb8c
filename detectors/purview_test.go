package detectors

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/purview-lab/purview/metrics"
	"github.com/purview-lab/purview/models"
)

func ones(c int) []float32 {
	l := make([]float32, c)
	for i := range l {
		l[i] = 1
	}
	return l
}

func khot(c int, idx ...int) []float32 {
	l := make([]float32, c)
	for _, i := range idx {
		l[i] = 1
	}
	return l
}

func TestParseLabel(t *testing.T) {
	cases := []struct {
		name    string
		v       any
		classes int
		want    []float32
		wantErr string
	}{
		{"default", nil, 10, ones(10), ""},
		{"ones", "ones", 10, ones(10), ""},
		{"zeros", "zeros", 10, make([]float32, 10), ""},
		{"k-hot", []any{int64(0), int64(3)}, 10, khot(10, 0, 3), ""},
		{"k-hot unordered", []any{int64(7), int64(0), int64(3)}, 10, khot(10, 0, 3, 7), ""},
		{"all indices", []any{int64(1), int64(0)}, 2, ones(2), ""},
		{"empty array", []any{}, 10, make([]float32, 10), ""},
		{"integral floats", []any{2.0, 5.0}, 10, khot(10, 2, 5), ""},
		{"[]int64", []int64{1, 2}, 3, khot(3, 1, 2), ""},
		{"one-hot", []any{int64(3)}, 10, nil, `key "label": [3] is one-hot`},
		{"ones of one class", "ones", 1, nil, "is one-hot"},
		{"out of range", []any{int64(0), int64(10)}, 10, nil, "class index 10 out of range [0, 10)"},
		{"negative", []any{int64(-1), int64(2)}, 10, nil, "class index -1 out of range"},
		{"duplicate", []any{int64(3), int64(5), int64(3)}, 10, nil, "class index 3 appears twice"},
		{"unknown string", "all", 10, nil, `unknown label "all"`},
		{"fraction", []any{int64(1), 2.5}, 10, nil, "entry 1 is 2.5, want an integer"},
		{"string entry", []any{"a", "b"}, 10, nil, "entry 0 is a (string)"},
		{"wrong type", int64(3), 10, nil, "got int64"},
		{"no classes", "ones", 0, nil, "Env.Classes) is 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseLabel(c.v, c.classes)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "detectors: purview: ") {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("label = %v, want %v", got, c.want)
			}
		})
	}
}

// TOML tables through the registry: names, kinds, and parameter errors.
func TestPurviewConfig(t *testing.T) {
	cases := []struct {
		toml      string
		wantName  string
		wantKind  Kind
		wantFit   bool
		wantLabel []float32
		wantAct   models.Activation
		wantErr   string
	}{
		{"", "purview-logreg", Supervised, true, ones(10), models.Sigmoid, ""},
		{`head = "sum"`, "purview-sum", Unsupervised, false, ones(10), models.Sigmoid, ""},
		{`head = "sum"` + "\n" + `direction = "larger"`, "purview-sum[larger]", Unsupervised, false, ones(10), models.Sigmoid, ""},
		{`head = "sum"` + "\n" + `direction = "smaller"`, "purview-sum", Unsupervised, false, ones(10), models.Sigmoid, ""},
		{`head = "gauss"`, "purview-gauss", Unsupervised, true, ones(10), models.Sigmoid, ""},
		{`head = "gauss"` + "\nridge = 1e-3", "purview-gauss", Unsupervised, true, ones(10), models.Sigmoid, ""},
		{`activation = "softmax"` + "\n" + `label = "zeros"`, "purview-logreg[softmax,zeros]", Supervised, true, make([]float32, 10), models.Softmax, ""},
		{`head = "gauss"` + "\nlabel = [7, 0, 3]", "purview-gauss[0+3+7]", Unsupervised, true, khot(10, 0, 3, 7), models.Sigmoid, ""},
		{"label = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]", "purview-logreg", Supervised, true, ones(10), models.Sigmoid, ""},
		{`label = "ones"` + "\nl2 = 0.5", "purview-logreg", Supervised, true, ones(10), models.Sigmoid, ""},
		{"label = [3]", "", 0, false, nil, 0, `detectors: purview: key "label": [3] is one-hot`},
		{"label = [0, 12]", "", 0, false, nil, 0, "class index 12 out of range [0, 10)"},
		{"label = [4, 4]", "", 0, false, nil, 0, "class index 4 appears twice"},
		{`activation = "relu"`, "", 0, false, nil, 0, `key "activation": unknown activation "relu"`},
		{`head = "knn"`, "", 0, false, nil, 0, `key "head": unknown head "knn"`},
		{`head = "mlp"`, "purview-mlp", Supervised, true, ones(10), models.Sigmoid, ""},
		{`head = "mlp"` + "\nhidden = 16\nl2 = 0.1", "purview-mlp[hidden=16]", Supervised, true, ones(10), models.Sigmoid, ""},
		{"hidden = 16", "", 0, false, nil, 0, `key "hidden" applies to head "mlp" only, not "logreg"`},
		{`head = "mlp"` + "\nhidden = 0", "", 0, false, nil, 0, `key "hidden": want an integer ≥ 1, got 0`},
		{`direction = "larger"`, "", 0, false, nil, 0, `key "direction" applies to head "sum" only, not "logreg"`},
		{`head = "sum"` + "\n" + `direction = "up"`, "", 0, false, nil, 0, `unknown direction "up"`},
		{`head = "sum"` + "\nridge = 1.0", "", 0, false, nil, 0, `key "ridge" applies to head "gauss" only`},
		{`head = "gauss"` + "\nl2 = 1.0", "", 0, false, nil, 0, `key "l2" applies to heads "logreg" and "mlp" only, not "gauss"`},
		{`head = "gauss"` + "\nridge = 0.0", "", 0, false, nil, 0, `key "ridge": want a finite positive number, got 0`},
		{"l2 = -1.0", "", 0, false, nil, 0, `key "l2": want a finite positive number, got -1`},
		{"lable = [0, 1]", "", 0, false, nil, 0, "lable"},
	}
	for _, c := range cases {
		t.Run(c.toml, func(t *testing.T) {
			d, err := New("purview", Env{Classes: 10}, tomlDecoder(c.toml))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := d.(*Purview)
			cf := p.Confound()
			if d.Name() != c.wantName || d.Kind() != c.wantKind || d.NeedsFit() != c.wantFit ||
				!slices.Equal(cf.Label, c.wantLabel) || cf.Act != c.wantAct {
				t.Errorf("got %q kind %v fit %v label %v act %v; want %q %v %v %v %v",
					d.Name(), d.Kind(), d.NeedsFit(), cf.Label, cf.Act, c.wantName, c.wantKind, c.wantFit, c.wantLabel, c.wantAct)
			}
		})
	}
}

func TestNewPurviewErrors(t *testing.T) {
	cases := []struct {
		cfg     PurviewConfig
		wantErr string
	}{
		{PurviewConfig{Label: khot(4, 2), Head: HeadSum}, "label 2 is one-hot"},
		{PurviewConfig{Label: []float32{0, 0.5, 1}, Head: HeadSum}, "label entry 1 is 0.5"},
		{PurviewConfig{Head: HeadSum}, "empty label"},
		{PurviewConfig{Label: ones(3), Head: "knn"}, `unknown head "knn"`},
		{PurviewConfig{Label: ones(3), Head: HeadSum, Act: 7}, "unknown activation"},
		{PurviewConfig{Label: ones(3), Head: HeadGauss, Ridge: math.Inf(1)}, "ridge"},
	}
	for _, c := range cases {
		if _, err := NewPurview(c.cfg); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("NewPurview(%+v) error = %v, want one containing %q", c.cfg, err, c.wantErr)
		}
	}
}

func mustPurview(t *testing.T, cfg PurviewConfig) *Purview {
	t.Helper()
	d, err := NewPurview(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The sum head's direction: "smaller" (default) scores −Σ r, "larger" +Σ r.
// With anomalies that have smaller norms, the default gives AUROC 1 and
// "larger" AUROC 0: the flip is explicit, never silent.
func TestSumHeadDirection(t *testing.T) {
	normal := newFakeProbe(nil, nil, [][]float64{{1, 2}, {3, 0.5}, {2, 2}})
	anom := newFakeProbe(nil, nil, [][]float64{{0.5, 0.5}, {0, 1}})
	cases := []struct {
		dir        string
		wantNormal []float64
		wantAnom   []float64
		wantAUROC  float64
	}{
		{"", []float64{-3, -3.5, -4}, []float64{-1, -1}, 1},
		{DirSmaller, []float64{-3, -3.5, -4}, []float64{-1, -1}, 1},
		{DirLarger, []float64{3, 3.5, 4}, []float64{1, 1}, 0},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadSum, Direction: c.dir})
			sn, err := d.Score(normal)
			if err != nil {
				t.Fatal(err)
			}
			sa, err := d.Score(anom)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sn, c.wantNormal) || !slices.Equal(sa, c.wantAnom) {
				t.Errorf("scores %v %v, want %v %v", sn, sa, c.wantNormal, c.wantAnom)
			}
			if auc, _ := metrics.AUROC(sn, sa); auc != c.wantAUROC {
				t.Errorf("AUROC = %v, want %v", auc, c.wantAUROC)
			}
		})
	}
}

// The detector asks the probe for exactly its confound.
func TestPurviewAsksForItsConfound(t *testing.T) {
	p := newFakeProbe(nil, nil, [][]float64{{1, 2}})
	d := mustPurview(t, PurviewConfig{Label: khot(4, 1, 3), Act: models.Softmax, Head: HeadSum})
	if _, err := d.Score(p); err != nil {
		t.Fatal(err)
	}
	if len(*p.seen) != 1 || !slices.Equal((*p.seen)[0].Label, khot(4, 1, 3)) || (*p.seen)[0].Act != models.Softmax {
		t.Errorf("probe saw %v, want one request for label [0 1 0 1], softmax", *p.seen)
	}
}

func TestPurviewFeatureErrors(t *testing.T) {
	names := Matrix{Rows: 1, Cols: 2, Data: []float64{1, -1}, Names: []string{"conv1.weight", "conv1.bias"}}
	p := newFakeProbe(nil, nil, nil)
	p.r = names
	cases := []struct {
		name    string
		p       Probe
		wantErr string
	}{
		{"negative", p, `scored sample 0, tensor "conv1.bias", is -1`},
		{"nan", newFakeProbe(nil, nil, [][]float64{{1, 2}, {math.NaN(), 0}}), "sample 1, tensor 0, is NaN"},
		{"inf", newFakeProbe(nil, nil, [][]float64{{math.Inf(1)}}), "is +Inf"},
		{"probe error", newFakeProbe(nil, nil, nil), "detectors: purview-sum: fake probe: no grad norms"},
	}
	d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadSum})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := d.Score(c.p); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// expRows maps log-space rows u to gradient norms r = e^u, so that the
// heads' u = log(r + 1e-30) recovers u (to rounding).
func expRows(u [][]float64) [][]float64 {
	r := make([][]float64, len(u))
	for i, row := range u {
		r[i] = make([]float64, len(row))
		for j, v := range row {
			r[i][j] = math.Exp(v)
		}
	}
	return r
}

// Gauss head on a 2-D example computed by hand. In-distribution u:
// (0,0), (2,2), (1,0), (1,2): mean (1,1), deviations (−1,−1), (1,1), (0,−1),
// (0,1), so with denominator n−1 = 3, Σ = [[2/3, 2/3], [2/3, 4/3]],
// mean(diag) = 1, and the ridge adds ε = λ·1. Then
// Σ+εI inverse = [[4/3+ε, −2/3], [−2/3, 2/3+ε]] / det, det = (2/3+ε)(4/3+ε) − 4/9;
// at ε = 0 it is [[3, −1.5], [−1.5, 1.5]]: d = (1,0) → 3, d = (0,1) → 1.5,
// d = (1,2) → 3 − 6 + 6 = 3, d = 0 → 0.
func TestGaussHeadHand(t *testing.T) {
	fit := newFakeProbe(nil, nil, expRows([][]float64{{0, 0}, {2, 2}, {1, 0}, {1, 2}}))
	test := newFakeProbe(nil, nil, expRows([][]float64{{2, 1}, {1, 2}, {2, 3}, {1, 1}}))
	ds := [][2]float64{{1, 0}, {0, 1}, {1, 2}, {0, 0}}
	closed := func(eps float64) []float64 {
		a, b, c := 2.0/3+eps, 2.0/3, 4.0/3+eps
		det := a*c - b*b
		out := make([]float64, len(ds))
		for i, d := range ds {
			out[i] = (c*d[0]*d[0] - 2*b*d[0]*d[1] + a*d[1]*d[1]) / det
		}
		return out
	}
	cases := []struct {
		ridge float64
		want  []float64
	}{
		{1e-15, []float64{3, 1.5, 3, 0}},
		{0, closed(DefaultRidge)}, // 0 means the default, 1e-6
		{0.5, closed(0.5)},
	}
	for _, c := range cases {
		d := mustPurview(t, PurviewConfig{Label: ones(2), Head: HeadGauss, Ridge: c.ridge})
		if _, err := d.Score(test); err == nil || !strings.Contains(err.Error(), "before Fit") {
			t.Errorf("Score before Fit: error = %v", err)
		}
		if err := d.Fit(FitData{InDist: fit}); err != nil {
			t.Fatal(err)
		}
		got, err := d.Score(test)
		if err != nil {
			t.Fatal(err)
		}
		if !allClose(got, c.want, 1e-9) {
			t.Errorf("ridge %v: scores %v, want %v", c.ridge, got, c.want)
		}
	}
}

// Rescaling any gradient-norm column by a positive factor (fit and test
// alike) shifts u = log r by a constant, which leaves the Mahalanobis
// distance unchanged. (It is not invariant to general affine maps of u: the
// ridge λ·mean(diag)·I is not.)
func TestGaussHeadScaleInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	gen := func(n int, scale []float64) [][]float64 {
		rows := make([][]float64, n)
		for i := range rows {
			rows[i] = make([]float64, len(scale))
			z := rng.NormFloat64()
			for j := range scale {
				rows[i][j] = scale[j] * math.Exp(z+0.5*rng.NormFloat64()) // correlated columns
			}
		}
		return rows
	}
	base := []float64{1, 1, 1, 1}
	fitRows, testRows := gen(60, base), gen(20, base)
	s := []float64{1e-3, 5, 1e4, 1}
	rescale := func(rows [][]float64) [][]float64 {
		out := make([][]float64, len(rows))
		for i, r := range rows {
			out[i] = make([]float64, len(r))
			for j := range r {
				out[i][j] = r[j] * s[j]
			}
		}
		return out
	}
	score := func(fit, test [][]float64) []float64 {
		d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadGauss})
		if err := d.Fit(FitData{InDist: newFakeProbe(nil, nil, fit)}); err != nil {
			t.Fatal(err)
		}
		out, err := d.Score(newFakeProbe(nil, nil, test))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := score(fitRows, testRows), score(rescale(fitRows), rescale(testRows))
	if !allClose(a, b, 1e-9) {
		t.Errorf("scores changed under column rescaling:\n%v\n%v", a, b)
	}
	if slices.Max(a) <= 0 {
		t.Errorf("degenerate scores %v", a)
	}
}

func TestGaussHeadErrors(t *testing.T) {
	d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadGauss})
	if err := d.Fit(FitData{}); err == nil || !strings.Contains(err.Error(), "no in-distribution samples") {
		t.Errorf("Fit without InDist: error = %v", err)
	}
	if err := d.Fit(FitData{InDist: newFakeProbe(nil, nil, [][]float64{{1, 2}})}); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("Fit on one sample: error = %v", err)
	}
	// Identical rows: zero covariance, still factorizable thanks to the ridge.
	if err := d.Fit(FitData{InDist: newFakeProbe(nil, nil, [][]float64{{1, 2}, {1, 2}, {1, 2}})}); err != nil {
		t.Fatalf("Fit on identical rows: %v", err)
	}
	if d.gauss.ridge != DefaultRidge {
		t.Errorf("ridge used %v, want %v", d.gauss.ridge, DefaultRidge)
	}
	if got, err := d.Score(newFakeProbe(nil, nil, [][]float64{{1, 2}})); err != nil || got[0] != 0 {
		t.Errorf("score at the mean = %v, %v; want 0", got, err)
	}
	if _, err := d.Score(newFakeProbe(nil, nil, [][]float64{{1, 2, 3}})); err == nil || !strings.Contains(err.Error(), "3 gradient-norm columns, fitted on 2") {
		t.Errorf("column mismatch: error = %v", err)
	}
}

// factorizeRidge retries with 10× the ridge until the Cholesky succeeds.
// [[1, 1+δ], [1+δ, 1]] has eigenvalues 2+δ and −δ, mean(diag) = 1, so it
// needs a ridge above δ = 5e-6: 1e-6 fails and 1e-5 succeeds. [[1, 2], [2, 1]]
// has eigenvalue −1 and fails up to 1e-3 (three retries).
func TestFactorizeRidge(t *testing.T) {
	cases := []struct {
		a       []float64
		want    float64
		wantErr bool
	}{
		{[]float64{2, 0, 0, 1}, 1e-6, false},
		{[]float64{0, 0, 0, 0}, 1e-6, false},
		{[]float64{1, 1 + 5e-6, 1 + 5e-6, 1}, 1e-5, false},
		{[]float64{1, 2, 2, 1}, 0, true},
	}
	for _, c := range cases {
		var chol mat.Cholesky
		got, err := factorizeRidge(&chol, mat.NewSymDense(2, c.a), 1e-6, gaussRetries)
		if (err != nil) != c.wantErr || !closeTo(got, c.want, 1e-12) {
			t.Errorf("factorizeRidge(%v) = %v, %v; want %v, error %v", c.a, got, err, c.want, c.wantErr)
		}
	}
}

// Logistic regression on a 1-D example solved by hand: normal r = 1, anomalous
// r = e, so u = 0 and 1, standardized to x = −1 and +1. By symmetry b = 0 and
// the objective is softplus(−w) + (λ/2)w², minimal where λw = σ(−w); for
// λ = 0.01, w = 3.359275045369593 (bisection, Python math). The scores of
// standardized x = −1, +1, 0 are −w, +w, 0. Duplicating the rows changes
// nothing: the loss is a mean.
func TestLogRegHand(t *testing.T) {
	const w = 3.359275045369593
	test := newFakeProbe(nil, nil, [][]float64{{1}, {math.E}, {math.Exp(0.5)}})
	for _, rep := range []int{1, 3} {
		var r0, r1 [][]float64
		for range rep {
			r0 = append(r0, []float64{1})
			r1 = append(r1, []float64{math.E})
		}
		d := mustPurview(t, PurviewConfig{Label: ones(2), Head: HeadLogReg})
		if err := d.Fit(FitData{Normal: newFakeProbe(nil, nil, r0), Anomalous: newFakeProbe(nil, nil, r1)}); err != nil {
			t.Fatal(err)
		}
		got, err := d.Score(test)
		if err != nil {
			t.Fatal(err)
		}
		want := []float64{-w, w, 0}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-9 {
				t.Errorf("rep %d: scores %v, want %v", rep, got, want)
				break
			}
		}
	}
}

// separable returns n normal and n anomalous rows of gradient norms whose
// first log-feature separates the classes with a margin; the other columns
// are noise, and the last is identically zero (a dead tensor).
func separable(rng *rand.Rand, n int) (normal, anom [][]float64) {
	row := func(sign float64) []float64 {
		u0 := sign * (0.5 + 2.5*rng.Float64())
		return []float64{math.Exp(u0), math.Exp(rng.NormFloat64()), math.Exp(3 * rng.NormFloat64()), 0}
	}
	for range n {
		normal = append(normal, row(-1))
		anom = append(anom, row(1))
	}
	return normal, anom
}

// Logistic regression separates a linearly separable set: AUROC 1 on
// held-out data. Fitting twice gives bit-identical scores.
func TestLogRegSeparable(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	trN, trA := separable(rng, 100)
	teN, teA := separable(rng, 100)
	teN[0][3] = 1 // a dead tensor coming alive at test time must not matter
	fit := func() (sn, sa []float64) {
		d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadLogReg})
		if err := d.Fit(FitData{Normal: newFakeProbe(nil, nil, trN), Anomalous: newFakeProbe(nil, nil, trA)}); err != nil {
			t.Fatal(err)
		}
		if d.logreg.scale[3] != 0 || d.logreg.w[3] != 0 {
			t.Errorf("constant column: scale %v weight %v, want 0, 0", d.logreg.scale[3], d.logreg.w[3])
		}
		var err error
		if sn, err = d.Score(newFakeProbe(nil, nil, teN)); err != nil {
			t.Fatal(err)
		}
		if sa, err = d.Score(newFakeProbe(nil, nil, teA)); err != nil {
			t.Fatal(err)
		}
		return sn, sa
	}
	sn, sa := fit()
	if auc, err := metrics.AUROC(sn, sa); err != nil || auc != 1 {
		t.Errorf("held-out AUROC = %v, %v; want 1", auc, err)
	}
	sn2, sa2 := fit()
	if !slices.Equal(sn, sn2) || !slices.Equal(sa, sa2) {
		t.Error("two fits on the same data gave different scores")
	}
}

// At the fitted parameters the gradient of the documented objective
// (1/N) Σ [softplus(s) − y s] + (λ/2)‖w‖², written out here independently,
// vanishes.
func TestLogRegOptimality(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n0, a0 := separable(rng, 30)
	// Overlapping classes and unequal sizes: a non-trivial optimum.
	for i := range a0[:20] {
		a0[i][0] = n0[i][0] * math.Exp(0.3*rng.NormFloat64())
	}
	a0 = a0[:25]
	const l2 = 0.05
	d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadLogReg, L2: l2})
	if err := d.Fit(FitData{Normal: newFakeProbe(nil, nil, n0), Anomalous: newFakeProbe(nil, nil, a0)}); err != nil {
		t.Fatal(err)
	}
	s0, _ := d.Score(newFakeProbe(nil, nil, n0))
	s1, _ := d.Score(newFakeProbe(nil, nil, a0))
	lr := d.logreg
	p := len(lr.w)
	grad := make([]float64, p+1)
	N := float64(len(n0) + len(a0))
	add := func(rows [][]float64, s []float64, y float64) {
		for i, r := range rows {
			res := 1/(1+math.Exp(-s[i])) - y
			for j := range p {
				grad[j] += res * (math.Log(r[j]+1e-30) - lr.mean[j]) * lr.scale[j] / N
			}
			grad[p] += res / N
		}
	}
	add(n0, s0, 0)
	add(a0, s1, 1)
	for j := range p {
		grad[j] += l2 * lr.w[j]
	}
	for j, g := range grad {
		if math.Abs(g) > 1e-8 {
			t.Errorf("gradient[%d] = %v at the fitted parameters", j, g)
		}
	}
}

func TestLogRegErrors(t *testing.T) {
	d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadLogReg})
	good := newFakeProbe(nil, nil, [][]float64{{1, 2}})
	cases := []struct {
		name    string
		fd      FitData
		wantErr string
	}{
		{"no anomalies", FitData{Normal: good}, "needs labelled normal and anomalous samples"},
		{"empty class", FitData{Normal: good, Anomalous: newFakeProbe(nil, nil, [][]float64{})}, "got 1 and 0"},
		{"columns", FitData{Normal: good, Anomalous: newFakeProbe(nil, nil, [][]float64{{1, 2, 3}})}, "2 features, anomalous 3"},
		{"bad anomalous", FitData{Normal: good, Anomalous: newFakeProbe(nil, nil, [][]float64{{1, -2}})}, "anomalous sample 0, tensor 1, is -2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := d.Fit(c.fd); err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "detectors: purview-logreg: ") {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	if _, err := d.Score(good); err == nil || !strings.Contains(err.Error(), "before Fit") {
		t.Errorf("Score before Fit: error = %v", err)
	}
}
