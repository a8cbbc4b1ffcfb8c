package metrics

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/integrate"
	"gonum.org/v1/gonum/stat"
)

// tol bounds the difference to sklearn, whose sums run in another order.
const tol = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

// The expected values of TestEvaluate come from scikit-learn 1.2.1, numpy
// 1.24 (/usr/bin/python3), with normal = n and anomalous = a:
//
//	import numpy as np
//	from sklearn.metrics import roc_auc_score, average_precision_score, roc_curve
//	s = np.r_[n, a]; y = np.r_[np.zeros(len(n)), np.ones(len(a))]
//	fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
//	fi, ti, _ = roc_curve(1 - y, -s, drop_intermediate=False)
//	AUROC   = roc_auc_score(y, s)
//	AUPRIn  = average_precision_score(1 - y, -s)
//	AUPROut = average_precision_score(y, s)
//	FPR95   = fpr[np.argmax(tpr >= 0.95)]
//	FPR95In = fi[np.argmax(ti >= 0.95)]
//	DetAcc  = np.max(0.5 * (tpr + 1 - fpr))
var evaluateCases = []struct {
	name      string
	normal    []float64
	anomalous []float64
	want      Result
}{
	{
		// By hand: anomalous 0.35 beats 0.1 and ties 0.35 (1.5), 0.4 → 2.5,
		// 0.7 → 3, 0.8 → 3.5, 0.9 → 4; AUROC = 14.5/20.
		name:      "ties",
		normal:    []float64{0.1, 0.4, 0.35, 0.8},
		anomalous: []float64{0.35, 0.4, 0.9, 0.8, 0.7},
		want: Result{AUROC: 0.725, AUPRIn: 0.6916666666666667, AUPROut: 0.7416666666666667,
			FPR95: 0.75, FPR95In: 0.8, DetAcc: 0.675, Normal: 4, Anomalous: 5},
	},
	{
		// All tied: AUROC ½, AP = prevalence of the positive class.
		name:      "all equal",
		normal:    []float64{0.5, 0.5, 0.5},
		anomalous: []float64{0.5, 0.5},
		want: Result{AUROC: 0.5, AUPRIn: 0.6, AUPROut: 0.4,
			FPR95: 1, FPR95In: 1, DetAcc: 0.5, Normal: 3, Anomalous: 2},
	},
	{
		name:      "perfect separation",
		normal:    []float64{0.1, 0.2, 0.3},
		anomalous: []float64{0.7, 0.8},
		want: Result{AUROC: 1, AUPRIn: 1, AUPROut: 1,
			FPR95: 0, FPR95In: 0, DetAcc: 1, Normal: 3, Anomalous: 2},
	},
	{
		// DetAcc stays ½: thresholds only ever flag the high scores.
		name:      "perfectly inverted",
		normal:    []float64{0.7, 0.8, 0.9},
		anomalous: []float64{0.1, 0.2},
		want: Result{AUROC: 0, AUPRIn: 0.4777777777777778, AUPROut: 0.325,
			FPR95: 1, FPR95In: 1, DetAcc: 0.5, Normal: 3, Anomalous: 2},
	},
	{
		// 20 per class so TPR hits exactly 0.95 in both directions: 19 of 20
		// anomalies score ≥ 2 (11 normals do), 19 of 20 normals score ≤ 4
		// (12 anomalies do).
		name:      "integer scores, TPR exactly 0.95",
		normal:    []float64{0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5},
		anomalous: []float64{1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
		want: Result{AUROC: 0.825, AUPRIn: 0.8087833099579242, AUPROut: 0.7795098039215687,
			FPR95: 0.55, FPR95In: 0.6, DetAcc: 0.75, Normal: 20, Anomalous: 20},
	},
	{
		// Every score 1..20 once per class: the ROC is the diagonal, one point
		// per tie group. With roc_curve's default drop_intermediate=True (as
		// OpenOOD calls it) only (0,0),(1,1) survive and FPR95 would be 1.0.
		name:      "diagonal of tie groups",
		normal:    []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
		anomalous: []float64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
		want: Result{AUROC: 0.5, AUPRIn: 0.5, AUPROut: 0.5,
			FPR95: 0.95, FPR95In: 0.95, DetAcc: 0.5, Normal: 20, Anomalous: 20},
	},
}

func checkResult(t *testing.T, got, want Result) {
	t.Helper()
	for _, m := range []struct {
		name      string
		got, want float64
	}{
		{"AUROC", got.AUROC, want.AUROC},
		{"AUPRIn", got.AUPRIn, want.AUPRIn},
		{"AUPROut", got.AUPROut, want.AUPROut},
		{"FPR95", got.FPR95, want.FPR95},
		{"FPR95In", got.FPR95In, want.FPR95In},
		{"DetAcc", got.DetAcc, want.DetAcc},
	} {
		if !near(m.got, m.want) {
			t.Errorf("%s = %.17g, want %.17g", m.name, m.got, m.want)
		}
	}
	if got.Normal != want.Normal || got.Anomalous != want.Anomalous {
		t.Errorf("counts = %d/%d, want %d/%d", got.Normal, got.Anomalous, want.Normal, want.Anomalous)
	}
}

func TestEvaluate(t *testing.T) {
	for _, tc := range evaluateCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Evaluate(tc.normal, tc.anomalous)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, got, tc.want)
		})
	}
}

