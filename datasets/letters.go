package datasets

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"codeberg.org/go-fonts/latin-modern/lmmono10regular"
	"codeberg.org/go-fonts/latin-modern/lmmonoproplt10bold"
	"codeberg.org/go-fonts/latin-modern/lmroman10bold"
	"codeberg.org/go-fonts/latin-modern/lmroman10italic"
	"codeberg.org/go-fonts/latin-modern/lmroman10regular"
	"codeberg.org/go-fonts/latin-modern/lmromancaps10regular"
	"codeberg.org/go-fonts/latin-modern/lmromandemi10regular"
	"codeberg.org/go-fonts/latin-modern/lmromandunh10regular"
	"codeberg.org/go-fonts/latin-modern/lmromanunsl10regular"
	"codeberg.org/go-fonts/latin-modern/lmsans10bold"
	"codeberg.org/go-fonts/latin-modern/lmsans10regular"
	"codeberg.org/go-fonts/latin-modern/lmsansdemicond10regular"
	"codeberg.org/go-fonts/latin-modern/lmsansquot8regular"
	"codeberg.org/go-fonts/liberation/liberationmonobold"
	"codeberg.org/go-fonts/liberation/liberationmonobolditalic"
	"codeberg.org/go-fonts/liberation/liberationmonoitalic"
	"codeberg.org/go-fonts/liberation/liberationmonoregular"
	"codeberg.org/go-fonts/liberation/liberationsansbold"
	"codeberg.org/go-fonts/liberation/liberationsansbolditalic"
	"codeberg.org/go-fonts/liberation/liberationsansitalic"
	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"codeberg.org/go-fonts/liberation/liberationserifbold"
	"codeberg.org/go-fonts/liberation/liberationserifbolditalic"
	"codeberg.org/go-fonts/liberation/liberationserifitalic"
	"codeberg.org/go-fonts/liberation/liberationserifregular"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/gofont/gomediumitalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/gomonobolditalic"
	"golang.org/x/image/font/gofont/gomonoitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/gofont/gosmallcaps"
	"golang.org/x/image/font/gofont/gosmallcapsitalic"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// letterFaces are the font faces of the letters set, in a fixed order (a
// face's position is part of what a seed means): the 12 Go fonts, the 12
// Liberation fonts (metric clones of Arial, Times New Roman, Courier New) and
// 13 Latin Modern faces (Computer Modern roman, sans, typewriter, Dunhill,
// caps, demi, upright italic, quotation sans).
var letterFaces = []struct {
	name string
	ttf  []byte
}{
	{"Go Regular", goregular.TTF}, {"Go Bold", gobold.TTF}, {"Go Italic", goitalic.TTF},
	{"Go Bold Italic", gobolditalic.TTF}, {"Go Medium", gomedium.TTF}, {"Go Medium Italic", gomediumitalic.TTF},
	{"Go Mono", gomono.TTF}, {"Go Mono Bold", gomonobold.TTF}, {"Go Mono Italic", gomonoitalic.TTF},
	{"Go Mono Bold Italic", gomonobolditalic.TTF}, {"Go Smallcaps", gosmallcaps.TTF}, {"Go Smallcaps Italic", gosmallcapsitalic.TTF},
	{"Liberation Sans", liberationsansregular.TTF}, {"Liberation Sans Bold", liberationsansbold.TTF},
	{"Liberation Sans Italic", liberationsansitalic.TTF}, {"Liberation Sans Bold Italic", liberationsansbolditalic.TTF},
	{"Liberation Serif", liberationserifregular.TTF}, {"Liberation Serif Bold", liberationserifbold.TTF},
	{"Liberation Serif Italic", liberationserifitalic.TTF}, {"Liberation Serif Bold Italic", liberationserifbolditalic.TTF},
	{"Liberation Mono", liberationmonoregular.TTF}, {"Liberation Mono Bold", liberationmonobold.TTF},
	{"Liberation Mono Italic", liberationmonoitalic.TTF}, {"Liberation Mono Bold Italic", liberationmonobolditalic.TTF},
	{"LM Roman 10", lmroman10regular.TTF}, {"LM Roman 10 Bold", lmroman10bold.TTF}, {"LM Roman 10 Italic", lmroman10italic.TTF},
	{"LM Roman Demi 10", lmromandemi10regular.TTF}, {"LM Roman Dunhill 10", lmromandunh10regular.TTF},
	{"LM Roman Caps 10", lmromancaps10regular.TTF}, {"LM Roman Unslanted 10", lmromanunsl10regular.TTF},
	{"LM Sans 10", lmsans10regular.TTF}, {"LM Sans 10 Bold", lmsans10bold.TTF},
	{"LM Sans Demi Cond 10", lmsansdemicond10regular.TTF}, {"LM Sans Quotation 8", lmsansquot8regular.TTF},
	{"LM Mono 10", lmmono10regular.TTF}, {"LM Mono Prop Light 10 Bold", lmmonoproplt10bold.TTF},
}

