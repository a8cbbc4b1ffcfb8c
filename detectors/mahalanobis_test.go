package detectors

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/models"
)

// twoTaps is a tapsNet with taps "t1" (2 channels) and "t2" (2 features).
var twoTaps = tapsNet{taps: []models.Tap{{Name: "t1", C: 2, H: 1, W: 2}, {Name: "t2", C: 2, H: 1, W: 1}}}

// layerProbe is a fake probe over literal features of tap under r, with
// labels, whose model knows the taps of twoTaps.
func layerProbe(tap string, r models.Reduce, rows [][]float64, labels ...int) fakeProbe {
	p := newFakeProbe(nil, nil, nil).withLayer(tap, r, rows)
	if labels != nil {
		p = p.withLabels(labels...)
	}
	p.model = twoTaps
	return p
}

// Mahalanobis on 4 points, 2 classes: class 0 = (0,0), (2,0), μ0 = (1,0);
// class 1 = (0,2), (2,4), μ1 = (1,3). Class-centred rows (∓1,0), (∓1,∓1), so
// Σ = [[1, ½], [½, ½]] (denominator N = 4) and Σ⁻¹ = [[2, −2], [−2, 4]]. By
// hand: (1,1) → δ0 = (0,1): 4, δ1 = (0,−2): 16 → 4; (3,0) → (2,0): 8,
// (2,−3): 68 → 8; (1,1.5) → 9 and 9 → 9. sklearn 1.2.1
// EmpiricalCovariance().fit(centred).precision_ gives the same distances to
// 1e-15 (3.999999999999999, 15.999999999999996; 7.9999999999999964, …).
// A constant third feature (a dead channel) has zero variance: pinvh drops
// it, so the distances are unchanged whatever the query's third value
// (sklearn: 3.9999999999999862 for (1,1,7)).
func TestMahalanobisHand(t *testing.T) {
	fit := [][]float64{{0, 0}, {2, 0}, {0, 2}, {2, 4}}
	labels := []int{0, 0, 1, 1}
	queries := [][]float64{{1, 1}, {3, 0}, {1, 1.5}}
	want := []float64{4, 8, 9}
	for _, dead := range []bool{false, true} {
		f, q := fit, queries
		if dead {
			f, q = nil, nil
			for _, r := range fit {
				f = append(f, append(slices.Clone(r), 0.5))
			}
			for i, r := range queries {
				q = append(q, append(slices.Clone(r), float64(7*i)))
			}
		}
		d := &Mahalanobis{}
		if err := d.Fit(FitData{InDist: layerProbe("t2", models.ChannelMean, f, labels...)}); err != nil {
			t.Fatal(err)
		}
		if d.tap != "t2" {
			t.Errorf("default tap %q, want the last tap t2", d.tap)
		}
		got, err := d.Score(layerProbe("t2", models.ChannelMean, q))
		if err != nil {
			t.Fatal(err)
		}
		if !allClose(got, want, 1e-13) {
			t.Errorf("dead channel %v: scores %v, want %v", dead, got, want)
		}
	}
	// An explicit tap reads that layer.
	d := &Mahalanobis{Tap: "t1"}
	if err := d.Fit(FitData{InDist: layerProbe("t1", models.ChannelMean, fit, labels...)}); err != nil {
		t.Fatal(err)
	}
	got, err := d.Score(layerProbe("t1", models.ChannelMean, queries))
	if err != nil || !allClose(got, want, 1e-13) {
		t.Errorf("tap t1: scores %v, %v; want %v", got, err, want)
	}
}

// Labels need not be 0..C−1: a missing class simply has no mean.
func TestMahalanobisSparseLabels(t *testing.T) {
	d := &Mahalanobis{}
	f := [][]float64{{0, 0}, {2, 0}, {0, 2}, {2, 4}}
	if err := d.Fit(FitData{InDist: layerProbe("t2", models.ChannelMean, f, 7, 7, 3, 3)}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.gauss.classes, []int{3, 7}) {
		t.Errorf("classes %v, want [3 7]", d.gauss.classes)
	}
	got, _ := d.Score(layerProbe("t2", models.ChannelMean, [][]float64{{1, 1}, {3, 0}}))
	if !allClose(got, []float64{4, 8}, 1e-13) {
		t.Errorf("scores %v, want [4 8]", got)
	}
}

