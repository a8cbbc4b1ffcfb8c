// Package report turns detection results into tables (terminal, Markdown, CSV,
// JSON, LaTeX) and figures (ROC curves, purview gradient-feature profiles).
//
// Conventions, shared with package metrics: the positive class is the
// anomalous one, metric values are fractions in [0,1] and every human-facing
// table shows them ×100 with one decimal; machine-facing files (CSV, JSON) keep
// full precision fractions. A detector is "supervised" when it was trained on
// labelled anomalies (k-fold cross-validated); tables always mark it.
//
// Every file is written atomically (temp file in the same directory, fsync,
// rename), see internal/atomicfile.
package report

import (
	"fmt"
	"math"

	"github.com/purview-lab/purview/metrics"
)

// Cell is one detector on one anomaly set.
type Cell struct {
	Detector   string         `json:"detector"`
	Supervised bool           `json:"supervised"` // trained on labelled anomalies (k-fold cross-validated)
	Set        string         `json:"set"`        // anomaly set name, e.g. "fashion-mnist:test"
	Metrics    metrics.Result `json:"metrics"`
	// FoldAUROC holds the per-fold AUROC of a supervised detector (nil
	// otherwise). Tables show Metrics.AUROC ± the sample standard deviation
	// (n−1 denominator) of these values.
	FoldAUROC []float64 `json:"fold_auroc"`
}

// Table is the result grid of one experiment: every detector on every anomaly
// set against one in-distribution test set. Sets and Detectors fix the column
// and row order of every rendering; Cells may come in any order, and a missing
// (detector, set) cell is shown as "-" (and left out of the CSV). The JSON
// tags document the table.json schema; write and read files with JSON and
// ReadJSON, which also handle NaN metrics (encoding/json alone rejects NaN).
type Table struct {
	Title     string   `json:"title"`   // e.g. "mnist: LeNet-5, in-distribution mnist:test (2000 samples)"
	InDist    string   `json:"in_dist"` // in-distribution test set name
	Sets      []string `json:"sets"`    // anomaly sets, column order
	Detectors []string `json:"detectors"`
	Cells     []Cell   `json:"cells"`
}

// grid is a validated Table with its cells indexed by (detector, set).
type grid struct {
	t          *Table
	cells      map[[2]string]*Cell
	supervised map[string]bool
}

// index validates t and indexes its cells. It rejects empty or duplicate
// detector and set names, cells naming an unknown detector or set, duplicate
// cells, and a detector that is supervised on one set but not on another.
func (t *Table) index() (*grid, error) {
	if t == nil {
		return nil, fmt.Errorf("report: nil table")
	}
	if len(t.Detectors) == 0 || len(t.Sets) == 0 {
		return nil, fmt.Errorf("report: table %q: want at least one detector and one anomaly set, have %d and %d",
			t.Title, len(t.Detectors), len(t.Sets))
	}
	if err := uniqueNames(t.Title, "detector", t.Detectors); err != nil {
		return nil, err
	}
	if err := uniqueNames(t.Title, "anomaly set", t.Sets); err != nil {
		return nil, err
	}
	g := &grid{t: t, cells: make(map[[2]string]*Cell, len(t.Cells)), supervised: make(map[string]bool)}
	dets := make(map[string]bool, len(t.Detectors))
	for _, d := range t.Detectors {
		dets[d] = true
	}
	sets := make(map[string]bool, len(t.Sets))
	for _, s := range t.Sets {
		sets[s] = true
	}
	seenSup := make(map[string]string) // detector → set that fixed its Supervised flag
	for i := range t.Cells {
		c := &t.Cells[i]
		if !dets[c.Detector] {
			return nil, fmt.Errorf("report: table %q: cell %d names detector %q, which is not in Detectors", t.Title, i, c.Detector)
		}
		if !sets[c.Set] {
			return nil, fmt.Errorf("report: table %q: cell %d names anomaly set %q, which is not in Sets", t.Title, i, c.Set)
		}
		key := [2]string{c.Detector, c.Set}
		if g.cells[key] != nil {
			return nil, fmt.Errorf("report: table %q: cell %d: duplicate cell for detector %q on set %q", t.Title, i, c.Detector, c.Set)
		}
		if first, ok := seenSup[c.Detector]; ok && g.supervised[c.Detector] != c.Supervised {
			return nil, fmt.Errorf("report: table %q: detector %q has supervised=%v on set %q but %v on set %q",
				t.Title, c.Detector, g.supervised[c.Detector], first, c.Supervised, c.Set)
		}
		seenSup[c.Detector] = c.Set
		g.supervised[c.Detector] = c.Supervised
		g.cells[key] = c
	}
	return g, nil
}

func uniqueNames(title, what string, names []string) error {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" {
			return fmt.Errorf("report: table %q: empty %s name", title, what)
		}
		if seen[n] {
			return fmt.Errorf("report: table %q: duplicate %s %q", title, what, n)
		}
		seen[n] = true
	}
	return nil
}

func (g *grid) cell(det, set string) *Cell { return g.cells[[2]string{det, set}] }

// meanAUROC is the mean of the detector's AUROC over all anomaly sets, or NaN
// when a cell is missing: a mean over a subset of columns would not be
// comparable with the other rows.
func (g *grid) meanAUROC(det string) float64 {
	sum := 0.0
	for _, s := range g.t.Sets {
		c := g.cell(det, s)
		if c == nil {
			return math.NaN()
		}
		sum += c.Metrics.AUROC
	}
	return sum / float64(len(g.t.Sets))
}

// foldStats returns the mean and the sample standard deviation (n−1
// denominator, as gonum stat.StdDev and pandas) of the fold AUROCs; the
// standard deviation is NaN with fewer than two folds, the mean with none.
func foldStats(folds []float64) (mean, std float64) {
	n := float64(len(folds))
	if len(folds) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range folds {
		mean += v
	}
	mean /= n
	if len(folds) < 2 {
		return mean, math.NaN()
	}
	ss := 0.0
	for _, v := range folds {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / (n - 1))
}
