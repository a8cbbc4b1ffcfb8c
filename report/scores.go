package report

import (
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/purview-lab/purview/metrics"
)

// DetectorScores are one detector's scores (higher = more anomalous) on the
// in-distribution test set and on one anomaly set.
type DetectorScores struct {
	Detector          string
	Normal, Anomalous []float64
}

// scoreBins is the number of histogram bins per panel.
const scoreBins = 40

// ScoreFigure draws, for one anomaly set, one panel per detector with the
// score densities of normal (inDist) and anomalous (set) samples: two
// translucent histograms on shared bins over the pooled score range, each
// normalised to area 1, the panel titled "detector (AUROC 97.3)". Panels are
// tiled up to three per row; pathNoExt+".png" and ".svg" are written
// atomically. Scores must be finite and each side non-empty.
func ScoreFigure(title, inDist, set string, dets []DetectorScores, pathNoExt string) error {
	if len(dets) == 0 {
		return errorf("score figure %s: no detectors", pathNoExt)
	}
	cols := min(len(dets), 3)
	rows := (len(dets) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
	}
	legends := make([][]legendEntry, len(dets))
	for k, d := range dets {
		auc, err := metrics.AUROC(d.Normal, d.Anomalous)
		if err != nil {
			return errorf("score figure %s: detector %q: %w", pathNoExt, d.Detector, err)
		}
		lo, hi := min(slices.Min(d.Normal), slices.Min(d.Anomalous)), max(slices.Max(d.Normal), slices.Max(d.Anomalous))
		if lo == hi { // all scores equal: one bin of width 1 around them
			lo, hi = lo-0.5, hi+0.5
		}
		p := plot.New()
		p.Title.Text = d.Detector + " (AUROC " + pct(auc) + ")"
		p.Title.TextStyle.Font.Size = vg.Points(10)
		p.X.Label.Text = "score (higher = more anomalous)"
		p.X.Label.TextStyle.Font.Size = vg.Points(9)
		if k%cols == 0 {
			p.Y.Label.Text = "density"
			p.Y.Label.TextStyle.Font.Size = vg.Points(9)
		}
		p.X.Tick.Marker, p.Y.Tick.Marker = tidyTicks{}, tidyTicks{}
		p.X.Tick.Label.Font = font.From(plot.DefaultFont, vg.Points(8))
		p.Y.Tick.Label.Font = font.From(plot.DefaultFont, vg.Points(8))
		g := plotter.NewGrid()
		g.Vertical.Color, g.Horizontal.Color = gridGrey, gridGrey
		p.Add(g)
		ymax := 0.0
		for j, side := range [][]float64{d.Normal, d.Anomalous} {
			h := densityHist(side, lo, hi)
			h.FillColor = withAlpha(palette[j], 0.35)
			h.LineStyle.Color = palette[j]
			h.LineStyle.Width = vg.Points(0.8)
			for _, b := range h.Bins {
				ymax = math.Max(ymax, b.Weight)
			}
			p.Add(h)
			name := inDist + " (normal)"
			if j == 1 {
				name = set + " (anomalous)"
			}
			legends[k] = append(legends[k], legendEntry{text: name, thumbs: []plot.Thumbnailer{h}})
		}
		p.Y.Min, p.Y.Max = 0, 1.3*ymax // head-room for the legend
		grid[k/cols][k%cols] = p
	}
	panelW, panelH := 3.6*vg.Inch, 3*vg.Inch
	const titleH = 0.4 // inch
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(12), PadY: vg.Points(14),
		PadTop: titleH * vg.Inch, PadLeft: vg.Points(4), PadRight: vg.Points(10), PadBottom: vg.Points(4)}
	ts := titleStyle(vg.Points(12))
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	return saveFigure(pathNoExt, vg.Length(cols)*panelW, vg.Length(rows)*panelH+titleH*vg.Inch, func(dc draw.Canvas) {
		dc.FillText(ts, vg.Point{X: dc.Center().X, Y: dc.Max.Y - vg.Points(6)}, title)
		canvases := plot.Align(grid, tiles, dc)
		for k := range dets {
			r, c := k/cols, k%cols
			grid[r][c].Draw(canvases[r][c])
			drawBoxedLegend(grid[r][c].DataCanvas(canvases[r][c]), legends[k], true, vg.Points(7))
		}
	})
}

// densityHist bins x into scoreBins equal bins over [lo, hi] (the last bin
// closed) and scales the counts to a density: Σ weight·width = 1.
func densityHist(x []float64, lo, hi float64) *plotter.Histogram {
	width := (hi - lo) / scoreBins
	bins := make([]plotter.HistogramBin, scoreBins)
	for i := range bins {
		bins[i].Min = lo + float64(i)*width
		bins[i].Max = lo + float64(i+1)*width
	}
	for _, v := range x {
		i := min(int((v-lo)/width), scoreBins-1)
		bins[i].Weight++
	}
	for i := range bins {
		bins[i].Weight /= float64(len(x)) * width
	}
	return &plotter.Histogram{Bins: bins, Width: width}
}

// tidyTicks are gonum's default ticks labelled in shortest form ("2.5", "0")
// instead of with a fixed number of decimals ("2.50", "0.00").
type tidyTicks struct{}

func (tidyTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'g', 6, 64)
		}
	}
	return ticks
}
