package detectors

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/purview-lab/purview/models"
)

// linNet is a models.Network over 1×1×2 images: penultimate features 4x and
// logits (1 − x1 − x2, 0), so class 0 is predicted iff x1 + x2 < 1.
type linNet struct{}

func (linNet) Arch() string              { return "lin" }
func (linNet) Classes() int              { return 2 }
func (linNet) InputShape() (c, h, w int) { return 1, 1, 2 }
func (linNet) FeatureDim() int           { return 2 }
func (linNet) Params() []models.Param    { return nil }
func (linNet) GradNames() []string       { return nil }
func (linNet) GradNorms([]float32, int, models.Confound, []float64) error {
	return fmt.Errorf("lin: no gradient norms")
}
func (linNet) Forward(x []float32, n int) (logits, feats []float32, err error) {
	for i := range n {
		a, b := x[2*i], x[2*i+1]
		logits = append(logits, 1-a-b, 0)
		feats = append(feats, 4*a, 4*b)
	}
	return logits, feats, nil
}

// KD against sklearn 1.2.1: KernelDensity(kernel="gaussian",
// bandwidth=1.2).fit(A).score_samples with A = class 0 = {(0,0), (1,0),
// (0,2)}, B = class 1 = {(3,3), (4,2)}: (0.5,0.5) under A → −2.558712166082663,
// (10,−5) under A → −40.10532447428645, (3,2.5) under B → −2.4479415404802407;
// (1,0) under A without itself → −3.020264398772497. KD scores are their
// negations, and the KDE used is the predicted class's, not the label's.
func TestKDSklearn(t *testing.T) {
	fitH := [][]float64{{0, 0}, {1, 0}, {0, 2}, {3, 3}, {4, 2}}
	fitZ := [][]float64{{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}} // predictions do not matter for the fit
	d := &KD{Bandwidth: 1.2}
	if err := d.Fit(FitData{InDist: newFakeProbe(fitZ, fitH, nil).withLabels(0, 0, 0, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	q := newFakeProbe([][]float64{{1, 0}, {1, 0}, {0, 1}, {0, 1}}, [][]float64{{0.5, 0.5}, {10, -5}, {3, 2.5}, {3, 2.5}}, nil).withLabels(1, 1, 0, 1)
	got, err := d.Score(q)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2.558712166082663, 40.10532447428645, 2.4479415404802407, 2.4479415404802407}
	if !allClose(got, want, 1e-13) {
		t.Errorf("KD scores %v, want %v", got, want)
	}
}

// A fit sample scored through the same probe cache is left out of its own
// density (when it is predicted as its class); through another probe of the
// same images it is not.
func TestKDLeavesItselfOut(t *testing.T) {
	// Features 4x: (0,0), (1,0), (0,2) of class 0; (3,3), (4,2) of class 1.
	set := labelledSet([]float32{0, 0, 0.25, 0, 0, 0.5, 0.75, 0.75, 1, 0.5}, []int{0, 0, 0, 1, 1})
	p := NewSetProbe(linNet{}, set)
	d := &KD{Bandwidth: 1.2}
	if err := d.Fit(FitData{InDist: p}); err != nil {
		t.Fatal(err)
	}
	got, err := d.Score(p.Subset([]int{1}))
	if err != nil || !closeTo(got[0], 3.020264398772497, 1e-13) {
		t.Errorf("fit sample (1,0) through the fit probe: %v, %v; want 3.020264398772497 (sklearn, without itself)", got, err)
	}
	other, err := d.Score(NewSetProbe(linNet{}, set).Subset([]int{1}))
	if err != nil || !(other[0] < got[0]) {
		t.Errorf("same image through another probe: %v, %v; want below %v (its own kernel counts)", other, err, got[0])
	}
	// A class whose only sample is the query itself has no density.
	solo := labelledSet([]float32{0, 0, 0.25, 0, 1, 0.5}, []int{0, 0, 1})
	ps := NewSetProbe(linNet{}, solo)
	if err := d.Fit(FitData{InDist: ps}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Score(ps.Subset([]int{2})); err == nil || !strings.Contains(err.Error(), "whose only in-distribution fit sample is itself") {
		t.Errorf("solo class: error %v", err)
	}
}

func TestKDErrors(t *testing.T) {
	d := &KD{Bandwidth: 1.2}
	if err := d.Fit(FitData{InDist: newFakeProbe([][]float64{{0, 0}}, [][]float64{{1, 1}}, nil)}); err == nil || !strings.Contains(err.Error(), "have no class labels") {
		t.Errorf("unlabelled fit: %v", err)
	}
	if err := d.Fit(FitData{InDist: newFakeProbe([][]float64{{0, 0}}, [][]float64{{1, 1}}, nil).withLabels(0)}); err != nil {
		t.Fatal(err)
	}
	_, err := d.Score(newFakeProbe([][]float64{{0, 3}}, [][]float64{{1, 1}}, nil))
	if err == nil || err.Error() != "detectors: kd: sample 0 is predicted as class 1, which has no in-distribution fit samples" {
		t.Errorf("unknown class: %v", err)
	}
	if _, err := d.Score(newFakeProbe([][]float64{{3, 0}}, [][]float64{{1, 1, 1}}, nil)); err == nil || !strings.Contains(err.Error(), "3 penultimate features, fitted on 2") {
		t.Errorf("width: %v", err)
	}
}

// seedNet is a tanhNet whose dropout passes return, for seed number t (in
// order of first use), logits A = (x1, x2) when t is even and B = (x2, x1)
// when t is odd.
type seedNet struct {
	tanhNet
	mu    sync.Mutex
	seeds []uint64
}

func (n *seedNet) DropoutForward(x []float32, k int, seed uint64) ([]float32, error) {
	n.mu.Lock()
	t := slices.Index(n.seeds, seed)
	if t < 0 {
		t = len(n.seeds)
		n.seeds = append(n.seeds, seed)
	}
	n.mu.Unlock()
	out := make([]float32, 2*k)
	for i := range k {
		if t%2 == 0 {
			out[2*i], out[2*i+1] = x[2*i], x[2*i+1]
		} else {
			out[2*i], out[2*i+1] = x[2*i+1], x[2*i]
		}
	}
	return out, nil
}

// BU by hand: 25 passes give p_A = softmax(x1, x2), 25 give p_B, the
// reverse; for each class the population variance is ((p_A − p_B)/2)²,
// and p_A,0 − p_B,0 = σ(d) − σ(−d) = tanh(d/2), d = x1 − x2. So BU =
// tanh(d/2)²/4: d = 0.5 → 0.01499628779840551; d = 1 → 0.05338806675851814;
// d = 0 → 0 (Python math.tanh; printed with repr).
func TestBUHand(t *testing.T) {
	net := &seedNet{}
	x := []float32{0.5, 0, 0.25, 0.25, 0, 1}
	p := NewProbe(net, x, 3)
	got, err := BU{Passes: 50}.Score(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.01499628779840551, 0, 0.05338806675851814}
	if !allClose(got, want, 1e-13) {
		t.Errorf("BU = %v, want %v", got, want)
	}
	seeds := slices.Clone(net.seeds)
	if len(seeds) != 50 {
		t.Fatalf("%d distinct pass seeds, want 50", len(seeds))
	}
	// Again, and through a subset: the cached passes, no new seeds.
	again, _ := BU{Passes: 50}.Score(p.Subset([]int{2, 0}))
	if !slices.Equal(again, []float64{got[2], got[0]}) || len(net.seeds) != 50 {
		t.Errorf("subset BU %v (%d seeds), want %v from the cache", again, len(net.seeds), []float64{got[2], got[0]})
	}
	// Another seed draws other pass seeds.
	if _, err := (BU{Passes: 50, Seed: 1}).Score(p); err != nil {
		t.Fatal(err)
	}
	if len(net.seeds) != 100 {
		t.Errorf("seed 1 reused pass seeds: %d distinct in all, want 100", len(net.seeds))
	}
}

func TestBUNeedsDropout(t *testing.T) {
	cases := []struct {
		name    string
		net     models.Network
		wantErr string
	}{
		{"not stochastic", &fakeNet{}, "detectors: bu: model fake has no dropout forward pass (it is not a models.Stochastic)"},
		{"no dropout layer", &tanhNet{}, "detectors: bu: model tanh gave the same outputs in two dropout passes for every sample"},
		{"reports none", noDropoutNet{&tanhNet{}}, "detectors: bu: model tanh has no dropout layer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ci, h, w := c.net.InputShape()
			x := make([]float32, 2*ci*h*w)
			_, err := BU{Passes: 50}.Score(NewProbe(c.net, x, 2))
			if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) || !strings.Contains(err.Error(), `arch "lenet5-dropout"`) {
				t.Errorf("error = %v, want one starting %q and suggesting lenet5-dropout", err, c.wantErr)
			}
		})
	}
}

// noDropoutNet reports HasDropout() == false.
type noDropoutNet struct{ *tanhNet }

func (noDropoutNet) HasDropout() bool { return false }