// letterGlyph is the outline of one capital letter of one face, at
// letterPPEM pixels per em, y pointing down.
type letterGlyph struct {
	segs   sfnt.Segments
	bounds fixed.Rectangle26_6
}

const letterPPEM = 256

// letterGlyphs parses every face once and extracts A..J; an error here means
// a broken font module, a build problem rather than bad input.
var letterGlyphs = sync.OnceValues(func() ([][10]letterGlyph, error) {
	out := make([][10]letterGlyph, len(letterFaces))
	var buf sfnt.Buffer
	for i, face := range letterFaces {
		f, err := sfnt.Parse(face.ttf)
		if err != nil {
			return nil, fmt.Errorf("datasets: letters: font %s: %w", face.name, err)
		}
		for k := range 10 {
			r := rune('A' + k)
			gi, err := f.GlyphIndex(&buf, r)
			if err == nil && gi == 0 {
				err = fmt.Errorf("no glyph")
			}
			var segs sfnt.Segments
			if err == nil {
				segs, err = f.LoadGlyph(&buf, gi, fixed.I(letterPPEM), nil)
			}
			if err != nil {
				return nil, fmt.Errorf("datasets: letters: font %s, letter %c: %w", face.name, r, err)
			}
			// LoadGlyph reuses buf's memory for the segments: keep a copy.
			out[i][k] = letterGlyph{segs: append(sfnt.Segments(nil), segs...), bounds: segs.Bounds()}
		}
	}
	return out, nil
})

// LetterFaces returns the names of the font faces the letters set draws from.
func LetterFaces() []string {
	names := make([]string, len(letterFaces))
	for i, f := range letterFaces {
		names[i] = f.name
	}
	return names
}

// lettersStream is the second seed word of the letters' PCG source.
const lettersStream = 0x6c657474657273 // "letters" in ASCII

// letterSupersample is how many canvas pixels per output pixel, per axis.
const letterSupersample = 4

// letterDraw is everything random about one image, drawn in this order.
type letterDraw struct {
	face, letter int
	extent       float64 // glyph's larger side as a fraction of the image's smaller side, U[0.55, 0.9)
	aspect       float64 // horizontal stretch over vertical, exp(U[−0.15, 0.15))
	angle        float64 // rotation in radians, U[−10°, 10°)
	weight       int     // dilation radius in canvas pixels, 0..3 (quarter output pixels)
	dx, dy       float64 // offset as a fraction of the free margin, U[−1, 1)
}

// Letters returns n notMNIST-style images of the capital letters A..J, c×h×w
// (c = 1, or 3 with the grey image in every channel), white ink (1) on black
// (0) as in MNIST. Image i shows letter i mod 10, labelled i mod 10 (A = 0 ...
// J = 9), in a face drawn uniformly from LetterFaces, with random size (the
// glyph's larger side 55-90 % of the image's smaller side), stretch (±15 %),
// rotation (±10°), position (anywhere the glyph stays inside) and stroke
// weight (faux bold: dilation by 0-3 quarter pixels). The glyph outline is
// rasterized with anti-aliasing on a canvas 4× finer per axis, dilated there
// with a square, and area-averaged down. All draws come from
// rand.New(rand.NewPCG(seed, 0x6c657474657273)), in sample order, so the same
// arguments give the same bytes on every run on one architecture (the
// rasterizer's float32 arithmetic may round differently where the compiler
// fuses multiply-adds, e.g. on arm64), whatever the number of workers. Index
// is 0..n-1, Name "letters". It panics if n < 0, c is not 1 or 3 or a side is
// not positive (caller bugs).
func Letters(n, c, h, w int, seed uint64) *Set {
	if c != 1 && c != 3 {
		panic(fmt.Sprintf("datasets: Letters with %d channels (want 1 or 3)", c))
	}
	glyphs, err := letterGlyphs()
	if err != nil {
		panic(err) // the fonts are compiled in: a failure is a build fault
	}
	s := newGenerated("letters", n, c, h, w)
	rng := rand.New(rand.NewPCG(seed, lettersStream))
	draws := make([]letterDraw, n)
	for i := range draws {
		draws[i] = letterDraw{
			letter: i % 10,
			face:   rng.IntN(len(letterFaces)),
			extent: 0.55 + 0.35*rng.Float64(),
			aspect: math.Exp(0.15 * (2*rng.Float64() - 1)),
			angle:  (2*rng.Float64() - 1) * 10 * math.Pi / 180,
			weight: rng.IntN(4),
			dx:     2*rng.Float64() - 1,
			dy:     2*rng.Float64() - 1,
		}
		s.Labels[i] = i % 10
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, n/64))
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newLetterRenderer(h, w)
			for i := wk; i < n; i += workers {
				img := s.Image(i)
				d := draws[i]
				r.render(img[:h*w], glyphs[d.face][d.letter], d)
				for ch := 1; ch < c; ch++ {
					copy(img[ch*h*w:(ch+1)*h*w], img[:h*w])
				}
			}
		}()
	}
	wg.Wait()
	return s
}