// The single-metric functions must agree with Evaluate, and AUPR-In/Out
// with AveragePrecision on the documented labels and score signs.
func TestSingleMetricsMatchEvaluate(t *testing.T) {
	for _, tc := range evaluateCases {
		t.Run(tc.name, func(t *testing.T) {
			var got Result
			var err [6]error
			got.AUROC, err[0] = AUROC(tc.normal, tc.anomalous)
			got.FPR95, err[1] = FPR95(tc.normal, tc.anomalous)
			got.FPR95In, err[2] = FPR95In(tc.normal, tc.anomalous)
			got.DetAcc, err[3] = DetectionAccuracy(tc.normal, tc.anomalous)
			scores := slices.Concat(tc.normal, tc.anomalous)
			isAnom := make([]bool, len(scores))
			isNormal := make([]bool, len(scores))
			neg := make([]float64, len(scores))
			for i := range scores {
				isAnom[i] = i >= len(tc.normal)
				isNormal[i] = !isAnom[i]
				neg[i] = -scores[i]
			}
			got.AUPROut, err[4] = AveragePrecision(scores, isAnom)
			got.AUPRIn, err[5] = AveragePrecision(neg, isNormal)
			if e := errors.Join(err[:]...); e != nil {
				t.Fatal(e)
			}
			got.Normal, got.Anomalous = len(tc.normal), len(tc.anomalous)
			checkResult(t, got, tc.want)
		})
	}
}

func TestROC(t *testing.T) {
	// sklearn 1.2.1: roc_curve(y, s, drop_intermediate=False) with
	// s = [0.1, 0.4, 0.35, 0.8, 0.35, 0.4, 0.9, 0.8, 0.7], y = [0]*4 + [1]*5
	// gives thresholds [1.9, 0.9, 0.8, 0.7, 0.4, 0.35, 0.1]; sklearn ≥ 1.3
	// and this package put +Inf first instead of max+1.
	fpr, tpr, thr, err := ROC([]float64{0.1, 0.4, 0.35, 0.8}, []float64{0.35, 0.4, 0.9, 0.8, 0.7})
	if err != nil {
		t.Fatal(err)
	}
	wantFPR := []float64{0, 0, 0.25, 0.25, 0.5, 0.75, 1}
	wantTPR := []float64{0, 0.2, 0.4, 0.6, 0.8, 1, 1}
	wantThr := []float64{math.Inf(1), 0.9, 0.8, 0.7, 0.4, 0.35, 0.1}
	if !slices.Equal(fpr, wantFPR) || !slices.Equal(tpr, wantTPR) || !slices.Equal(thr, wantThr) {
		t.Errorf("ROC =\n fpr %v\n tpr %v\n thr %v\nwant\n fpr %v\n tpr %v\n thr %v",
			fpr, tpr, thr, wantFPR, wantTPR, wantThr)
	}
	if a := trapezoid(fpr, tpr); !near(a, 0.725) {
		t.Errorf("trapezoid(ROC) = %v, want 0.725", a)
	}
}

