package metrics

// Evaluate computes every field of Result from one sort of the scores, with
// the anomalous class positive and higher scores more anomalous:
//
//   - AUROC: see AUROC.
//   - AUPROut: AveragePrecision with the anomalous class positive.
//   - AUPRIn: AveragePrecision with the normal class positive on the negated
//     scores.
//   - FPR95: see FPR95 (anomalous positive; OpenOOD v1.5, pytorch-ood).
//   - FPR95In: see FPR95In (normal positive; ODIN, Energy, GradNorm).
//   - DetAcc: see DetectionAccuracy.
//
// An empty set returns ErrNeedBothClasses; a NaN or ±Inf score returns a
// *NonFiniteError naming the set and the index. The inputs are not modified.
func Evaluate(normal, anomalous []float64) (Result, error) {
	if err := validate(normal, anomalous); err != nil {
		return Result{}, err
	}
	c := newCurve(normal, anomalous)
	return Result{
		AUROC:     c.auroc(),
		AUPRIn:    c.apIn(),
		AUPROut:   c.apOut(),
		FPR95:     c.fpr95(),
		FPR95In:   c.fpr95In(),
		DetAcc:    c.detAcc(),
		Normal:    len(normal),
		Anomalous: len(anomalous),
	}, nil
}