// letterRenderer holds one worker's buffers.
type letterRenderer struct {
	h, w   int
	z      *vector.Rasterizer
	canvas *image.Alpha
	tmp    []uint8
}

func newLetterRenderer(h, w int) *letterRenderer {
	H, W := letterSupersample*h, letterSupersample*w
	return &letterRenderer{h: h, w: w, z: vector.NewRasterizer(W, H),
		canvas: image.NewAlpha(image.Rect(0, 0, W, H)), tmp: make([]uint8, W*H)}
}

// render draws glyph g with the draw's transform into dst (h·w values).
func (r *letterRenderer) render(dst []float32, g letterGlyph, d letterDraw) {
	H, W := float64(letterSupersample*r.h), float64(letterSupersample*r.w)
	b := g.bounds
	bw, bh := float64(b.Max.X-b.Min.X)/64, float64(b.Max.Y-b.Min.Y)/64
	cx, cy := float64(b.Min.X+b.Max.X)/128, float64(b.Min.Y+b.Max.Y)/128
	sx, sy := d.aspect, 1/d.aspect
	scale := d.extent * min(H, W) / max(bw*sx, bh*sy, 1e-9)
	sx, sy = sx*scale, sy*scale
	cos, sin := math.Cos(d.angle), math.Sin(d.angle)
	// Half-extents of the rotated box, and the margin left around it.
	ex := math.Abs(cos)*bw*sx/2 + math.Abs(sin)*bh*sy/2
	ey := math.Abs(sin)*bw*sx/2 + math.Abs(cos)*bh*sy/2
	pad := float64(d.weight + letterSupersample) // keep the outer ring of output pixels black
	// A large, rotated glyph may not fit: shrink it until it does.
	if f := min((W/2-pad)/ex, (H/2-pad)/ey); f < 1 {
		sx, sy, ex, ey = sx*f, sy*f, ex*f, ey*f
	}
	ox := d.dx * max(0, W/2-ex-pad)
	oy := d.dy * max(0, H/2-ey-pad)
	tr := func(p fixed.Point26_6) (float32, float32) {
		x := (float64(p.X)/64 - cx) * sx
		y := (float64(p.Y)/64 - cy) * sy
		return float32(W/2 + ox + cos*x - sin*y), float32(H/2 + oy + sin*x + cos*y)
	}

	r.z.Reset(int(W), int(H))
	for i, seg := range g.segs {
		switch seg.Op {
		case sfnt.SegmentOpMoveTo:
			if i > 0 {
				r.z.ClosePath()
			}
			r.z.MoveTo(tr(seg.Args[0]))
		case sfnt.SegmentOpLineTo:
			r.z.LineTo(tr(seg.Args[0]))
		case sfnt.SegmentOpQuadTo:
			x1, y1 := tr(seg.Args[0])
			x2, y2 := tr(seg.Args[1])
			r.z.QuadTo(x1, y1, x2, y2)
		case sfnt.SegmentOpCubeTo:
			x1, y1 := tr(seg.Args[0])
			x2, y2 := tr(seg.Args[1])
			x3, y3 := tr(seg.Args[2])
			r.z.CubeTo(x1, y1, x2, y2, x3, y3)
		}
	}
	r.z.ClosePath()
	clear(r.canvas.Pix)
	r.z.Draw(r.canvas, r.canvas.Bounds(), image.Opaque, image.Point{})
	dilate(r.canvas.Pix, r.tmp, int(W), int(H), d.weight)

	// Area-average letterSupersample² canvas pixels per output pixel.
	const k = letterSupersample
	for y := range r.h {
		for x := range r.w {
			sum := 0
			for yy := range k {
				row := r.canvas.Pix[(k*y+yy)*int(W)+k*x:]
				for xx := range k {
					sum += int(row[xx])
				}
			}
			dst[y*r.w+x] = float32(sum) / (k * k * 255)
		}
	}
}

// dilate replaces every pixel of pix (w×h) by the maximum over the
// (2r+1)×(2r+1) square around it, as two one-dimensional passes through tmp.
func dilate(pix, tmp []uint8, w, h, r int) {
	if r == 0 {
		return
	}
	for y := range h {
		row := pix[y*w : (y+1)*w]
		out := tmp[y*w : (y+1)*w]
		for x := range w {
			m := uint8(0)
			for xx := max(0, x-r); xx <= min(w-1, x+r); xx++ {
				m = max(m, row[xx])
			}
			out[x] = m
		}
	}
	for x := range w {
		for y := range h {
			m := uint8(0)
			for yy := max(0, y-r); yy <= min(h-1, y+r); yy++ {
				m = max(m, tmp[yy*w+x])
			}
			pix[y*w+x] = m
		}
	}
}