func TestAveragePrecision(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scores   []float64
		positive []bool
		want     float64
	}{
		// sklearn docs example: average_precision_score([0, 0, 1, 1],
		// [0.1, 0.4, 0.35, 0.8]) = 0.8333333333333333.
		{"sklearn docs", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.8333333333333333},
		// average_precision_score([1, 0, 1, 0, 1, 1], [0.5, 0.5, 0.2, 0.9,
		// 0.9, 0.1]) = 0.5666666666666667; by hand with P = 4 positives:
		// ¼·½ + ¼·½ + ¼·⅗ + ¼·⅔ (each tie group enters at once).
		{"tie groups", []float64{0.5, 0.5, 0.2, 0.9, 0.9, 0.1}, []bool{true, false, true, false, true, true}, 0.5666666666666667},
		// No negatives: precision is 1 everywhere.
		{"positives only", []float64{0.3, 0.1}, []bool{true, true}, 1},
		// One positive ranked last among 4: AP = precision there = ¼.
		{"positive last", []float64{4, 3, 2, 1}, []bool{false, false, false, true}, 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AveragePrecision(tc.scores, tc.positive)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tc.want) {
				t.Errorf("AveragePrecision = %.17g, want %.17g", got, tc.want)
			}
		})
	}
}

// twoSetFuncs are the exported functions that share AUROC's input rules.
var twoSetFuncs = map[string]func(n, a []float64) error{
	"AUROC":             func(n, a []float64) error { _, err := AUROC(n, a); return err },
	"ROC":               func(n, a []float64) error { _, _, _, err := ROC(n, a); return err },
	"FPR95":             func(n, a []float64) error { _, err := FPR95(n, a); return err },
	"FPR95In":           func(n, a []float64) error { _, err := FPR95In(n, a); return err },
	"DetectionAccuracy": func(n, a []float64) error { _, err := DetectionAccuracy(n, a); return err },
	"Evaluate":          func(n, a []float64) error { _, err := Evaluate(n, a); return err },
	"BootstrapAUROC":    func(n, a []float64) error { _, _, err := BootstrapAUROC(n, a, 10, 1); return err },
}

func TestErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name      string
		normal    []float64
		anomalous []float64
		wantSet   string // "" means ErrNeedBothClasses
		wantIndex int
		wantValue float64
		wantMsg   string
	}{
		{name: "nil normal", anomalous: []float64{1}, wantMsg: "metrics: need at least one normal and one anomalous score"},
		{name: "empty anomalous", normal: []float64{1}, anomalous: []float64{}, wantMsg: "metrics: need at least one normal and one anomalous score"},
		{name: "both empty", wantMsg: "metrics: need at least one normal and one anomalous score"},
		// An empty set wins over a NaN: the set size is the coarser fault.
		{name: "empty beats NaN", normal: []float64{nan}, wantMsg: "metrics: need at least one normal and one anomalous score"},
		{name: "NaN anomalous", normal: []float64{0, 1}, anomalous: []float64{0.5, 0.2, nan, nan},
			wantSet: "anomalous", wantIndex: 2, wantValue: nan, wantMsg: "metrics: anomalous score 2 is NaN"},
		{name: "+Inf normal", normal: []float64{0, 1, inf}, anomalous: []float64{nan},
			wantSet: "normal", wantIndex: 2, wantValue: inf, wantMsg: "metrics: normal score 2 is +Inf"},
		{name: "-Inf normal", normal: []float64{-inf}, anomalous: []float64{1},
			wantSet: "normal", wantIndex: 0, wantValue: -inf, wantMsg: "metrics: normal score 0 is -Inf"},
	} {
		for fname, f := range twoSetFuncs {
			t.Run(tc.name+"/"+fname, func(t *testing.T) {
				// Callers wrap with the detector's name; the type must survive.
				err := fmt.Errorf("msp: %w", f(tc.normal, tc.anomalous))
				if got := err.Error(); got != "msp: "+tc.wantMsg {
					t.Errorf("error %q, want %q", got, "msp: "+tc.wantMsg)
				}
				var nf *NonFiniteError
				if tc.wantSet == "" {
					if !errors.Is(err, ErrNeedBothClasses) {
						t.Errorf("error %v is not ErrNeedBothClasses", err)
					}
					return
				}
				if !errors.As(err, &nf) {
					t.Fatalf("error %v is not a *NonFiniteError", err)
				}
				if nf.Set != tc.wantSet || nf.Index != tc.wantIndex ||
					(!math.IsNaN(tc.wantValue) && nf.Value != tc.wantValue) ||
					(math.IsNaN(tc.wantValue) && !math.IsNaN(nf.Value)) {
					t.Errorf("NonFiniteError %+v, want Set %q Index %d Value %v", *nf, tc.wantSet, tc.wantIndex, tc.wantValue)
				}
			})
		}
	}
}

