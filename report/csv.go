package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
)

// csvHeader is the column list of CSV. The fpr95 columns name their positive
// class: fpr95_anom_tpr = normal samples flagged at 95 % TPR on anomalies,
// fpr95_in_tpr = anomalies accepted at 95 % TPR on normal samples.
var csvHeader = []string{
	"detector", "supervised", "set", "n_normal", "n_anomalous",
	"auroc", "aupr_in", "aupr_out", "fpr95_anom_tpr", "fpr95_in_tpr", "det_acc",
	"auroc_fold_mean", "auroc_fold_std",
}

// CSV writes the table in long format for pandas / R: a header row, then one
// row per (detector, set) present, in Detectors × Sets order. Metrics are
// fractions in full precision (strconv 'g', −1), not ×100 and not rounded;
// supervised is true/false; an undefined metric is NaN. auroc_fold_mean and
// auroc_fold_std (sample std, n−1) are empty for detectors without folds
// (std also with a single fold).
func (t *Table) CSV(w io.Writer) error {
	g, err := t.index()
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	for _, d := range t.Detectors {
		for _, s := range t.Sets {
			c := g.cell(d, s)
			if c == nil {
				continue
			}
			m := c.Metrics
			mean, std := foldStats(c.FoldAUROC)
			rec := []string{
				d, strconv.FormatBool(c.Supervised), s,
				strconv.Itoa(m.Normal), strconv.Itoa(m.Anomalous),
				full(m.AUROC), full(m.AUPRIn), full(m.AUPROut), full(m.FPR95), full(m.FPR95In), full(m.DetAcc),
				emptyIfNaN(mean), emptyIfNaN(std),
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("report: csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

func emptyIfNaN(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return full(v)
}
