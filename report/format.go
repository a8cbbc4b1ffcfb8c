package report

import (
	"math"
	"strconv"
)

// missing marks a (detector, set) pair without a result in text tables.
const missing = "-"

// pct formats a fraction as a percentage with one decimal: 0.9731 → "97.3".
// Rounding is strconv's (nearest, ties to even on the binary value, the same
// as Python's '%.1f'), so 0.9125 → "91.2". NaN (an undefined metric) becomes
// "n/a".
func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v*100, 'f', 1, 64)
}

// full formats a fraction with full precision for machine-read files.
func full(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// yesNo renders the supervised flag in text tables.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// aurocText is the AUROC matrix entry of one cell: "97.3", or "99.6 ± 0.1"
// for a supervised detector with at least two folds (± = sample std over
// folds, ×100).
func aurocText(c *Cell) string {
	if c == nil {
		return missing
	}
	s := pct(c.Metrics.AUROC)
	if c.Supervised {
		if _, std := foldStats(c.FoldAUROC); !math.IsNaN(std) {
			s += " ± " + pct(std)
		}
	}
	return s
}

// matrix returns the header and rows of the AUROC ×100 matrix shared by the
// terminal and Markdown renderings: detector, supervised, one column per
// anomaly set, mean.
func (g *grid) matrix() (header []string, rows [][]string) {
	header = append(append([]string{"detector", "supervised"}, g.t.Sets...), "mean")
	for _, d := range g.t.Detectors {
		row := []string{d, yesNo(g.supervised[d])}
		for _, s := range g.t.Sets {
			row = append(row, aurocText(g.cell(d, s)))
		}
		m := g.meanAUROC(d)
		if math.IsNaN(m) {
			row = append(row, missing)
		} else {
			row = append(row, pct(m))
		}
		rows = append(rows, row)
	}
	return header, rows
}

// longHeader names the per-set metric columns. The two FPR@95TPR columns
// carry their positive-class convention in the name (see metrics.Result).
var longHeader = []string{"detector", "supervised", "AUROC", "AUPR-In", "AUPR-Out", "FPR95 (anom+)", "FPR95 (ID+)", "DetAcc"}

// longLegend explains longHeader under every per-set table.
const longLegend = "All values ×100. FPR95 (anom+): % of normal samples flagged at the threshold that flags 95 % of anomalies " +
	"(anomalies positive; OpenOOD). FPR95 (ID+): % of anomalies accepted at the threshold that accepts 95 % of normal samples " +
	"(normal positive; ODIN/Energy code). Lower is better for both FPR95 columns, higher for the others."

func longRow(det string, supervised bool, c *Cell) []string {
	if c == nil {
		return []string{det, yesNo(supervised), missing, missing, missing, missing, missing, missing}
	}
	m := c.Metrics
	return []string{det, yesNo(supervised), aurocText(c), pct(m.AUPRIn), pct(m.AUPROut), pct(m.FPR95), pct(m.FPR95In), pct(m.DetAcc)}
}