func TestNonFiniteErrorMessage(t *testing.T) {
	err := &NonFiniteError{Set: "anomalous", Index: 17, Value: math.NaN()}
	if got, want := err.Error(), "metrics: anomalous score 17 is NaN"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAveragePrecisionErrors(t *testing.T) {
	if _, err := AveragePrecision([]float64{1, 2}, []bool{false, false}); err == nil ||
		err.Error() != "metrics: average precision needs at least one positive score" {
		t.Errorf("no positives: error %v", err)
	}
	if _, err := AveragePrecision(nil, nil); err == nil {
		t.Error("empty input: no error")
	}
	var nf *NonFiniteError
	_, err := AveragePrecision([]float64{1, 2, math.Inf(-1)}, []bool{true, false, false})
	if !errors.As(err, &nf) || nf.Set != "negative" || nf.Index != 2 || !math.IsInf(nf.Value, -1) {
		t.Errorf("-Inf negative: error %v", err)
	}
	_, err = AveragePrecision([]float64{1, math.NaN()}, []bool{false, true})
	if !errors.As(err, &nf) || nf.Set != "positive" || nf.Index != 1 {
		t.Errorf("NaN positive: error %v", err)
	}
	defer func() {
		if r := recover(); r != "metrics: slice length mismatch" {
			t.Errorf("length mismatch: recovered %v, want the package's panic", r)
		}
	}()
	AveragePrecision([]float64{1, 2}, []bool{true})
}

func TestBootstrapRepsError(t *testing.T) {
	for _, reps := range []int{0, -3} {
		if _, _, err := BootstrapAUROC([]float64{1}, []float64{2}, reps, 1); err == nil {
			t.Errorf("reps %d: no error", reps)
		}
	}
}

func TestInputsUntouched(t *testing.T) {
	normal := []float64{0.9, 0.1, 0.5, 0.5, 0.3}
	anomalous := []float64{0.2, 0.8, 0.5, 0.7}
	n0, a0 := slices.Clone(normal), slices.Clone(anomalous)
	for name, f := range twoSetFuncs {
		if err := f(normal, anomalous); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(normal, n0) || !slices.Equal(anomalous, a0) {
			t.Fatalf("%s modified its inputs: %v %v", name, normal, anomalous)
		}
	}
	scores := slices.Concat(normal, anomalous)
	s0 := slices.Clone(scores)
	pos := []bool{false, false, false, false, false, true, true, true, true}
	p0 := slices.Clone(pos)
	if _, err := AveragePrecision(scores, pos); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scores, s0) || !slices.Equal(pos, p0) {
		t.Fatal("AveragePrecision modified its inputs")
	}
}

