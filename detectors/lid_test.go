package detectors

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/models"
)

// MLE LID = −k / Σ log(r_i/r_k). Hand values (Python math): r = (1, 2):
// 2/ln 2 = 2.8853900817779268; r = (1, 3): 2/ln 3 = 1.8204784532536746;
// r = (1, 2, 4): −3/(ln¼ + ln½) = 3/ln 8 = 1.4426950408889634.
func TestMLELID(t *testing.T) {
	cases := []struct {
		r       []float64
		want    float64
		wantErr string
	}{
		{[]float64{1, 2}, 2.8853900817779268, ""},
		{[]float64{1, 3}, 1.8204784532536746, ""},
		{[]float64{1, 2, 4}, 1.4426950408889634, ""},
		{[]float64{2, 4, 8}, 1.4426950408889634, ""}, // scale invariant
		{[]float64{0, 0}, 0, ""},                     // k duplicates
		{[]float64{0, 3}, 0, ""},                     // log 0 = −∞
		{[]float64{2, 2}, 0, "LID is infinite"},
	}
	for _, c := range cases {
		got, err := mleLID(c.r)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("mleLID(%v): error %v, want %q", c.r, err, c.wantErr)
			}
			continue
		}
		if err != nil || !closeTo(got, c.want, 1e-15) {
			t.Errorf("mleLID(%v) = %v, %v; want %v", c.r, got, err, c.want)
		}
	}
}

// lidProbe is a fake probe with 1-D features v on the one tap "t" and
// logits 2v (same LIDs: the estimate is scale invariant).
func lidProbe(v ...float64) fakeProbe {
	rows, z := make([][]float64, len(v)), make([][]float64, len(v))
	for i, x := range v {
		rows[i], z[i] = []float64{x}, []float64{2 * x}
	}
	p := newFakeProbe(z, nil, nil).withLayer("t", models.Flatten, rows)
	p.model = tapsNet{taps: []models.Tap{{Name: "t", C: 1, H: 1, W: 1}}}
	return p
}

// LIDs with k = 2 of 1-D features in one batch of 4 normal samples
// {0, 1, 4, 10}. Normal samples skip themselves: 0 → r = (1, 4):
// 2/ln 4 = 1.4426950408889634; 1 → (1, 3): 2/ln 3 = 1.8204784532536746;
// 4 → (3, 4): 2/ln(4/3) = 6.952118993564416; 10 → (6, 9): 2/ln 1.5 =
// 4.932606924752863. Anomalies see all four: 2 → (1, 2): 2/ln 2 =
// 2.8853900817779268; 20 → (10, 16): 2/ln 1.6 = 4.255286290468886.
// (Python math.log.) A scored sample is compared with batch j mod B = 0.
func TestLIDHand(t *testing.T) {
	d := &LID{K: 2, Batch: 4, L2: DefaultL2}
	if err := d.Fit(FitData{Normal: lidProbe(0, 1, 4, 10), Anomalous: lidProbe(2, 20), Seed: 9}); err != nil {
		t.Fatal(err)
	}
	wantN := []float64{1.4426950408889634, 1.8204784532536746, 6.952118993564416, 4.932606924752863}
	wantA := []float64{2.8853900817779268, 4.255286290468886}
	check := func(name string, m Matrix, want []float64) {
		t.Helper()
		if m.Cols != 2 || !slices.Equal(m.Names, []string{"t", "logits"}) {
			t.Fatalf("%s: %d columns %v, want t and logits", name, m.Cols, m.Names)
		}
		for i, w := range want {
			for l := range 2 {
				if !closeTo(m.Row(i)[l], w, 1e-14) {
					t.Errorf("%s sample %d layer %d: LID %v, want %v", name, i, l, m.Row(i)[l], w)
				}
			}
		}
	}
	check("normal", d.trainN, wantN)
	check("anomalous", d.trainA, wantA)
	f, err := d.Features(lidProbe(2, 20))
	if err != nil {
		t.Fatal(err)
	}
	check("scored", f, wantA)
	s, err := d.Score(lidProbe(2, 20, 1))
	if err != nil || len(s) != 3 {
		t.Fatalf("Score: %v, %v", s, err)
	}
}