// ContactSheet lays the first images of set out in a grid of cols columns
// (as many rows as needed), with a 2-pixel grey (128) border around each
// image, for looking at a set. Pixels are round(255·v). The image is
// *image.Gray for one channel and *image.RGBA for three (other channel counts
// show channel 0). It panics if cols < 1.
func ContactSheet(set *Set, cols int) image.Image {
	if cols < 1 {
		panic(fmt.Sprintf("datasets: ContactSheet with %d columns", cols))
	}
	const gap = 2
	n := set.Len()
	rows := max(1, (n+cols-1)/cols)
	W, H := cols*(set.W+gap)+gap, rows*(set.H+gap)+gap
	rect := image.Rect(0, 0, W, H)
	hw := set.H * set.W
	byteOf := func(v float32) uint8 { return uint8(math.Round(float64(min(1, max(0, v))) * 255)) }
	if set.C == 3 {
		m := image.NewRGBA(rect)
		for i := range m.Pix {
			m.Pix[i] = 128
		}
		for i := range n {
			img := set.Image(i)
			x0, y0 := gap+(i%cols)*(set.W+gap), gap+(i/cols)*(set.H+gap)
			for y := range set.H {
				for x := range set.W {
					p := y*set.W + x
					m.SetRGBA(x0+x, y0+y, color.RGBA{byteOf(img[p]), byteOf(img[hw+p]), byteOf(img[2*hw+p]), 255})
				}
			}
		}
		return m
	}
	m := image.NewGray(rect)
	for i := range m.Pix {
		m.Pix[i] = 128
	}
	for i := range n {
		img := set.Image(i)
		x0, y0 := gap+(i%cols)*(set.W+gap), gap+(i/cols)*(set.H+gap)
		for y := range set.H {
			for x := range set.W {
				m.Pix[(y0+y)*m.Stride+x0+x] = byteOf(img[y*set.W+x])
			}
		}
	}
	return m
}

// LettersParams is the TOML table of kind "letters".
type LettersParams struct {
	Count int    `toml:"count" json:"count"` // number of images; default 10000
	Seed  *int64 `toml:"seed" json:"seed"`   // ≥ 0; default: the experiment's seed (Request.Seed)
	Size  int    `toml:"size" json:"size"`   // side in pixels; default: the model's input (else 28)
}

type lettersSource struct {
	count, size int
	seed        *uint64
}

func (s *lettersSource) Kind() string          { return "letters" }
func (s *lettersSource) Splits() []string      { return []string{} }
func (s *lettersSource) Where() (string, bool) { return "generated", true }

// Load renders Count letters: size×size if Size is set, else the request's
// H×W (28×28 without one); req.C channels if it is 3, else 1.
func (s *lettersSource) Load(req Request) (*Set, error) {
	h, w := req.H, req.W
	if s.size > 0 {
		h, w = s.size, s.size
	}
	if h <= 0 || w <= 0 {
		h, w = 28, 28
	}
	c := 1
	if req.C == 3 {
		c = 3
	}
	if int64(s.count)*int64(c)*int64(h)*int64(w) > maxGeneratedValues || h > 4096 || w > 4096 {
		return nil, fmt.Errorf("datasets: letters: %d images of %d×%d×%d are too many values (at most %d, sides at most 4096)", s.count, c, h, w, maxGeneratedValues)
	}
	seed := req.Seed
	if s.seed != nil {
		seed = *s.seed
	}
	return Letters(s.count, c, h, w, seed), nil
}

func init() {
	Register("letters",
		"Generated notMNIST-style letters A-J (labels 0-9), white on black, rendered from 37 compiled-in font faces (Go, Liberation, Latin Modern) "+
			"with random size, stretch, rotation, position and stroke weight; no splits. "+
			"Params: count (default 10000), seed (default: the experiment's seed), size (side in pixels; default: the model's input, else 28).",
		func(params Decoder) (Source, error) {
			p := LettersParams{Count: 10000}
			if err := decodeParams("letters", params, &p); err != nil {
				return nil, err
			}
			if err := checkCount("letters", p.Count); err != nil {
				return nil, err
			}
			if p.Size < 0 {
				return nil, fmt.Errorf("datasets: letters: size = %d (want > 0, or 0 for the model's input size)", p.Size)
			}
			seed, err := seedParam("letters", p.Seed)
			if err != nil {
				return nil, err
			}
			return &lettersSource{count: p.Count, size: p.Size, seed: seed}, nil
		})
}