// randomScores draws n scores from few levels, so ties are frequent.
func randomScores(rng *rand.Rand, n, levels int, shift float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(rng.IntN(levels))/float64(levels) + shift*rng.Float64()
		s[i] = math.Round(s[i]*float64(levels)) / float64(levels)
	}
	return s
}

// brute computes every metric from its definition, one threshold at a time
// over the distinct scores plus +Inf, in O((n+m)²).
func brute(normal, anomalous []float64) Result {
	var twoU int
	for _, a := range anomalous {
		for _, n := range normal {
			switch {
			case a > n:
				twoU += 2
			case a == n:
				twoU++
			}
		}
	}
	n, p := float64(len(normal)), float64(len(anomalous))
	count := func(xs []float64, keep func(float64) bool) float64 {
		c := 0.0
		for _, x := range xs {
			if keep(x) {
				c++
			}
		}
		return c
	}
	thr := slices.Concat(normal, anomalous)
	slices.Sort(thr)
	thr = slices.Compact(thr)
	r := Result{AUROC: float64(twoU) / (2 * n * p), DetAcc: 0.5, FPR95: -1, FPR95In: -1,
		Normal: len(normal), Anomalous: len(anomalous)}
	// Anomalous positive: flag s ≥ t, t descending.
	prevR := 0.0
	for i := len(thr) - 1; i >= 0; i-- {
		ge := func(x float64) bool { return x >= thr[i] }
		tp, fp := count(anomalous, ge), count(normal, ge)
		r.AUPROut += (tp/p - prevR) * tp / (tp + fp)
		prevR = tp / p
		if r.FPR95 < 0 && tp/p >= 0.95 {
			r.FPR95 = fp / n
		}
		r.DetAcc = max(r.DetAcc, 0.5*(tp/p+1-fp/n))
	}
	// Normal positive: accept s ≤ t, t ascending.
	prevR = 0
	for _, t := range thr {
		le := func(x float64) bool { return x <= t }
		tp, fp := count(normal, le), count(anomalous, le)
		r.AUPRIn += (tp/n - prevR) * tp / (tp + fp)
		prevR = tp / n
		if r.FPR95In < 0 && tp/n >= 0.95 {
			r.FPR95In = fp / p
		}
	}
	return r
}

func trapezoid(x, y []float64) float64 {
	a := 0.0
	for i := 1; i < len(x); i++ {
		a += (x[i] - x[i-1]) * (y[i] + y[i-1]) / 2
	}
	return a
}

