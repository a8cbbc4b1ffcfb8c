package metrics

import "math"

var inf = math.Inf(1)

// AUROC returns the area under the ROC curve with the anomalous class
// positive and higher scores more anomalous. It is the Mann–Whitney
// statistic with half credit for ties,
//
//	AUROC = (#{(a,n): a > n} + ½·#{(a,n): a = n}) / (|normal|·|anomalous|)
//
// over all pairs of an anomalous score a and a normal score n, counted in
// O(n log n) after sorting copies of the inputs. It equals sklearn's
// roc_auc_score(y, s) with y = 1 for anomalous samples, and the trapezoidal
// area under ROC.
//
// An empty set returns ErrNeedBothClasses; a NaN or ±Inf score returns a
// *NonFiniteError. The inputs are not modified.
func AUROC(normal, anomalous []float64) (float64, error) {
	if err := validate(normal, anomalous); err != nil {
		return 0, err
	}
	return newCurve(normal, anomalous).auroc(), nil
}

// ROC returns the receiver operating characteristic with the anomalous class
// positive: a sample is flagged when its score is ≥ thresholds[k], and
// fpr[k], tpr[k] are the fractions of normal and anomalous samples flagged.
//
// The semantics are sklearn's roc_curve(y, s, drop_intermediate=False):
// the first point is (0,0) with threshold +Inf ("flag nothing"; sklearn <
// 1.3 reports max(s)+1 there), then one point per distinct score in
// descending order, ending at (1,1). Tied scores move TP and FP together, a
// diagonal segment, so the trapezoidal area under (fpr, tpr) equals AUROC.
//
// Errors and input handling are those of AUROC.
func ROC(normal, anomalous []float64) (fpr, tpr, thresholds []float64, err error) {
	if err := validate(normal, anomalous); err != nil {
		return nil, nil, nil, err
	}
	fpr, tpr, thresholds = newCurve(normal, anomalous).roc()
	return fpr, tpr, thresholds, nil
}

// FPR95 returns the false positive rate at 95 % true positive rate with the
// anomalous class positive — the OpenOOD v1.5 and pytorch-ood convention:
// the fraction of normal samples flagged at the first point of ROC (scanned
// from threshold +Inf downwards) whose TPR is ≥ 0.95. Lower is better.
//
// OpenOOD calls roc_curve with sklearn's default drop_intermediate=True,
// which can skip that first point when several tied normal/anomalous groups
// lie on one straight segment; this function uses every point, like
// pytorch-ood (torchmetrics binary_roc). Without ties both agree.
//
// Errors and input handling are those of AUROC.
func FPR95(normal, anomalous []float64) (float64, error) {
	if err := validate(normal, anomalous); err != nil {
		return 0, err
	}
	return newCurve(normal, anomalous).fpr95(), nil
}

// FPR95In returns the false positive rate at 95 % true positive rate with the
// normal class positive and the scores negated — the convention of the ODIN,
// Energy and GradNorm papers: the fraction of anomalies accepted as normal
// (score ≤ t) at the first threshold t, scanned from the lowest score
// upwards, at which at least 95 % of the normal samples are accepted.
// Lower is better.
//
// The Energy/GradNorm code (fpr_and_fdr_at_recall) picks the point whose
// normal recall is closest to 0.95, which may lie just below it; the two
// agree whenever some threshold accepts exactly 95 % of the normal samples.
// This value generally differs from FPR95 (see reference/anchors.md §7).
//
// Errors and input handling are those of AUROC.
func FPR95In(normal, anomalous []float64) (float64, error) {
	if err := validate(normal, anomalous); err != nil {
		return 0, err
	}
	return newCurve(normal, anomalous).fpr95In(), nil
}

// DetectionAccuracy returns
//
//	max_t ½(TPR(t) + TNR(t))
//
// over the thresholds of ROC, including +Inf ("flag nothing") and the lowest
// score ("flag everything"), both of which score ½; so the result is in
// [½, 1] and a detector whose scores are inverted scores ½, not 1. This is
// 1 − OpenOOD's detection error, min_t ½(FNR + FPR), evaluated at every
// distinct score instead of on a grid.
//
// Errors and input handling are those of AUROC.
func DetectionAccuracy(normal, anomalous []float64) (float64, error) {
	if err := validate(normal, anomalous); err != nil {
		return 0, err
	}
	return newCurve(normal, anomalous).detAcc(), nil
}
