package report

import (
	"fmt"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/purview-lab/purview/metrics"
)

// Curve is one detector's ROC curve: FPR[k], TPR[k] are the fractions of
// normal and anomalous samples flagged at the k-th threshold (as
// metrics.ROC returns them), AUROC a fraction in [0,1].
type Curve struct {
	Label    string
	FPR, TPR []float64
	AUROC    float64
}

// ROCCurves computes one Curve per detector, in the order of detectors, with
// metrics.ROC and metrics.AUROC on normal[d] and anomalous[d] (higher score =
// more anomalous).
func ROCCurves(detectors []string, normal, anomalous map[string][]float64) ([]Curve, error) {
	curves := make([]Curve, 0, len(detectors))
	for _, d := range detectors {
		ns, ok := normal[d]
		if !ok {
			return nil, errorf("roc curves: no normal scores for detector %q", d)
		}
		as, ok := anomalous[d]
		if !ok {
			return nil, errorf("roc curves: no anomalous scores for detector %q", d)
		}
		fpr, tpr, _, err := metrics.ROC(ns, as)
		if err != nil {
			return nil, errorf("roc curves: detector %q: %w", d, err)
		}
		auc, err := metrics.AUROC(ns, as)
		if err != nil {
			return nil, errorf("roc curves: detector %q: %w", d, err)
		}
		curves = append(curves, Curve{Label: d, FPR: fpr, TPR: tpr, AUROC: auc})
	}
	return curves, nil
}

// ROCFigure draws the curves on one 5×5-inch plot and writes pathNoExt+".png"
// (150 dpi) and pathNoExt+".svg", each atomically. Each curve has its own
// colour and dash pattern (width 1.5 pt) and a legend entry
// "label (AUROC 97.3)" in a boxed legend at the bottom right, the corner a
// better-than-chance curve never enters. The chance diagonal is grey and
// dashed; both axes run 0..1 with ticks every 0.1 and a grid.
//
// Points inside horizontal or vertical runs are dropped before drawing
// (sklearn's drop_intermediate rule), which leaves the drawn curve unchanged
// and keeps the SVG small for large test sets.
func ROCFigure(title string, curves []Curve, pathNoExt string) error {
	if len(curves) == 0 {
		return errorf("roc figure %s: no curves", pathNoExt)
	}
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(12)
	p.X.Label.Text = "false positive rate (normal flagged)"
	p.Y.Label.Text = "true positive rate (anomalies flagged)"
	ticks := unitTicks()
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Min, ax.Max = 0, 1
		ax.Tick.Marker = ticks
		ax.Label.TextStyle.Font.Size = vg.Points(11)
		ax.Tick.Label.Font.Size = vg.Points(9)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridGrey, gridGrey
	p.Add(grid)

	chance, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return errorf("roc figure %s: %w", pathNoExt, err)
	}
	chance.Color = chanceGrey
	chance.Width = vg.Points(1)
	chance.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(chance)

	var legend []legendEntry
	for i, c := range curves {
		if len(c.FPR) != len(c.TPR) || len(c.FPR) == 0 {
			return errorf("roc figure %s: curve %q has %d FPR and %d TPR points, want equal non-zero counts",
				pathNoExt, c.Label, len(c.FPR), len(c.TPR))
		}
		xy := thinROC(c.FPR, c.TPR)
		for k, pt := range xy {
			if !(pt.X >= 0 && pt.X <= 1 && pt.Y >= 0 && pt.Y <= 1) { // also rejects NaN
				return errorf("roc figure %s: curve %q point %d is (%v, %v), want both in [0,1]", pathNoExt, c.Label, k, pt.X, pt.Y)
			}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return errorf("roc figure %s: curve %q: %w", pathNoExt, c.Label, err)
		}
		l.Color = palette[i%len(palette)]
		l.Dashes = dashes[i%len(dashes)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		legend = append(legend, legendEntry{text: fmt.Sprintf("%s (AUROC %s)", c.Label, pct(c.AUROC)), thumbs: []plot.Thumbnailer{l}})
	}
	return saveFigure(pathNoExt, 5*vg.Inch, 5*vg.Inch, func(dc draw.Canvas) {
		p.Draw(dc)
		drawBoxedLegend(p.DataCanvas(dc), legend, false, vg.Points(9))
	})
}

// unitTicks labels 0, 0.1, …, 1 on a 0..1 axis.
func unitTicks() plot.ConstantTicks {
	ticks := make(plot.ConstantTicks, 11)
	for i := range ticks {
		v := float64(i) / 10
		ticks[i] = plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)}
	}
	return ticks
}

// thinROC keeps the first and last point and every corner: a point is dropped
// when it lies inside a horizontal or vertical run (its FPR, or its TPR,
// equals both neighbours'), the collinear points sklearn roc_curve's
// drop_intermediate drops. Exact equality, so float rounding cannot drop a
// corner.
func thinROC(fpr, tpr []float64) plotter.XYs {
	xy := make(plotter.XYs, 0, len(fpr))
	for k := range fpr {
		if k > 0 && k < len(fpr)-1 &&
			((fpr[k-1] == fpr[k] && fpr[k] == fpr[k+1]) || (tpr[k-1] == tpr[k] && tpr[k] == tpr[k+1])) {
			continue
		}
		xy = append(xy, plotter.XY{X: fpr[k], Y: tpr[k]})
	}
	return xy
}
