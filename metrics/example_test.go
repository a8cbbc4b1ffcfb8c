package metrics_test

import (
	"errors"
	"fmt"

	"github.com/purview-lab/purview/metrics"
)

func ExampleEvaluate() {
	normal := []float64{0.1, 0.4, 0.35, 0.8}
	anomalous := []float64{0.35, 0.4, 0.9, 0.8, 0.7}
	r, err := metrics.Evaluate(normal, anomalous)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AUROC %.4f  AUPR-In %.4f  AUPR-Out %.4f\n", r.AUROC, r.AUPRIn, r.AUPROut)
	fmt.Printf("FPR95 %.2f  FPR95In %.2f  DetAcc %.3f\n", r.FPR95, r.FPR95In, r.DetAcc)
	// Output:
	// AUROC 0.7250  AUPR-In 0.6917  AUPR-Out 0.7417
	// FPR95 0.75  FPR95In 0.80  DetAcc 0.675
}

func ExampleROC() {
	fpr, tpr, thr, _ := metrics.ROC([]float64{0.1, 0.5}, []float64{0.5, 0.9})
	for i := range fpr {
		fmt.Printf("score ≥ %v: FPR %.1f TPR %.1f\n", thr[i], fpr[i], tpr[i])
	}
	// Output:
	// score ≥ +Inf: FPR 0.0 TPR 0.0
	// score ≥ 0.9: FPR 0.0 TPR 0.5
	// score ≥ 0.5: FPR 0.5 TPR 1.0
	// score ≥ 0.1: FPR 1.0 TPR 1.0
}

func ExampleNonFiniteError() {
	_, err := metrics.AUROC([]float64{0.2, 0.3}, []float64{0.9, 0.0 / zero})
	err = fmt.Errorf("energy: %w", err)
	fmt.Println(err)
	var nf *metrics.NonFiniteError
	if errors.As(err, &nf) {
		fmt.Println(nf.Set, nf.Index)
	}
	// Output:
	// energy: metrics: anomalous score 1 is NaN
	// anomalous 1
}

var zero float64
