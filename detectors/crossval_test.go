package detectors

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/metrics"
)

// idProbe has one logit column holding each sample's identity, so a fake
// detector can tell which samples it was given.
func idProbe(ids []float64) fakeProbe {
	rows := make([][]float64, len(ids))
	for i, id := range ids {
		rows[i] = []float64{id}
	}
	return newFakeProbe(rows, nil, nil)
}

func idRange(from, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(from + i)
	}
	return out
}

// recorder is a fake supervised detector: Fit records the identities of its
// training samples, Score returns the identities it scores and records them.
type recorder struct {
	fits           int
	trainN, trainA []float64
	scored         []float64
	needsFit       bool
	seed           uint64
	truncate       bool // return one score too few
	inDist         []float64
}

type recorderLog struct{ dets []*recorder }

func (l *recorderLog) build(needsFit bool) func() (Detector, error) {
	return func() (Detector, error) {
		r := &recorder{needsFit: needsFit}
		l.dets = append(l.dets, r)
		return r, nil
	}
}

func ids(p Probe) []float64 {
	z, err := p.Logits()
	if err != nil {
		panic(err)
	}
	return z.Data
}

func (r *recorder) Name() string   { return "recorder" }
func (r *recorder) Kind() Kind     { return Supervised }
func (r *recorder) NeedsFit() bool { return r.needsFit }
func (r *recorder) Fit(d FitData) error {
	r.fits++
	r.trainN, r.trainA, r.seed = ids(d.Normal), ids(d.Anomalous), d.Seed
	r.inDist = ids(d.InDist)
	return nil
}
func (r *recorder) Score(p Probe) ([]float64, error) {
	s := ids(p)
	r.scored = append(r.scored, s...)
	if r.truncate {
		s = s[1:]
	}
	return s, nil
}

func TestCrossValidateProtocol(t *testing.T) {
	const nn, na, folds = 23, 11, 5
	normal, anom := idProbe(idRange(0, nn)), idProbe(idRange(1000, na))
	var log recorderLog
	sn, sa, auc, err := CrossValidate(log.build(true), normal, anom, folds, 42)
	if err != nil {
		t.Fatal(err)
	}
	// Scores come back in input order: the score of sample i is its identity.
	if !slices.Equal(sn, idRange(0, nn)) || !slices.Equal(sa, idRange(1000, na)) {
		t.Errorf("out-of-fold scores not in input order:\n%v\n%v", sn, sa)
	}
	if len(auc) != folds {
		t.Fatalf("%d fold AUROCs, want %d", len(auc), folds)
	}
	for k, a := range auc {
		if a != 1 { // every anomalous identity exceeds every normal one
			t.Errorf("fold %d AUROC %v, want 1", k, a)
		}
	}
	if len(log.dets) != folds {
		t.Fatalf("built %d detectors, want %d (one per fold)", len(log.dets), folds)
	}
	scoredN, scoredA := map[float64]int{}, map[float64]int{}
	seeds := map[uint64]bool{}
	for k, d := range log.dets {
		if d.fits != 1 {
			t.Errorf("fold %d: detector fitted %d times", k, d.fits)
		}
		seeds[d.seed] = true
		var testN, testA []float64
		for _, id := range d.scored {
			if id >= 1000 {
				testA = append(testA, id)
				scoredA[id]++
			} else {
				testN = append(testN, id)
				scoredN[id]++
			}
		}
		// Stratified: ⌊n/folds⌋ or ⌈n/folds⌉ of each class per fold.
		if len(testN) < nn/folds || len(testN) > nn/folds+1 || len(testA) < na/folds || len(testA) > na/folds+1 {
			t.Errorf("fold %d holds %d normal and %d anomalous samples", k, len(testN), len(testA))
		}
		// Training = exactly the other folds: disjoint from the test fold and
		// together covering every sample.
		for _, id := range append(slices.Clone(d.trainN), d.trainA...) {
			if slices.Contains(d.scored, id) {
				t.Errorf("fold %d scored its own training sample %v", k, id)
			}
		}
		if len(d.trainN)+len(testN) != nn || len(d.trainA)+len(testA) != na {
			t.Errorf("fold %d: %d+%d normal, %d+%d anomalous samples", k, len(d.trainN), len(testN), len(d.trainA), len(testA))
		}
		if !slices.IsSorted(d.trainN) || !slices.IsSorted(d.trainA) {
			t.Errorf("fold %d: training samples not in input order", k)
		}
	}
	if len(seeds) != folds {
		t.Errorf("fit seeds %v are not distinct per fold", seeds)
	}
	for id := range nn {
		if scoredN[float64(id)] != 1 {
			t.Errorf("normal sample %d scored %d times", id, scoredN[float64(id)])
		}
	}
	for id := range na {
		if scoredA[float64(1000+id)] != 1 {
			t.Errorf("anomalous sample %d scored %d times", id, scoredA[float64(1000+id)])
		}
	}
}

// folds runs CrossValidate with a recorder and returns each fold's test set.
func foldsOf(t *testing.T, n, a, folds int, seed uint64) [][]float64 {
	t.Helper()
	var log recorderLog
	if _, _, _, err := CrossValidate(log.build(true), idProbe(idRange(0, n)), idProbe(idRange(1000, a)), folds, seed); err != nil {
		t.Fatal(err)
	}
	out := make([][]float64, len(log.dets))
	for k, d := range log.dets {
		out[k] = d.scored
	}
	return out
}

