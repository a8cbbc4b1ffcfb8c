// Package metrics computes the detection metrics of anomaly scores. The
// positive class is always the anomalous one, and scores follow the project's
// convention: higher = more anomalous.
package metrics

// Result holds every metric of one detector on one normal-vs-anomalous split.
// All values are fractions in [0,1] (tables multiply by 100).
type Result struct {
	AUROC   float64 `json:"auroc"`    // Mann–Whitney, half credit for ties (= sklearn roc_auc_score)
	AUPRIn  float64 `json:"aupr_in"`  // average precision with the normal class positive, score negated
	AUPROut float64 `json:"aupr_out"` // average precision with the anomalous class positive
	// FPR95 is the fraction of normal samples flagged at the first threshold
	// where at least 95 % of anomalies are flagged (OpenOOD v1.5 / pytorch-ood).
	FPR95 float64 `json:"fpr95_anom_tpr"`
	// FPR95In is the fraction of anomalies accepted at the threshold that keeps
	// 95 % of normal samples (ODIN / Energy / GradNorm code: normal positive).
	FPR95In float64 `json:"fpr95_in_tpr"`
	// DetAcc is the detection accuracy max_t ½(TPR(t) + TNR(t)).
	DetAcc float64 `json:"det_acc"`
	// Normal and Anomalous count the samples behind the numbers.
	Normal    int `json:"n_normal"`
	Anomalous int `json:"n_anomalous"`
}
