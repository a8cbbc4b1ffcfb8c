package corruptions

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// ContactSheet renders one CHW image (c = 1 or 3, values in [0,1]) under the
// named corruptions (nil = All()): one row per corruption, columns clean and
// severities 1–5, each cell magnified by zoom (nearest neighbour; zoom <= 0
// picks max(1, 96/max(h, w))), with row labels and a header. The cell of
// (name, severity) is exactly Apply(name, severity, img, c, h, w, seed, …).
func ContactSheet(img []float32, c, h, w int, names []string, seed uint64, zoom int) (image.Image, error) {
	if names == nil {
		names = Names()
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("corruptions: contact sheet needs at least one corruption name")
	}
	cors := make([]Corruption, len(names))
	for i, n := range names {
		cor, err := Lookup(n)
		if err != nil {
			return nil, err
		}
		if err := cor.check(1, c, h, w); err != nil {
			return nil, err
		}
		cors[i] = cor
	}
	if len(img) != c*h*w {
		return nil, fmt.Errorf("corruptions: contact sheet: image has %d values, want c*h*w = %d", len(img), c*h*w)
	}
	if zoom <= 0 {
		zoom = max(1, 96/max(h, w))
	}
	face := basicfont.Face7x13
	const gap, pad = 4, 6
	labelW := 0
	for _, n := range names {
		labelW = max(labelW, len(n)*7)
	}
	labelW += 2 * pad
	cellW, cellH := w*zoom, h*zoom
	headH := 13 + 2*pad
	W := labelW + Severities*(cellW+gap) + cellW + pad
	H := headH + len(names)*(cellH+gap) + pad
	sheet := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	text := func(x, y int, s string) {
		d := font.Drawer{Dst: sheet, Src: image.NewUniform(color.RGBA{235, 235, 235, 255}), Face: face,
			Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	for col := 0; col <= Severities; col++ {
		label := "clean"
		if col > 0 {
			label = fmt.Sprintf("sev %d", col)
		}
		text(labelW+col*(cellW+gap)+(cellW-len(label)*7)/2, pad+11, label)
	}
	out := make([]float32, len(img))
	var s scratch
	for row, cor := range cors {
		y0 := headH + row*(cellH+gap)
		text(pad, y0+cellH/2+5, cor.Name)
		for col := 0; col <= Severities; col++ {
			src := img
			if col > 0 {
				cor.applyOne(col, img, c, h, w, seed, out, &s)
				src = out
			}
			x0 := labelW + col*(cellW+gap)
			blit(sheet, src, c, h, w, x0, y0, zoom)
		}
	}
	return sheet, nil
}

// blit draws a CHW image at (x0, y0) magnified by zoom.
func blit(dst *image.RGBA, p []float32, c, h, w, x0, y0, zoom int) {
	n := h * w
	to8 := func(v float32) uint8 { return uint8(clip01(v)*255 + 0.5) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			var col color.RGBA
			if c == 3 {
				col = color.RGBA{to8(p[i]), to8(p[n+i]), to8(p[2*n+i]), 255}
			} else {
				g := to8(p[i])
				col = color.RGBA{g, g, g, 255}
			}
			for dy := 0; dy < zoom; dy++ {
				for dx := 0; dx < zoom; dx++ {
					dst.SetRGBA(x0+x*zoom+dx, y0+y*zoom+dy, col)
				}
			}
		}
	}
}

// WriteContactSheet renders ContactSheet (automatic zoom) and writes it as
// PNG to path atomically: a temporary file in the same directory is renamed
// over path once complete.
func WriteContactSheet(path string, img []float32, c, h, w int, names []string, seed uint64) error {
	sheet, err := ContactSheet(img, c, h, w, names, seed, 0)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("corruptions: contact sheet %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("corruptions: contact sheet %s: %w", path, err)
	}
	if err := png.Encode(f, sheet); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes 0600 files
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("corruptions: contact sheet %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("corruptions: contact sheet %s: %w", path, err)
	}
	return nil
}
