package detectors

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/purview-lab/purview/metrics"
)

// foldStream is the PCG stream of the fold shuffle; fold k's fit seed comes
// from stream foldStream+1+k, so neither depends on the detector.
const foldStream = 0x9e3779b97f4a7c15

// CrossValidate builds a fresh detector per fold with build(), fits it on the other folds'
// normal and anomalous samples, and scores the held-out fold, so every sample gets a score
// from a detector that never saw it. Folds are stratified (normal and anomalous split
// separately), assigned after a seeded shuffle; the same seed gives the same folds for every
// detector. Returns out-of-fold scores for each normal and anomalous sample (in input order)
// and the AUROC of each fold.
//
// Fold assignment: a PCG source seeded with (seed, foldStream) shuffles the
// normal indices, then the anomalous ones; the sample at shuffled position j
// goes to fold j mod folds, so fold sizes differ by at most one per class.
// Training samples are passed in input order. The fit receives
// FitData{Normal, Anomalous, InDist: the same normal training samples, Seed:
// drawn from PCG(seed, foldStream+1+k) for fold k}; giving InDist lets an
// unsupervised detector that fits on normal data be cross-validated too.
//
// Errors: folds < 2, a class with fewer samples than folds, a failing build,
// fit or score (named with the fold), a score count that does not match the
// fold, or a non-finite score, returned as a *metrics.NonFiniteError whose
// Index is the sample's index in normal or anomalous.
func CrossValidate(build func() (Detector, error), normal, anomalous Probe, folds int, seed uint64) (normalScores, anomScores []float64, foldAUROC []float64, err error) {
	return CrossValidateFit(build, normal, anomalous, nil, folds, seed)
}

// CrossValidateFit is CrossValidate with FitData.InDist = inDist in every fold
// (when inDist is not nil): the in-distribution training samples from which
// detectors such as mahalanobis-lr and kd+bu estimate their class statistics,
// as the reference implementations do, while their classifier trains on the
// labelled folds.
func CrossValidateFit(build func() (Detector, error), normal, anomalous, inDist Probe, folds int, seed uint64) (normalScores, anomScores []float64, foldAUROC []float64, err error) {
	if folds < 2 {
		return nil, nil, nil, fmt.Errorf("detectors: cross-validation needs at least 2 folds, got %d", folds)
	}
	nn, na := normal.Len(), anomalous.Len()
	if nn < folds || na < folds {
		return nil, nil, nil, fmt.Errorf("detectors: %d-fold cross-validation needs at least %d samples per class, got %d normal and %d anomalous",
			folds, folds, nn, na)
	}
	rng := rand.New(rand.NewPCG(seed, foldStream))
	foldN := assignFolds(rng, nn, folds)
	foldA := assignFolds(rng, na, folds)

	normalScores = make([]float64, nn)
	anomScores = make([]float64, na)
	foldAUROC = make([]float64, folds)
	// The detectors are built in fold order (builders need not be safe for
	// concurrent use); the folds then fit and score concurrently, each with
	// its own detector and seed, and their results land in fold order, so
	// the output does not depend on the scheduling.
	dets := make([]Detector, folds)
	for k := range dets {
		if dets[k], err = build(); err != nil {
			return nil, nil, nil, fmt.Errorf("detectors: cross-validation fold %d: %w", k, err)
		}
	}
	type foldOut struct {
		sn, sa []float64
		err    error
	}
	outs := make([]foldOut, folds)
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for k := range folds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer func() {
				if r := recover(); r != nil {
					outs[k].err = fmt.Errorf("detectors: cross-validation fold %d: internal error: %v", k, r)
				}
			}()
			o := &outs[k]
			o.sn, o.sa, o.err = runFold(dets[k], normal, anomalous, inDist, foldN, foldA, k, seed)
		}()
	}
	wg.Wait()
	for k := range folds {
		o := outs[k]
		if o.err != nil {
			return nil, nil, nil, o.err
		}
		_, testN := splitFold(foldN, k)
		_, testA := splitFold(foldA, k)
		for j, i := range testN {
			normalScores[i] = o.sn[j]
		}
		for j, i := range testA {
			anomScores[i] = o.sa[j]
		}
		if foldAUROC[k], err = metrics.AUROC(o.sn, o.sa); err != nil {
			// Name the sample by its index in the probe, not in the fold.
			var nf *metrics.NonFiniteError
			if errors.As(err, &nf) {
				idx := testN
				if nf.Set == "anomalous" {
					idx = testA
				}
				return nil, nil, nil, &metrics.NonFiniteError{Set: nf.Set, Index: idx[nf.Index], Value: nf.Value}
			}
			return nil, nil, nil, fmt.Errorf("detectors: cross-validation fold %d, detector %s: %w", k, dets[k].Name(), err)
		}
	}
	return normalScores, anomScores, foldAUROC, nil
}

// runFold fits det on every fold but k and scores fold k.
func runFold(det Detector, normal, anomalous, inDist Probe, foldN, foldA []int, k int, seed uint64) (sn, sa []float64, err error) {
	trainN, testN := splitFold(foldN, k)
	trainA, testA := splitFold(foldA, k)
	if det.NeedsFit() {
		trN := normal.Subset(trainN)
		in := inDist
		if in == nil {
			in = trN
		}
		fd := FitData{
			InDist:    in,
			Normal:    trN,
			Anomalous: anomalous.Subset(trainA),
			Seed:      rand.New(rand.NewPCG(seed, foldStream+1+uint64(k))).Uint64(),
		}
		if err := det.Fit(fd); err != nil {
			return nil, nil, fmt.Errorf("detectors: cross-validation fold %d: %w", k, err)
		}
	}
	if sn, err = scoreFold(det, normal, testN, k, "normal"); err != nil {
		return nil, nil, err
	}
	if sa, err = scoreFold(det, anomalous, testA, k, "anomalous"); err != nil {
		return nil, nil, err
	}
	return sn, sa, nil
}

// assignFolds returns the fold of each of n samples: a seeded shuffle, then
// position j goes to fold j mod folds.
func assignFolds(rng *rand.Rand, n, folds int) []int {
	fold := make([]int, n)
	for j, i := range rng.Perm(n) {
		fold[i] = j % folds
	}
	return fold
}

// splitFold returns the indices (in input order) outside and inside fold k.
func splitFold(fold []int, k int) (train, test []int) {
	for i, f := range fold {
		if f == k {
			test = append(test, i)
		} else {
			train = append(train, i)
		}
	}
	return train, test
}

func scoreFold(det Detector, p Probe, idx []int, k int, class string) ([]float64, error) {
	s, err := det.Score(p.Subset(idx))
	if err != nil {
		return nil, fmt.Errorf("detectors: cross-validation fold %d: scoring %s samples: %w", k, class, err)
	}
	if len(s) != len(idx) {
		return nil, fmt.Errorf("detectors: cross-validation fold %d: detector %s returned %d scores for %d %s samples",
			k, det.Name(), len(s), len(idx), class)
	}
	return s, nil
}
