package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// BootstrapAUROC returns a 95 % percentile bootstrap confidence interval
// [lo, hi] for AUROC. Each of the reps replicates resamples the normal and
// the anomalous scores separately with replacement (keeping both class
// sizes) and computes AUROC; lo and hi are the 2.5th and 97.5th percentiles
// of the replicates, interpolated linearly like numpy.percentile's default.
//
// The draws come from rand.New(rand.NewPCG(seed, 0)): per replicate, first
// len(normal) indices into the sorted normal scores, then len(anomalous)
// into the sorted anomalous scores. The result therefore depends only on
// the multisets of scores and the seed, not on the input order or on the
// machine. Each replicate costs O(n) after one sort.
//
// reps < 1 returns an error; otherwise errors and input handling are those
// of AUROC.
func BootstrapAUROC(normal, anomalous []float64, reps int, seed uint64) (lo, hi float64, err error) {
	if reps < 1 {
		return 0, 0, fmt.Errorf("metrics: bootstrap needs at least 1 replicate, got %d", reps)
	}
	if err := validate(normal, anomalous); err != nil {
		return 0, 0, err
	}
	ns, as := slices.Clone(normal), slices.Clone(anomalous)
	slices.Sort(ns)
	slices.Sort(as)
	// Map each sorted sample to its group of equal scores across both
	// classes, ascending, so a replicate is just a count per group.
	ng, ag, groups := groupIndex(ns, as)
	wn, wa := make([]int64, groups), make([]int64, groups)
	rng := rand.New(rand.NewPCG(seed, 0))
	aucs := make([]float64, reps)
	denom := 2 * float64(len(ns)) * float64(len(as))
	for r := range aucs {
		clear(wn)
		clear(wa)
		for range ns {
			wn[ng[rng.IntN(len(ns))]]++
		}
		for range as {
			wa[ag[rng.IntN(len(as))]]++
		}
		// 2U = Σ_g wa[g]·(2·#normal below g + wn[g]), as in curve.auroc.
		var twoU, below int64
		for g := range groups {
			twoU += wa[g] * (2*below + wn[g])
			below += wn[g]
		}
		aucs[r] = float64(twoU) / denom
	}
	slices.Sort(aucs)
	return percentile(aucs, 0.025), percentile(aucs, 0.975), nil
}

// groupIndex assigns ascending group numbers to the distinct values of the
// two ascending slices and returns each element's group and the count.
func groupIndex(ns, as []float64) (ng, ag []int, groups int) {
	ng, ag = make([]int, len(ns)), make([]int, len(as))
	i, j := 0, 0
	for i < len(ns) || j < len(as) {
		var s float64
		switch {
		case i == len(ns):
			s = as[j]
		case j == len(as):
			s = ns[i]
		default:
			s = min(ns[i], as[j])
		}
		for ; i < len(ns) && ns[i] == s; i++ {
			ng[i] = groups
		}
		for ; j < len(as) && as[j] == s; j++ {
			ag[j] = groups
		}
		groups++
	}
	return ng, ag, groups
}

// percentile is numpy.percentile's default ("linear", Hyndman–Fan type 7)
// q-quantile of the ascending, non-empty slice x.
func percentile(x []float64, q float64) float64 {
	h := float64(len(x)-1) * q
	k := int(math.Floor(h))
	if k+1 >= len(x) {
		return x[len(x)-1]
	}
	return x[k] + (h-float64(k))*(x[k+1]-x[k])
}