// TestRandomAgainstBruteForce checks Evaluate against the definitions, and
// that the trapezoidal area under ROC (ours and gonum's) equals AUROC.
func TestRandomAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(20230402, 2834))
	for trial := range 300 {
		nn, na := 1+rng.IntN(60), 1+rng.IntN(60)
		levels := 2 + rng.IntN(30)
		normal := randomScores(rng, nn, levels, 0)
		anomalous := randomScores(rng, na, levels, 0.3)
		got, err := Evaluate(normal, anomalous)
		if err != nil {
			t.Fatal(err)
		}
		want := brute(normal, anomalous)
		// Same integer count divided the same way: AUROC must match exactly.
		if got.AUROC != want.AUROC {
			t.Fatalf("trial %d: AUROC %.17g, brute force %.17g", trial, got.AUROC, want.AUROC)
		}
		checkResult(t, got, want)

		fpr, tpr, thr, err := ROC(normal, anomalous)
		if err != nil {
			t.Fatal(err)
		}
		if a := trapezoid(fpr, tpr); !near(a, got.AUROC) {
			t.Fatalf("trial %d: trapezoid(ROC) %.17g, AUROC %.17g", trial, a, got.AUROC)
		}
		if !slices.IsSortedFunc(thr, func(a, b float64) int { return -cmpFloat(a, b) }) ||
			fpr[0] != 0 || tpr[0] != 0 || fpr[len(fpr)-1] != 1 || tpr[len(tpr)-1] != 1 {
			t.Fatalf("trial %d: malformed ROC %v %v %v", trial, fpr, tpr, thr)
		}

		// Independent cross-check: gonum's ROC, integrated by gonum.
		y := slices.Concat(normal, anomalous)
		classes := make([]bool, len(y))
		for i := range anomalous {
			classes[len(normal)+i] = true
		}
		stat.SortWeightedLabeled(y, classes, nil)
		gtpr, gfpr, _ := stat.ROC(nil, y, classes, nil)
		if a := integrate.Trapezoidal(gfpr, gtpr); !near(a, got.AUROC) {
			t.Fatalf("trial %d: gonum ROC area %.17g, AUROC %.17g", trial, a, got.AUROC)
		}
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// naiveBootstrap resamples with the documented draw order and calls AUROC.
func naiveBootstrap(normal, anomalous []float64, reps int, seed uint64) (lo, hi float64) {
	ns, as := slices.Clone(normal), slices.Clone(anomalous)
	slices.Sort(ns)
	slices.Sort(as)
	rng := rand.New(rand.NewPCG(seed, 0))
	aucs := make([]float64, reps)
	bn, ba := make([]float64, len(ns)), make([]float64, len(as))
	for r := range aucs {
		for i := range bn {
			bn[i] = ns[rng.IntN(len(ns))]
		}
		for i := range ba {
			ba[i] = as[rng.IntN(len(as))]
		}
		aucs[r], _ = AUROC(bn, ba)
	}
	slices.Sort(aucs)
	return percentile(aucs, 0.025), percentile(aucs, 0.975)
}

func TestBootstrapAUROC(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	normal := randomScores(rng, 200, 20, 0)
	anomalous := randomScores(rng, 150, 20, 0.4)
	auc, _ := AUROC(normal, anomalous)
	lo, hi, err := BootstrapAUROC(normal, anomalous, 500, 42)
	if err != nil {
		t.Fatal(err)
	}
	if !(lo < auc && auc < hi && hi-lo < 0.2) {
		t.Errorf("CI [%v, %v] around AUROC %v", lo, hi, auc)
	}
	if wlo, whi := naiveBootstrap(normal, anomalous, 500, 42); lo != wlo || hi != whi {
		t.Errorf("CI [%v, %v], naive resampling gives [%v, %v]", lo, hi, wlo, whi)
	}
	// Same seed, shuffled input: identical interval (draws index sorted copies).
	rng.Shuffle(len(normal), func(i, j int) { normal[i], normal[j] = normal[j], normal[i] })
	lo2, hi2, _ := BootstrapAUROC(normal, anomalous, 500, 42)
	if lo2 != lo || hi2 != hi {
		t.Errorf("same seed: [%v, %v] then [%v, %v]", lo, hi, lo2, hi2)
	}
	lo3, hi3, _ := BootstrapAUROC(normal, anomalous, 500, 43)
	if lo3 == lo && hi3 == hi {
		t.Errorf("seeds 42 and 43 gave the same interval [%v, %v]", lo, hi)
	}
}

func TestPercentile(t *testing.T) {
	// numpy: np.percentile([1, 2, 3, 4, 10], [2.5, 97.5]) = [1.1, 9.4]
	x := []float64{1, 2, 3, 4, 10}
	if lo, hi := percentile(x, 0.025), percentile(x, 0.975); !near(lo, 1.1) || !near(hi, 9.4) {
		t.Errorf("percentiles %v %v, want 1.1 9.4", lo, hi)
	}
	if got := percentile([]float64{3}, 0.975); got != 3 {
		t.Errorf("single value: %v", got)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	normal, anomalous := make([]float64, 10000), make([]float64, 10000)
	for i := range normal {
		normal[i], anomalous[i] = rng.NormFloat64(), rng.NormFloat64()+1
	}
	for b.Loop() {
		if _, err := Evaluate(normal, anomalous); err != nil {
			b.Fatal(err)
		}
	}
}