// Batches: a seeded shuffle cut into ⌈N/batch⌉ pieces of near-equal size;
// the same seed gives the same batches, another seed (almost surely)
// others. Scored samples rotate through the batches.
func TestLIDBatches(t *testing.T) {
	normal := lidProbe(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89)
	fit := func(seed uint64) *LID {
		d := &LID{K: 2, Batch: 4, L2: DefaultL2}
		if err := d.Fit(FitData{Normal: normal, Anomalous: lidProbe(100, 200, 300), Seed: seed}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b, c := fit(1), fit(1), fit(2)
	if len(a.batches) != 3 {
		t.Fatalf("%d batches for 11 samples of batch 4, want 3", len(a.batches))
	}
	var all []int
	for _, bt := range a.batches {
		if len(bt) < 3 || len(bt) > 4 {
			t.Errorf("batch sizes %d, want 3 or 4", len(bt))
		}
		all = append(all, bt...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("batches do not partition the samples: %v", a.batches)
	}
	if !slices.EqualFunc(a.batches, b.batches, slices.Equal) || !slices.Equal(a.trainN.Data, b.trainN.Data) {
		t.Error("the same seed gave different batches")
	}
	if slices.EqualFunc(a.batches, c.batches, slices.Equal) {
		t.Error("seeds 1 and 2 gave the same batches")
	}
	// A scored sample j uses batch j mod 3: the same value at positions 0
	// and 3 gets the same LID, at position 1 (another batch) another one.
	f, err := a.Features(lidProbe(6.5, 6.5, 6.5, 6.5))
	if err != nil {
		t.Fatal(err)
	}
	if f.Row(0)[0] != f.Row(3)[0] || f.Row(0)[0] == f.Row(1)[0] {
		t.Errorf("scored LIDs %v: want rows 0 and 3 equal, row 1 different", f.Data)
	}
}

// Through a real probe, the normal training samples are recognised when
// scored again (same cache): they skip themselves and reproduce their
// training LIDs exactly.
func TestLIDMembersScoreAsInTraining(t *testing.T) {
	net := &tanhNet{}
	in, anom := tanhSet(30, 12, 4)
	pin, pa := NewSetProbe(net, in), NewSetProbe(net, anom)
	d := &LID{K: 5, Batch: 10, L2: DefaultL2}
	if err := d.Fit(FitData{Normal: pin.Subset([]int{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}), Anomalous: pa, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.layers, []string{"t1", "t2", "logits"}) {
		t.Errorf("layers %v, want t1 t2 logits", d.layers)
	}
	f, err := d.Features(pin.Subset([]int{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Data, d.trainN.Data) {
		t.Errorf("members scored %v, trained on %v", f.Data, d.trainN.Data)
	}
	for _, v := range f.Data {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Fatalf("LID %v, want finite > 0", v)
		}
	}
	// Non-members of the same cache are compared with all batch members.
	g, err := d.Features(pin.Subset([]int{1, 3}))
	if err != nil || g.Rows != 2 {
		t.Fatalf("non-members: %v, %v", g, err)
	}
}

func TestLIDErrors(t *testing.T) {
	cases := []struct {
		name    string
		fd      FitData
		wantErr string
	}{
		{"no anomalies", FitData{Normal: lidProbe(0, 1)}, "needs labelled normal and anomalous samples"},
		{"one normal", FitData{Normal: lidProbe(0), Anomalous: lidProbe(1)}, "at least 2 normal samples, got 1"},
		{"no model", FitData{Normal: newFakeProbe(nil, nil, nil).withLabels(0, 0), Anomalous: lidProbe(1)}, "the probe has no model"},
		{"equidistant", FitData{Normal: lidProbe(0, 2, 4), Anomalous: lidProbe(1)}, `normal training sample 1, layer "t": LID is infinite`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := (&LID{K: 2, Batch: 4, L2: DefaultL2}).Fit(c.fd)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "detectors: lid[k=2,batch=4]: ") {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	if _, err := (&LID{K: 2, Batch: 4}).Score(lidProbe(1)); err == nil || !strings.Contains(err.Error(), "before Fit") {
		t.Errorf("Score before Fit: %v", err)
	}
}

// TestLIDStreams: LID leaves no flattened activations in a model probe's
// cache, and recomputing the reference batches (over lidRefBudget) gives
// bit for bit the LIDs of keeping them.
func TestLIDStreams(t *testing.T) {
	run := func(budget int) (Matrix, Matrix, *probeCache) {
		defer func(b int) { lidRefBudget = b }(lidRefBudget)
		lidRefBudget = budget
		net := &tanhNet{}
		in, anom := tanhSet(40, 16, 5)
		pin, pa := NewSetProbe(net, in), NewSetProbe(net, anom)
		d := &LID{K: 4, Batch: 8, L2: DefaultL2}
		if err := d.Fit(FitData{Normal: pin.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}), Anomalous: pa.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7}), Seed: 5}); err != nil {
			t.Fatal(err)
		}
		f, err := d.Features(pin.Subset([]int{3, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}))
		if err != nil {
			t.Fatal(err)
		}
		g, err := d.Features(pa.Subset([]int{8, 9, 10, 11, 12, 13, 14, 15}))
		if err != nil {
			t.Fatal(err)
		}
		if (budget == 0) != d.refTooBig {
			t.Errorf("budget %d: refTooBig %v", budget, d.refTooBig)
		}
		return f, g, pin.(*probe).cache
	}
	f1, g1, c := run(1 << 28)
	f0, g0, _ := run(0)
	if !slices.Equal(f1.Data, f0.Data) || !slices.Equal(g1.Data, g0.Data) {
		t.Errorf("recomputed reference batches change the LIDs:\n%v\n%v", f1.Data, f0.Data)
	}
	for k := range c.layers {
		if k.reduce == models.Flatten {
			t.Errorf("probe cache holds the flattened activations of %q", k.tap)
		}
	}
}