// The folds depend on the seed only: the same seed gives the same folds
// whatever the detector, another seed other folds.
func TestCrossValidateDeterministic(t *testing.T) {
	a, b, c := foldsOf(t, 30, 20, 4, 7), foldsOf(t, 30, 20, 4, 7), foldsOf(t, 30, 20, 4, 8)
	for k := range a {
		if !slices.Equal(a[k], b[k]) {
			t.Errorf("fold %d differs between two runs with seed 7: %v vs %v", k, a[k], b[k])
		}
	}
	same := true
	for k := range a {
		same = same && slices.Equal(a[k], c[k])
	}
	if same {
		t.Error("seeds 7 and 8 gave the same folds")
	}
	// A detector that needs no fit sees the same folds and is never fitted.
	var log recorderLog
	if _, _, _, err := CrossValidate(log.build(false), idProbe(idRange(0, 30)), idProbe(idRange(1000, 20)), 4, 7); err != nil {
		t.Fatal(err)
	}
	for k, d := range log.dets {
		if d.fits != 0 || !slices.Equal(d.scored, a[k]) {
			t.Errorf("fold %d: no-fit detector fitted %d times, scored %v, want %v", k, d.fits, d.scored, a[k])
		}
	}
}

func TestCrossValidateErrors(t *testing.T) {
	var log recorderLog
	ok := log.build(true)
	n5, a5 := idProbe(idRange(0, 5)), idProbe(idRange(1000, 5))
	cases := []struct {
		name    string
		build   func() (Detector, error)
		n, a    Probe
		folds   int
		wantErr string
	}{
		{"one fold", ok, n5, a5, 1, "at least 2 folds, got 1"},
		{"few anomalies", ok, n5, idProbe(idRange(1000, 2)), 3, "at least 3 samples per class, got 5 normal and 2 anomalous"},
		{"build fails", func() (Detector, error) { return nil, errors.New("boom") }, n5, a5, 2, "fold 0: boom"},
		{"short scores", func() (Detector, error) { return &recorder{truncate: true}, nil }, n5, a5, 2, "returned 2 scores for 3 normal samples"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := CrossValidate(c.build, c.n, c.a, c.folds, 1)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "detectors: ") {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// End to end with the purview logreg head on a separable set: every fold's
// AUROC is 1.
func TestCrossValidatePurview(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	rn, ra := separable(rng, 40)
	build := func() (Detector, error) { return New("purview", Env{Classes: 3}, tomlDecoder(`head = "logreg"`)) }
	sn, sa, auc, err := CrossValidate(build, newFakeProbe(nil, nil, rn), newFakeProbe(nil, nil, ra), 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sn) != 40 || len(sa) != 40 {
		t.Fatalf("%d and %d scores, want 40 and 40", len(sn), len(sa))
	}
	for k, a := range auc {
		if a != 1 {
			t.Errorf("fold %d AUROC %v, want 1", k, a)
		}
	}
}

// TestCrossValidateNonFiniteNamesTheSample: a NaN score is reported with the
// sample's index in its probe, not its position inside the fold.
func TestCrossValidateNonFiniteNamesTheSample(t *testing.T) {
	for _, c := range []struct {
		set string
		bad int
	}{{"normal", 7}, {"anomalous", 13}} {
		n, a := idRange(0, 20), idRange(100, 20)
		if c.set == "normal" {
			n[c.bad] = math.NaN()
		} else {
			a[c.bad] = math.NaN()
		}
		var log recorderLog
		_, _, _, err := CrossValidate(log.build(false), idProbe(n), idProbe(a), 5, 1)
		var nf *metrics.NonFiniteError
		if !errors.As(err, &nf) || nf.Set != c.set || nf.Index != c.bad || !math.IsNaN(nf.Value) {
			t.Errorf("NaN at %s %d: err = %v, want a NonFiniteError naming that sample", c.set, c.bad, err)
		}
	}
}

// TestCrossValidateInDist: CrossValidate gives each fold's normal training
// samples as FitData.InDist; CrossValidateFit gives the probe it is passed.
func TestCrossValidateInDist(t *testing.T) {
	var log recorderLog
	if _, _, _, err := CrossValidate(log.build(true), idProbe(idRange(0, 20)), idProbe(idRange(1000, 20)), 4, 3); err != nil {
		t.Fatal(err)
	}
	for k, r := range log.dets {
		if !slices.Equal(r.inDist, r.trainN) {
			t.Errorf("fold %d: InDist %v, want the normal training samples %v", k, r.inDist, r.trainN)
		}
	}
	var log2 recorderLog
	train := idRange(5000, 7)
	if _, _, _, err := CrossValidateFit(log2.build(true), idProbe(idRange(0, 20)), idProbe(idRange(1000, 20)), idProbe(train), 4, 3); err != nil {
		t.Fatal(err)
	}
	for k, r := range log2.dets {
		if !slices.Equal(r.inDist, train) {
			t.Errorf("fold %d: InDist %v, want the fit probe %v", k, r.inDist, train)
		}
	}
}
