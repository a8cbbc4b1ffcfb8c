package metrics

import "errors"

// errNoPositive is returned by AveragePrecision without any positive sample.
var errNoPositive = errors.New("metrics: average precision needs at least one positive score")

// AveragePrecision returns sklearn's average_precision_score(positive, scores):
//
//	AP = Σ_k (R_k − R_{k−1})·P_k,  R_0 = 0,
//
// where k runs over the distinct scores in descending order, a sample is
// predicted positive when its score is ≥ the k-th one (tied scores enter
// together), and P_k, R_k are the precision and recall there. It is a step
// sum, not the trapezoidal area under the precision–recall curve used by
// OpenOOD and pytorch-ood, which is slightly larger.
//
// In this package's terms AUPR-Out = AveragePrecision(scores, isAnomalous)
// and AUPR-In = AveragePrecision(−scores, isNormal); Evaluate computes both.
//
// AveragePrecision panics if the slices differ in length. Without a positive
// sample it returns an error; without a negative one AP is 1. A NaN or ±Inf
// score returns a *NonFiniteError whose Set is "positive" or "negative" and
// whose Index points into scores. The inputs are not modified.
func AveragePrecision(scores []float64, positive []bool) (float64, error) {
	if len(scores) != len(positive) {
		panic("metrics: slice length mismatch")
	}
	var pos, neg []float64
	for i, s := range scores {
		if !finite(s) {
			set := "negative"
			if positive[i] {
				set = "positive"
			}
			return 0, &NonFiniteError{Set: set, Index: i, Value: s}
		}
		if positive[i] {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	if len(pos) == 0 {
		return 0, errNoPositive
	}
	return newCurve(neg, pos).apOut(), nil
}
