package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// NamedMatrix is an n×P matrix of purview features, row-major: Data[i*Cols+l]
// is r_l(x_i) = ‖∂J/∂θ_l‖² of sample i for parameter tensor l.
type NamedMatrix struct {
	Name       string
	Rows, Cols int
	Data       []float64
}

// featureFloor replaces r = 0 before the logarithm: log10(max(r, 1e-30)).
const featureFloor = 1e-30

// FeatureFigure draws the purview feature profile: for every parameter
// tensor l (x axis, tick labels from names, shortened: ".weight" → ".w",
// ".bias" → ".b") the median of log10(max(r_l, 1e-30)) over the samples,
// with a shaded inter-quartile band (quartiles by linear interpolation,
// numpy's default). Each anomaly set gets one panel comparing it with inDist;
// panels share the y range and are tiled up to a few per row, in one PNG
// (150 dpi) and one SVG written atomically as pathNoExt+".png" / ".svg".
//
// Every matrix must have len(names) columns, at least one row and
// Rows×Cols finite, non-negative values; otherwise FeatureFigure returns an
// error naming the matrix, the row and the parameter.
func FeatureFigure(title string, names []string, inDist NamedMatrix, sets []NamedMatrix, pathNoExt string) error {
	P := len(names)
	if P == 0 {
		return errorf("feature figure %s: no parameter names", pathNoExt)
	}
	if len(sets) == 0 {
		return errorf("feature figure %s: no anomaly sets", pathNoExt)
	}
	all := append([]NamedMatrix{inDist}, sets...)
	profiles := make([]profile, len(all))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, m := range all {
		pr, err := featureProfile(m, names)
		if err != nil {
			return errorf("feature figure %s: %w", pathNoExt, err)
		}
		profiles[i] = pr
		lo = min(lo, slices.Min(pr.q1))
		hi = max(hi, slices.Max(pr.q3))
	}
	// Shared y range with head-room at the top for the legend box.
	span := max(hi-lo, 1)
	ymin, ymax := lo-0.05*span, hi+0.30*span

	// Panel size grows with the number of parameters until labels would
	// collide; beyond that only every stride-th tick gets a label.
	const perParam = 0.15 // inch per labelled tick, enough for 7 pt text
	panelW := vg.Length(min(max(1+perParam*float64(P), 3.8), 8)) * vg.Inch
	stride := max(1, int(math.Ceil(perParam*float64(P)/(float64(panelW/vg.Inch)-1))))
	cols := max(1, min(len(sets), int(16*vg.Inch/panelW)))
	rows := (len(sets) + cols - 1) / cols
	labels := make([]string, P)
	for l, n := range names {
		labels[l] = shortParamName(n)
	}
	longest := 0.0
	for _, s := range labels {
		longest = max(longest, float64(len(s)))
	}
	panelH := 3.2*vg.Inch + vg.Length(longest)*vg.Points(3.6) // rotated labels eat height

	inColour, anomColour := palette[0], palette[1]
	grid := make([][]*plot.Plot, rows)
	var legends [][]legendEntry
	for r := range rows {
		grid[r] = make([]*plot.Plot, cols)
		for c := range cols {
			k := r*cols + c
			if k >= len(sets) {
				continue
			}
			p := plot.New()
			p.Title.Text = "vs " + sets[k].Name
			p.Title.TextStyle.Font.Size = vg.Points(11)
			p.X.Min, p.X.Max = -0.5, float64(P)-0.5
			p.Y.Min, p.Y.Max = ymin, ymax
			p.X.Label.Text = "parameter tensor (.w weight, .b bias)"
			p.X.Label.TextStyle.Font.Size = vg.Points(10)
			if c == 0 {
				p.Y.Label.Text = "log10 ‖∂J/∂θ‖²  (median, IQR band)"
				p.Y.Label.TextStyle.Font.Size = vg.Points(10)
			}
			p.Y.Tick.Label.Font.Size = vg.Points(8)
			p.Y.Tick.Marker = decadeTicks{}
			var ticks plot.ConstantTicks
			for l := range P {
				t := plot.Tick{Value: float64(l)}
				if l%stride == 0 {
					t.Label = labels[l]
				}
				ticks = append(ticks, t)
			}
			p.X.Tick.Marker = ticks
			p.X.Tick.Label.Font = font.From(plot.DefaultFont, vg.Points(7))
			p.X.Tick.Label.Rotation = math.Pi / 2
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
			g := plotter.NewGrid()
			g.Vertical.Color, g.Horizontal.Color = gridGrey, gridGrey
			p.Add(g)

			var entries []legendEntry
			for j, pr := range []profile{profiles[0], profiles[k+1]} {
				col := inColour
				name := strings.TrimSpace(inDist.Name + " (in-distribution)")
				if j == 1 {
					col, name = anomColour, sets[k].Name
				}
				band, line, err := profilePlotters(pr, col, j == 1)
				if err != nil {
					return errorf("feature figure %s: %w", pathNoExt, err)
				}
				p.Add(band, line)
				entries = append(entries, legendEntry{text: name, thumbs: []plot.Thumbnailer{band, line}})
			}
			grid[r][c] = p
			legends = append(legends, entries)
		}
	}

	const titleH = 0.4 // inch
	W := vg.Length(cols) * panelW
	H := vg.Length(rows)*panelH + titleH*vg.Inch
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(12), PadY: vg.Points(16),
		PadTop: titleH * vg.Inch, PadLeft: vg.Points(4), PadRight: vg.Points(10), PadBottom: vg.Points(4)}
	ts := titleStyle(vg.Points(13))
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	return saveFigure(pathNoExt, W, H, func(dc draw.Canvas) {
		dc.FillText(ts, vg.Point{X: dc.Center().X, Y: dc.Max.Y - vg.Points(6)}, title)
		canvases := plot.Align(grid, tiles, dc)
		k := 0
		for r := range rows {
			for c := range cols {
				if grid[r][c] == nil {
					continue
				}
				grid[r][c].Draw(canvases[r][c])
				drawBoxedLegend(grid[r][c].DataCanvas(canvases[r][c]), legends[k], true, vg.Points(8))
				k++
			}
		}
	})
}

