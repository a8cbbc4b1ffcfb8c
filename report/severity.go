package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SeverityPanel is one corruption's curves: AUROC[d][s] is detector d's AUROC
// (a fraction) at Severities[s].
type SeverityPanel struct {
	Corruption string
	AUROC      [][]float64
}

// SeverityFigure draws AUROC against severity, one small panel per
// corruption (four per row, in the given order) and one line per detector in
// every panel, with the colours and dash patterns of ROCFigure and a shared
// legend under the panels. The y axis runs from 0.4 (or lower if a value is
// lower) to 1 in every panel, so panels compare at a glance; the dotted line
// marks chance (0.5). Writes pathNoExt+".png" and ".svg".
func SeverityFigure(title string, detectors []string, severities []int, panels []SeverityPanel, pathNoExt string) error {
	if len(panels) == 0 || len(detectors) == 0 || len(severities) == 0 {
		return errorf("severity figure %s: want panels, detectors and severities, have %d, %d and %d", pathNoExt, len(panels), len(detectors), len(severities))
	}
	lo := 0.4
	for _, p := range panels {
		if len(p.AUROC) != len(detectors) {
			return errorf("severity figure %s: panel %q has %d detectors, want %d", pathNoExt, p.Corruption, len(p.AUROC), len(detectors))
		}
		for d, row := range p.AUROC {
			if len(row) != len(severities) {
				return errorf("severity figure %s: panel %q detector %q has %d values, want %d", pathNoExt, p.Corruption, detectors[d], len(row), len(severities))
			}
			for _, v := range row {
				if !math.IsNaN(v) && (v < 0 || v > 1) {
					return errorf("severity figure %s: panel %q detector %q: AUROC %v outside [0,1]", pathNoExt, p.Corruption, detectors[d], v)
				}
				if v < lo {
					lo = math.Floor(v*10) / 10
				}
			}
		}
	}
	const cols = 4
	rows := (len(panels) + cols - 1) / cols
	panelW, panelH := 2.2*vg.Inch, 1.9*vg.Inch
	legendH := vg.Length(math.Ceil(float64(len(detectors))/3)) * 0.2 * vg.Inch
	titleH := 0.4 * vg.Inch
	w := vg.Length(cols) * panelW
	h := vg.Length(rows)*panelH + legendH + titleH + 0.15*vg.Inch

	plots := make([]*plot.Plot, len(panels))
	var thumbs []plot.Thumbnailer
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Corruption
		p.Title.TextStyle.Font.Size = vg.Points(9)
		p.X.Min, p.X.Max = float64(severities[0])-0.2, float64(severities[len(severities)-1])+0.2
		p.Y.Min, p.Y.Max = lo, 1
		var xt plot.ConstantTicks
		for _, s := range severities {
			xt = append(xt, plot.Tick{Value: float64(s), Label: fmt.Sprint(s)})
		}
		p.X.Tick.Marker = xt
		var yt plot.ConstantTicks
		for v := lo; v <= 1.0001; v += 0.1 {
			yt = append(yt, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f", 100*v)})
		}
		p.Y.Tick.Marker = yt
		for _, ax := range []*plot.Axis{&p.X, &p.Y} {
			ax.Tick.Label.Font.Size = vg.Points(7)
			ax.Label.TextStyle.Font.Size = vg.Points(8)
		}
		if i%cols == 0 {
			p.Y.Label.Text = "AUROC ×100"
		}
		if i >= (rows-1)*cols {
			p.X.Label.Text = "severity"
		}
		grid := plotter.NewGrid()
		grid.Vertical.Color, grid.Horizontal.Color = gridGrey, gridGrey
		p.Add(grid)
		chance, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: 0.5}, {X: p.X.Max, Y: 0.5}})
		if err != nil {
			return errorf("severity figure %s: %w", pathNoExt, err)
		}
		chance.Color = chanceGrey
		chance.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		if lo <= 0.5 {
			p.Add(chance)
		}
		for d, row := range pn.AUROC {
			var xy plotter.XYs
			for s, v := range row {
				if !math.IsNaN(v) {
					xy = append(xy, plotter.XY{X: float64(severities[s]), Y: v})
				}
			}
			if len(xy) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(xy)
			if err != nil {
				return errorf("severity figure %s: %w", pathNoExt, err)
			}
			l.Color = palette[d%len(palette)]
			l.Dashes = dashes[d%len(dashes)]
			l.Width = vg.Points(1.2)
			pts.Color = l.Color
			pts.Radius = vg.Points(1.5)
			p.Add(l, pts)
			if i == 0 {
				thumbs = append(thumbs, l)
			}
		}
		plots[i] = p
	}
	var legend []legendEntry
	for d, name := range detectors {
		e := legendEntry{text: name}
		if d < len(thumbs) {
			e.thumbs = []plot.Thumbnailer{thumbs[d]}
		}
		legend = append(legend, e)
	}
	return saveFigure(pathNoExt, w, h, func(dc draw.Canvas) {
		top := dc.Max.Y
		ts := titleStyle(vg.Points(12))
		dc.FillText(ts, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: top - titleH/2}, title)
		for i, p := range plots {
			r, c := i/cols, i%cols
			x0 := dc.Min.X + vg.Length(c)*panelW
			y1 := top - titleH - vg.Length(r)*panelH
			sub := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x0, Y: y1 - panelH}, Max: vg.Point{X: x0 + panelW, Y: y1}}}
			p.Draw(sub)
		}
		// Legend: three entries per line under the panels.
		y := top - titleH - vg.Length(rows)*panelH - 0.15*vg.Inch
		for d, e := range legend {
			x := dc.Min.X + 0.3*vg.Inch + vg.Length(d%3)*(w-0.6*vg.Inch)/3
			yy := y - vg.Length(d/3)*0.2*vg.Inch
			for _, t := range e.thumbs {
				tc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: yy - 3}, Max: vg.Point{X: x + 0.3*vg.Inch, Y: yy + 3}}}
				t.Thumbnail(&tc)
			}
			st := titleStyle(vg.Points(9))
			st.XAlign, st.YAlign = draw.XLeft, draw.YCenter
			dc.FillText(st, vg.Point{X: x + 0.38*vg.Inch, Y: yy}, e.text)
		}
	})
}
