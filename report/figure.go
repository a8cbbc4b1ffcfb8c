package report

import (
	"fmt"
	"image/color"
	"io"

	"github.com/purview-lab/purview/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// figureDPI is the PNG resolution: a 5-inch figure is 750 px wide.
const figureDPI = 150

// palette is matplotlib's tab10 without its grey, which is kept for the
// chance line; researchers read these colours without a key.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, // blue
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, // orange
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, // green
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, // red
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, // purple
	color.RGBA{0x8c, 0x56, 0x4b, 0xff}, // brown
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, // pink
	color.RGBA{0xbc, 0xbd, 0x22, 0xff}, // olive
	color.RGBA{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// dashes are line patterns visible at width 1.5 pt. With 9 colours and 6
// patterns, the first 18 lines differ in both colour and pattern.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
	{vg.Points(12), vg.Points(4)},
	{vg.Points(4), vg.Points(2), vg.Points(1), vg.Points(2), vg.Points(1), vg.Points(2)},
}

var (
	chanceGrey = color.Gray{Y: 0x80}
	gridGrey   = color.Gray{Y: 0xdd}
)

// withAlpha returns c at opacity a ∈ [0,1] (premultiplied, as color.RGBA wants).
func withAlpha(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.RGBA{R: uint8(float64(r>>8) * a), G: uint8(float64(g>>8) * a), B: uint8(float64(b>>8) * a), A: uint8(255 * a)}
}

// saveFigure renders draw twice — on a w×h PNG canvas at figureDPI and on an
// SVG canvas — and writes pathNoExt+".png" and pathNoExt+".svg" atomically.
// SVG fonts are referenced by name (Liberation, metric-compatible with Times),
// not embedded, which keeps the file small.
func saveFigure(pathNoExt string, w, h vg.Length, render func(dc draw.Canvas)) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(figureDPI))
	render(draw.New(img))
	if err := writeFile(pathNoExt+".png", func(out io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
		return err
	}); err != nil {
		return err
	}
	svg := vgsvg.New(w, h)
	render(draw.New(svg))
	return writeFile(pathNoExt+".svg", func(out io.Writer) error {
		_, err := svg.WriteTo(out)
		return err
	})
}

// legendEntry is one line of a boxed legend.
type legendEntry struct {
	text   string
	thumbs []plot.Thumbnailer
}

// drawBoxedLegend draws entries in a corner of the data canvas dc on a white,
// grey-framed box. gonum/plot's own legend has no background (gonum/plot
// issue #691), so text over curves becomes unreadable; this draws the same
// legend after the data, on top of it.
func drawBoxedLegend(dc draw.Canvas, entries []legendEntry, top bool, fontSize vg.Length) {
	if len(entries) == 0 {
		return
	}
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(plot.DefaultFont, fontSize)
	l.ThumbnailWidth = vg.Points(26)
	l.Top, l.Left = top, false
	for _, e := range entries {
		l.Add(e.text, e.thumbs...)
	}
	const margin, pad = 6, 4 // points: box to axes, text to box
	var width, enth vg.Length
	em := l.TextStyle.Rectangle(" ").Max.X
	for _, e := range entries {
		width = max(width, l.ThumbnailWidth+em+l.TextStyle.Rectangle(e.text).Max.X)
		enth = max(enth, l.TextStyle.Rectangle(e.text).Max.Y)
	}
	n := vg.Length(len(entries))
	height := n*enth + (n-1)*l.Padding
	descent := l.TextStyle.FontExtents().Descent
	l.XOffs = -vg.Points(margin + pad)
	var box vg.Rectangle
	box.Max.X = dc.Max.X - vg.Points(margin)
	box.Min.X = box.Max.X - width - 2*vg.Points(pad)
	if top {
		l.YOffs = -vg.Points(margin+pad) + descent
		box.Max.Y = dc.Max.Y - vg.Points(margin)
		box.Min.Y = box.Max.Y - height - 2*vg.Points(pad)
	} else {
		l.YOffs = vg.Points(margin + pad)
		box.Min.Y = dc.Min.Y + vg.Points(margin)
		box.Max.Y = box.Min.Y + height + 2*vg.Points(pad)
	}
	// Slightly translucent, so a curve passing under the box stays traceable.
	dc.SetColor(color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xb8})
	dc.Fill(box.Path())
	dc.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 0xaa}, Width: vg.Points(0.5)})
	dc.Stroke(box.Path())
	l.Draw(dc)
}

// titleStyle is the figure-level title above tiled panels.
func titleStyle(size vg.Length) text.Style {
	p := plot.New() // the default title style, so panels and figures match
	s := p.Title.TextStyle
	s.Font = font.From(plot.DefaultFont, size)
	return s
}

// errorf formats a one-line package error.
func errorf(format string, args ...any) error { return fmt.Errorf("report: "+format, args...) }

// writeFile writes path atomically (see atomicfile.Write).
func writeFile(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