// profile is the per-parameter median and quartiles of log10 r.
type profile struct{ med, q1, q3 []float64 }

// featureProfile validates m against names and summarises each column.
func featureProfile(m NamedMatrix, names []string) (profile, error) {
	P := len(names)
	if m.Cols != P {
		return profile{}, fmt.Errorf("matrix %q has %d columns, want one per parameter name (%d)", m.Name, m.Cols, P)
	}
	if m.Rows < 1 || len(m.Data) != m.Rows*m.Cols {
		return profile{}, fmt.Errorf("matrix %q: %d values for %d×%d, want Rows ≥ 1 and Rows×Cols values", m.Name, len(m.Data), m.Rows, m.Cols)
	}
	pr := profile{med: make([]float64, P), q1: make([]float64, P), q3: make([]float64, P)}
	col := make([]float64, m.Rows)
	for l := range P {
		for i := range m.Rows {
			v := m.Data[i*P+l]
			if !(v >= 0) || math.IsInf(v, 1) {
				return profile{}, fmt.Errorf("matrix %q row %d, parameter %q: r = %v, want a finite r ≥ 0", m.Name, i, names[l], v)
			}
			col[i] = math.Log10(max(v, featureFloor))
		}
		slices.Sort(col)
		pr.q1[l], pr.med[l], pr.q3[l] = quantile(col, 0.25), quantile(col, 0.5), quantile(col, 0.75)
	}
	return pr, nil
}

// quantile of sorted x by linear interpolation between order statistics
// (numpy.quantile's default "linear", Hyndman–Fan type 7):
//
//	h = (n−1)·p,  Q = x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])
func quantile(x []float64, p float64) float64 {
	h := float64(len(x)-1) * p
	i := int(math.Floor(h))
	if i+1 >= len(x) {
		return x[len(x)-1]
	}
	return x[i] + (h-float64(i))*(x[i+1]-x[i])
}

// profilePlotters returns the IQR band and the median line of pr in colour
// col; the anomaly line is dashed so the two stay apart in grey print.
func profilePlotters(pr profile, col color.Color, dashed bool) (*plotter.Polygon, *plotter.Line, error) {
	P := len(pr.med)
	ring := make(plotter.XYs, 0, 2*P)
	for l := range P {
		ring = append(ring, plotter.XY{X: float64(l), Y: pr.q3[l]})
	}
	for l := P - 1; l >= 0; l-- {
		ring = append(ring, plotter.XY{X: float64(l), Y: pr.q1[l]})
	}
	band, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil, nil, err
	}
	band.Color = withAlpha(col, 0.22)
	band.LineStyle.Width = 0
	med := make(plotter.XYs, P)
	for l := range P {
		med[l] = plotter.XY{X: float64(l), Y: pr.med[l]}
	}
	line, err := plotter.NewLine(med)
	if err != nil {
		return nil, nil, err
	}
	line.Color = col
	line.Width = vg.Points(1.5)
	if dashed {
		line.Dashes = dashes[1]
	}
	return band, line, nil
}

// decadeTicks labels whole powers of ten on a log10 axis ("-3" = 1e-3),
// every 1, 2, 5 or 10 decades so that at most 8 labels show.
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 50} {
		step = s
		if (math.Floor(hi/s)-math.Ceil(lo/s))+1 <= 8 {
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		if v == 0 {
			v = 0 // math.Ceil(-0.5) is −0, which would print "-0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// shortParamName abbreviates a PyTorch state_dict name for a tick label:
// "conv1.weight" → "conv1.w", "blocks.3.bn1.bias" → "blocks.3.bn1.b".
func shortParamName(s string) string {
	switch {
	case strings.HasSuffix(s, ".weight"):
		return strings.TrimSuffix(s, "eight")
	case strings.HasSuffix(s, ".bias"):
		return strings.TrimSuffix(s, "ias")
	}
	return s
}
