package detectors

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/purview-lab/purview/metrics"
)

// The analytic gradient of the MLP objective matches central finite
// differences at a random point.
func TestMLPObjectiveGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, p, H, lambda = 7, 3, 4, 0.05
	x := mat.NewDense(n, p, nil)
	y := make([]float64, n)
	for i := range n {
		for j := range p {
			x.Set(i, j, rng.NormFloat64())
		}
		y[i] = float64(i % 2)
	}
	obj := newMLPObjective(x, y, H, lambda)
	th := make([]float64, H*p+2*H+1)
	for k := range th {
		th[k] = rng.NormFloat64()
	}
	_, g := obj(th)
	g = slices.Clone(g)
	for k := range th {
		const h = 1e-6
		tp, tm := slices.Clone(th), slices.Clone(th)
		tp[k] += h
		tm[k] -= h
		fp, _ := obj(tp)
		fm, _ := obj(tm)
		if fd := (fp - fm) / (2 * h); math.Abs(fd-g[k]) > 1e-7 {
			t.Errorf("∂f/∂θ[%d] = %v, finite difference %v", k, g[k], fd)
		}
	}
	// The objective itself, written out for θ = 0: every s_i = 0, so
	// f = log 2 (no penalty).
	f0, _ := obj(make([]float64, len(th)))
	if !closeTo(f0, math.Ln2, 1e-15) {
		t.Errorf("f(0) = %v, want log 2", f0)
	}
}

// xorRows returns rows of gradient norms r = exp(u) whose log features u
// are uniform in [−2, 2]², anomalous when u1·u2 > 0.25 and normal when
// u1·u2 < −0.25 (a margin): an XOR no linear head can separate.
func xorRows(rng *rand.Rand, n int) (normal, anom [][]float64) {
	for len(normal) < n || len(anom) < n {
		u1, u2 := 4*rng.Float64()-2, 4*rng.Float64()-2
		r := []float64{math.Exp(u1), math.Exp(u2)}
		switch {
		case u1*u2 > 0.25 && len(anom) < n:
			anom = append(anom, r)
		case u1*u2 < -0.25 && len(normal) < n:
			normal = append(normal, r)
		}
	}
	return normal, anom
}

// The MLP head learns the XOR on held-out data (AUROC > 0.97) where the
// logistic-regression head cannot (AUROC < 0.7); the same seed gives the
// same scores bit for bit, another seed other weights.
func TestMLPHeadXOR(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	trN, trA := xorRows(rng, 100)
	teN, teA := xorRows(rng, 100)
	run := func(head string, seed uint64) (sn, sa []float64, d *Purview) {
		d = mustPurview(t, PurviewConfig{Label: ones(3), Head: head, Hidden: 8})
		if err := d.Fit(FitData{Normal: newFakeProbe(nil, nil, trN), Anomalous: newFakeProbe(nil, nil, trA), Seed: seed}); err != nil {
			t.Fatal(err)
		}
		var err error
		if sn, err = d.Score(newFakeProbe(nil, nil, teN)); err != nil {
			t.Fatal(err)
		}
		if sa, err = d.Score(newFakeProbe(nil, nil, teA)); err != nil {
			t.Fatal(err)
		}
		return sn, sa, d
	}
	sn, sa, d := run(HeadMLP, 5)
	if d.Name() != "purview-mlp[hidden=8]" || d.Kind() != Supervised || d.Config().L2 != DefaultMLPL2 {
		t.Errorf("name %q kind %v l2 %v", d.Name(), d.Kind(), d.Config().L2)
	}
	auc, err := metrics.AUROC(sn, sa)
	t.Logf("MLP held-out AUROC %v", auc)
	if err != nil || auc < 0.97 {
		t.Errorf("MLP held-out AUROC = %v, %v; want > 0.97", auc, err)
	}
	sn2, sa2, _ := run(HeadMLP, 5)
	if !slices.Equal(sn, sn2) || !slices.Equal(sa, sa2) {
		t.Error("two MLP fits with the same seed gave different scores")
	}
	_, _, d6 := run(HeadMLP, 6)
	if slices.Equal(d.mlp.theta, d6.mlp.theta) {
		t.Error("seeds 5 and 6 gave the same weights")
	}
	ln, la, _ := run(HeadLogReg, 5)
	auc, _ = metrics.AUROC(ln, la)
	t.Logf("logistic regression held-out AUROC %v", auc)
	if auc > 0.7 {
		t.Errorf("logistic regression separated the XOR: AUROC %v", auc)
	}
}

func TestMLPHeadErrors(t *testing.T) {
	d := mustPurview(t, PurviewConfig{Label: ones(3), Head: HeadMLP})
	if _, err := d.Score(newFakeProbe(nil, nil, [][]float64{{1}})); err == nil || err.Error() != "detectors: purview-mlp: Score called before Fit" {
		t.Errorf("Score before Fit: %v", err)
	}
	if err := d.Fit(FitData{Normal: newFakeProbe(nil, nil, [][]float64{{1}})}); err == nil {
		t.Error("fit without anomalies succeeded")
	}
	if err := d.Fit(FitData{Normal: newFakeProbe(nil, nil, [][]float64{{1}}), Anomalous: newFakeProbe(nil, nil, [][]float64{{2}})}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Score(newFakeProbe(nil, nil, [][]float64{{1, 2}})); err == nil || err.Error() != "detectors: purview-mlp: 2 gradient-norm columns, fitted on 1" {
		t.Errorf("width: %v", err)
	}
}