func TestMahalanobisErrors(t *testing.T) {
	good := [][]float64{{0, 0}, {2, 0}, {0, 2}, {2, 4}}
	cases := []struct {
		name    string
		fd      FitData
		wantErr string
	}{
		{"no fit set", FitData{}, "detectors: mahalanobis: no in-distribution samples"},
		{"no labels", FitData{InDist: layerProbe("t2", models.ChannelMean, good)}, "have no class labels"},
		{"unlabelled sample", FitData{InDist: layerProbe("t2", models.ChannelMean, good, 0, 1, -1, 0)}, "sample 2 has no class label (-1)"},
		{"one sample", FitData{InDist: layerProbe("t2", models.ChannelMean, good[:1], 0)}, "at least 2 in-distribution samples"},
		{"constant", FitData{InDist: layerProbe("t2", models.ChannelMean, [][]float64{{1, 1}, {1, 1}}, 0, 0)}, "the covariance is zero"},
		{"not finite", FitData{InDist: layerProbe("t2", models.ChannelMean, [][]float64{{1, math.NaN()}, {1, 1}}, 0, 0)}, "sample 0 are not finite"},
		{"no model", FitData{InDist: newFakeProbe(nil, nil, nil)}, "the probe has no model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := (&Mahalanobis{}).Fit(c.fd); err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "detectors: mahalanobis: ") {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	if _, err := (&Mahalanobis{}).Score(layerProbe("t2", models.ChannelMean, good)); err == nil || !strings.Contains(err.Error(), "before Fit") {
		t.Errorf("Score before Fit: %v", err)
	}
	d := &Mahalanobis{}
	if err := d.Fit(FitData{InDist: layerProbe("t2", models.ChannelMean, good, 0, 0, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Score(layerProbe("t2", models.ChannelMean, [][]float64{{1, 2, 3}})); err == nil || !strings.Contains(err.Error(), "has 3 features, fitted on 2") {
		t.Errorf("wrong width: %v", err)
	}
}

// halfDist2 is ½(f − μ)ᵀP(f − μ) for class k of g, P = W Wᵀ, at the
// float64 (unrounded) tap features of the tanh net at x.
func halfDist2(g *classGaussian, tap string, x [2]float64, k int) float64 {
	a := tnForward(x, noMask)
	f := []float64{(a.t1[0] + a.t1[1]) / 2, (a.t1[2] + a.t1[3]) / 2}
	if tap == "t2" {
		f = a.t2[:]
	}
	wf := g.whiten(nil, f)
	var d float64
	for j, v := range wf {
		e := v - g.wMeans[k][j]
		d += e * e
	}
	return d / 2
}

// Input preprocessing: the score is the distance at x̂ = x − ε·sign(∇ₓ ½d²_ĉ),
// ĉ the closest class at x, the gradient sign checked against central
// finite differences; far from the classes the step lowers the distance
// (raises the confidence).
func TestMahalanobisPreprocessing(t *testing.T) {
	train, _ := tanhSet(40, 0, 1)
	in, anom := tanhSet(6, 4, 2)
	x := append(slices.Clone(in.Images), anom.Images...)
	const n, eps = 10, 0.02
	for _, tap := range []string{"t1", "t2"} {
		net := &tanhNet{}
		d := &Mahalanobis{Tap: tap, Eps: eps}
		if err := d.Fit(FitData{InDist: NewSetProbe(net, train)}); err != nil {
			t.Fatal(err)
		}
		p := NewProbe(net, x, n)
		got, err := d.Score(p)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := (&Mahalanobis{Tap: tap, gauss: d.gauss, tap: tap}).Score(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			xi := [2]float64{float64(x[2*i]), float64(x[2*i+1])}
			a := tnForward(xi, noMask)
			f := []float64{float64(float32((a.t1[0] + a.t1[1]) / 2)), float64(float32((a.t1[2] + a.t1[3]) / 2))}
			if tap == "t2" {
				f = []float64{float64(float32(a.t2[0])), float64(float32(a.t2[1]))}
			}
			_, k := d.gauss.nearest(f, nil)
			var xh [2]float32
			for j := range 2 {
				const h = 1e-6
				xp, xm := xi, xi
				xp[j] += h
				xm[j] -= h
				g := (halfDist2(d.gauss, tap, xp, k) - halfDist2(d.gauss, tap, xm, k)) / (2 * h)
				if math.Abs(g) < 1e-7 {
					t.Fatalf("tap %s sample %d: gradient %v too small to have a sure sign", tap, i, g)
				}
				xh[j] = float32(xi[j] - eps*math.Copysign(1, g))
			}
			b := tnForward([2]float64{float64(xh[0]), float64(xh[1])}, noMask)
			fh := []float64{float64(float32((b.t1[0] + b.t1[1]) / 2)), float64(float32((b.t1[2] + b.t1[3]) / 2))}
			if tap == "t2" {
				fh = []float64{float64(float32(b.t2[0])), float64(float32(b.t2[1]))}
			}
			want, _ := d.gauss.nearest(fh, nil)
			if !closeTo(got[i], want, 1e-12) {
				t.Errorf("tap %s sample %d: score %v, want %v", tap, i, got[i], want)
			}
			// Far from every class (the anomalies, i ≥ 6), a small step
			// towards the closest mean lowers the distance; close to a mean
			// the fixed-size sign step may overshoot.
			if i >= 6 && !(got[i] < plain[i]) {
				t.Errorf("tap %s sample %d: preprocessing did not lower the distance: %v → %v", tap, i, plain[i], got[i])
			}
		}
	}
}
