package metrics

import "slices"

// curve is the cumulative confusion count of "flag x as anomalous when
// score(x) ≥ thr[k]" at every distinct score, thresholds descending. All
// metrics of the package are read off it after one O(n log n) sort.
type curve struct {
	thr []float64 // distinct scores, descending
	tp  []int     // anomalous samples with score ≥ thr[k]
	fp  []int     // normal samples with score ≥ thr[k]
	n   int       // number of normal samples
	p   int       // number of anomalous samples
}

// newCurve builds the curve from validated (non-empty, finite) scores. The
// inputs are copied, never reordered.
func newCurve(normal, anomalous []float64) *curve {
	ns := slices.Clone(normal)
	as := slices.Clone(anomalous)
	slices.Sort(ns)
	slices.Sort(as)
	m := len(ns) + len(as) // upper bound on the number of distinct scores
	c := &curve{n: len(ns), p: len(as),
		thr: make([]float64, 0, m), tp: make([]int, 0, m), fp: make([]int, 0, m)}
	// Merge from the top of both ascending slices so that equal scores,
	// whatever their class, fall into one group (one ROC point).
	i, j := len(ns)-1, len(as)-1
	tp, fp := 0, 0
	for i >= 0 || j >= 0 {
		var s float64
		switch {
		case i < 0:
			s = as[j]
		case j < 0:
			s = ns[i]
		default:
			s = max(ns[i], as[j])
		}
		for i >= 0 && ns[i] == s {
			fp++
			i--
		}
		for j >= 0 && as[j] == s {
			tp++
			j--
		}
		c.thr = append(c.thr, s)
		c.tp = append(c.tp, tp)
		c.fp = append(c.fp, fp)
	}
	return c
}

// auroc is the Mann–Whitney statistic U/(n·p) with half credit for ties,
// counted exactly in integers: 2U = Σ_groups Δtp·(2·#normal below + Δfp).
func (c *curve) auroc() float64 {
	var twoU int64
	prevTP, prevFP := 0, 0
	for k := range c.thr {
		dtp, dfp := c.tp[k]-prevTP, c.fp[k]-prevFP
		below := c.n - c.fp[k]
		twoU += int64(dtp) * int64(2*below+dfp)
		prevTP, prevFP = c.tp[k], c.fp[k]
	}
	return float64(twoU) / (2 * float64(c.n) * float64(c.p))
}

// roc returns the points, starting at (0,0) with threshold +Inf.
func (c *curve) roc() (fpr, tpr, thr []float64) {
	m := len(c.thr) + 1
	fpr, tpr, thr = make([]float64, m), make([]float64, m), make([]float64, m)
	thr[0] = inf
	for k := range c.thr {
		fpr[k+1] = float64(c.fp[k]) / float64(c.n)
		tpr[k+1] = float64(c.tp[k]) / float64(c.p)
		thr[k+1] = c.thr[k]
	}
	return fpr, tpr, thr
}

// apOut is the average precision with the anomalous class positive:
// Σ_k (R_k − R_{k−1})·P_k with R_k = tp_k/p, P_k = tp_k/(tp_k+fp_k).
func (c *curve) apOut() float64 {
	ap, prevR := 0.0, 0.0
	for k := range c.thr {
		r := float64(c.tp[k]) / float64(c.p)
		ap += (r - prevR) * float64(c.tp[k]) / float64(c.tp[k]+c.fp[k])
		prevR = r
	}
	return ap
}

// apIn is the average precision with the normal class positive on the
// negated scores: the same sum walked from the lowest score upwards, where
// "flag as normal at t" means score ≤ t.
func (c *curve) apIn() float64 {
	ap, prevR := 0.0, 0.0
	for k := len(c.thr) - 1; k >= 0; k-- {
		tpIn, fpIn := c.n, c.p // samples with score ≤ thr[k]
		if k > 0 {
			tpIn, fpIn = c.n-c.fp[k-1], c.p-c.tp[k-1]
		}
		r := float64(tpIn) / float64(c.n)
		ap += (r - prevR) * float64(tpIn) / float64(tpIn+fpIn)
		prevR = r
	}
	return ap
}

// recallLevel is the TPR of FPR@95TPR. Comparing the float ratio tp/p with
// it (not 20·tp ≥ 19·p) mirrors `tpr >= 0.95` in the reference code.
const recallLevel = 0.95

// fpr95 is the FPR of the first ROC point with TPR ≥ 0.95 (anomalous
// positive). The last point has TPR 1, so one always exists.
func (c *curve) fpr95() float64 {
	for k := range c.thr {
		if float64(c.tp[k])/float64(c.p) >= recallLevel {
			return float64(c.fp[k]) / float64(c.n)
		}
	}
	panic("metrics: internal error: ROC never reaches TPR 1")
}

// fpr95In is the fraction of anomalies accepted as normal (score ≤ t) at
// the lowest threshold t that accepts at least 95 % of the normal samples.
func (c *curve) fpr95In() float64 {
	for k := len(c.thr) - 1; k >= 0; k-- {
		tpIn, fpIn := c.n, c.p
		if k > 0 {
			tpIn, fpIn = c.n-c.fp[k-1], c.p-c.tp[k-1]
		}
		if float64(tpIn)/float64(c.n) >= recallLevel {
			return float64(fpIn) / float64(c.p)
		}
	}
	panic("metrics: internal error: ROC never reaches TPR 1")
}

// detAcc is max_t ½(TPR(t) + 1 − FPR(t)); "flag nothing" (TPR = FPR = 0)
// gives the floor ½.
func (c *curve) detAcc() float64 {
	best := 0.5
	for k := range c.thr {
		tpr := float64(c.tp[k]) / float64(c.p)
		fpr := float64(c.fp[k]) / float64(c.n)
		best = max(best, 0.5*(tpr+1-fpr))
	}
	return best
}
