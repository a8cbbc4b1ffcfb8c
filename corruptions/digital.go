package corruptions

import (
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"sync"
)

// CIFAR-10-C digital parameters (make_cifar_c.py).
var (
	brightnessShift = [Severities]float64{0.05, 0.1, 0.15, 0.2, 0.3}
	contrastFactor  = [Severities]float64{0.75, 0.5, 0.4, 0.3, 0.15}
	saturateParams  = [Severities][2]float64{{0.3, 0}, {0.1, 0}, {1.5, 0}, {2, 0.1}, {2.5, 0.2}}
	jpegQuality     = [Severities]int{80, 65, 58, 50, 40}
	pixelateFactor  = [Severities]float64{0.95, 0.9, 0.85, 0.75, 0.65}
	// elastic_transform: (alpha, sigma, affine jitter) as fractions of the image size
	elasticParams = [Severities][3]float64{
		{0, 0, 0.08}, {0.05, 0.2, 0.07}, {0.08, 0.06, 0.06}, {0.1, 0.04, 0.05}, {0.1, 0.03, 0.03},
	}
)

// brightness: skimage HSV with V ← clip(V + c). Since H and S are kept, every
// channel scales by V'/V (black pixels become grey c); on grey images this
// is exactly clip(x + c).
var brightness = Corruption{
	Name: "brightness", Group: "digital", Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"V+0.05", "V+0.10", "V+0.15", "V+0.20", "V+0.30"},
	Summary: "brighten: HSV value + c",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, _ *scratch) {
		c := float32(brightnessShift[sev-1])
		if src.c == 1 {
			for i, v := range src.pix {
				dst[i] = clip01(v + c)
			}
			return
		}
		n := src.h * src.w
		for i := 0; i < n; i++ {
			r, g, b := src.pix[i], src.pix[n+i], src.pix[2*n+i]
			v := max(r, g, b)
			v2 := clip01(v + c)
			if v <= 0 {
				dst[i], dst[n+i], dst[2*n+i] = v2, v2, v2
				continue
			}
			f := v2 / v
			dst[i], dst[n+i], dst[2*n+i] = clip01(r*f), clip01(g*f), clip01(b*f)
		}
	},
}

// contrast: (x − mean_c)·c + mean_c with the mean taken per channel over all
// pixels.
var contrast = Corruption{
	Name: "contrast", Group: "digital", Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"c=0.75", "c=0.5", "c=0.4", "c=0.3", "c=0.15"},
	Summary: "contrast reduction towards the per-channel mean",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, _ *scratch) {
		c := float32(contrastFactor[sev-1])
		for ch := 0; ch < src.c; ch++ {
			p := src.plane(ch)
			sum := 0.0
			for _, v := range p {
				sum += float64(v)
			}
			m := float32(sum / float64(len(p)))
			n := len(p)
			for i, v := range p {
				dst[ch*n+i] = clip01((v-m)*c + m)
			}
		}
	},
}

// saturate: skimage HSV with S ← clip(S·c₀ + c₁). With H and V kept, a
// coloured pixel's channels move as ch' = V − (V − ch)·S'/S; a grey pixel
// inside an RGB image has H = 0 in skimage and so turns towards red when
// c₁ > 0 (severities 4–5), as in CIFAR-10-C. Single-channel images carry no
// hue, so saturate is the identity on them. The original table is not
// ordered by strength: severities 1–2 desaturate (S·0.3, S·0.1), 3–5
// oversaturate.
var saturate = Corruption{
	Name: "saturate", Group: "digital", Source: SourceCIFAR10C,
	Params:  [Severities]string{"S·0.3", "S·0.1", "S·1.5", "S·2+0.1", "S·2.5+0.2"},
	Summary: "HSV saturation scaled and shifted (identity on grey images)",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, _ *scratch) {
		if src.c == 1 {
			copy(dst, src.pix)
			return
		}
		p := saturateParams[sev-1]
		c0, c1 := float32(p[0]), float32(p[1])
		n := src.h * src.w
		for i := 0; i < n; i++ {
			r, g, b := src.pix[i], src.pix[n+i], src.pix[2*n+i]
			v := max(r, g, b)
			delta := v - min(r, g, b)
			if v <= 0 {
				dst[i], dst[n+i], dst[2*n+i] = 0, 0, 0
				continue
			}
			s := delta / v
			s2 := clip01(s*c0 + c1)
			if delta == 0 { // H = 0: (V, V(1−S'), V(1−S'))
				q := v * (1 - s2)
				dst[i], dst[n+i], dst[2*n+i] = v, q, q
				continue
			}
			f := s2 / s
			dst[i], dst[n+i], dst[2*n+i] = clip01(v-(v-r)*f), clip01(v-(v-g)*f), clip01(v-(v-b)*f)
		}
	},
}

// jpeg_compression: 8-bit round trip through Go's image/jpeg at the given
// quality (grey images as greyscale JPEG, RGB with 4:2:0 chroma). Deviation:
// the original uses PIL/libjpeg; both use the IJG quantisation tables scaled
// by quality, but Go's encoder and decoder differ from libjpeg in rounding,
// chroma downsampling and upsampling (Go replicates chroma, libjpeg
// interpolates), so pixels differ by a few levels.
var jpegCompression = Corruption{
	Name: "jpeg_compression", Group: "digital", Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"q=80", "q=65", "q=58", "q=50", "q=40"},
	Summary: "JPEG round trip (Go image/jpeg)",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, s *scratch) {
		q := jpegQuality[sev-1]
		h, w := src.h, src.w
		n := h * w
		to8 := func(v float32) uint8 { return uint8(clip01(v)*255 + 0.5) }
		var img image.Image
		if src.c == 1 {
			g := image.NewGray(image.Rect(0, 0, w, h))
			for i, v := range src.pix {
				g.Pix[i] = to8(v)
			}
			img = g
		} else {
			rgba := image.NewRGBA(image.Rect(0, 0, w, h))
			for i := 0; i < n; i++ {
				rgba.Pix[4*i] = to8(src.pix[i])
				rgba.Pix[4*i+1] = to8(src.pix[n+i])
				rgba.Pix[4*i+2] = to8(src.pix[2*n+i])
				rgba.Pix[4*i+3] = 255
			}
			img = rgba
		}
		s.jpg.Reset()
		if err := jpeg.Encode(&s.jpg, img, &jpeg.Options{Quality: q}); err != nil {
			panic("corruptions: jpeg encode to memory failed: " + err.Error()) // cannot happen for in-memory images
		}
		out, err := jpeg.Decode(&s.jpg)
		if err != nil {
			panic("corruptions: decoding our own JPEG failed: " + err.Error())
		}
		switch o := out.(type) {
		case *image.Gray:
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					dst[y*w+x] = float32(o.Pix[y*o.Stride+x]) / 255
				}
			}
		case *image.YCbCr:
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					yi := o.YOffset(x, y)
					ci := o.COffset(x, y)
					r, g, b := color.YCbCrToRGB(o.Y[yi], o.Cb[ci], o.Cr[ci])
					i := y*w + x
					if src.c == 1 {
						dst[i] = luma601(float32(r)/255, float32(g)/255, float32(b)/255)
						continue
					}
					dst[i], dst[n+i], dst[2*n+i] = float32(r)/255, float32(g)/255, float32(b)/255
				}
			}
		default:
			panic("corruptions: unexpected decoded JPEG type")
		}
	},
}

// pilBoxMatrix is PIL's Image.resize(..., BOX) along one axis as a dense
// out×in matrix: output pixel o averages, with equal weights, the input
// pixels whose centres j+½ fall in (c − s/2, c + s/2] around c = (o+½)·s,
// s = in/out (upsampling, s < 1, picks the nearest input pixel).
func pilBoxMatrix(in, out int) [][]float64 {
	scale := float64(in) / float64(out)
	fs := max(scale, 1)
	support := 0.5 * fs
	mat := make([][]float64, out)
	for o := range mat {
		mat[o] = make([]float64, in)
		center := (float64(o) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in)
		sum := 0.0
		for j := xmin; j < xmax; j++ {
			x := (float64(j) - center + 0.5) / fs
			if x > -0.5 && x <= 0.5 {
				mat[o][j] = 1
				sum++
			}
		}
		if sum > 0 {
			for j := xmin; j < xmax; j++ {
				mat[o][j] /= sum
			}
		}
	}
	return mat
}

// pixelAxis is the composed BOX-down-then-BOX-up map of one axis as sparse
// rows.
type pixelAxis struct {
	idx [][]int
	wt  [][]float32
}

func newPixelAxis(n int, c float64) pixelAxis {
	key := zoomKey{n, c}
	if a, ok := pixelCache.Load(key); ok {
		return a.(pixelAxis)
	}
	m := max(1, int(float64(n)*c))
	down := pilBoxMatrix(n, m)
	up := pilBoxMatrix(m, n)
	a := pixelAxis{idx: make([][]int, n), wt: make([][]float32, n)}
	for o := 0; o < n; o++ {
		row := make([]float64, n)
		for k := 0; k < m; k++ {
			if up[o][k] == 0 {
				continue
			}
			for j := 0; j < n; j++ {
				row[j] += up[o][k] * down[k][j]
			}
		}
		for j, v := range row {
			if v != 0 {
				a.idx[o] = append(a.idx[o], j)
				a.wt[o] = append(a.wt[o], float32(v))
			}
		}
	}
	pixelCache.Store(key, a)
	return a
}

var pixelCache sync.Map

// pixelate: PIL BOX-resize to int(W·c)×int(H·c) and back (at 32 px: 30, 28,
// 27, 24, 20 px). Computed in float (PIL rounds to 8 bits after each pass).
var pixelate = Corruption{
	Name: "pixelate", Group: "digital", Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"c=0.95", "c=0.9", "c=0.85", "c=0.75", "c=0.65"},
	Summary: "BOX downsampling to a fraction c of the size and BOX upsampling back",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, s *scratch) {
		c := pixelateFactor[sev-1]
		h, w := src.h, src.w
		ay, ax := newPixelAxis(h, c), newPixelAxis(w, c)
		tmp := s.get(h * w)
		defer s.put(tmp)
		for ch := 0; ch < src.c; ch++ {
			in := src.plane(ch)
			out := dst[ch*h*w : (ch+1)*h*w]
			for y := 0; y < h; y++ {
				row := in[y*w : (y+1)*w]
				for x := 0; x < w; x++ {
					var v float32
					for t, j := range ax.idx[x] {
						v += ax.wt[x][t] * row[j]
					}
					tmp[y*w+x] = v
				}
			}
			for y := 0; y < h; y++ {
				o := out[y*w : (y+1)*w]
				clear(o)
				for t, j := range ay.idx[y] {
					wt := ay.wt[y][t]
					rr := tmp[j*w : (j+1)*w]
					for x := range o {
						o[x] += wt * rr[x]
					}
				}
			}
		}
	},
}

// elastic_transform: with S = min(H, W) (32 for CIFAR-10), alpha, sigma and
// the affine jitter are S × the tabled fractions. First a random affine map
// sends the points (cx±q, cy±q) (q = S//3; three of the four corners)
// to themselves plus U(−jitter, jitter) (cv2.getAffineTransform +
// warpAffine, bilinear, BORDER_REFLECT_101); then every pixel is displaced
// by (dx, dy) = alpha · gaussian(U(−1, 1), sigma, mode reflect, truncate 3)
// and resampled bilinearly (scipy map_coordinates order 1, mode reflect).
//
// The table is not monotone in displacement: the affine jitter falls from
// 2.56 px (severity 1) to 0.96 px (severity 5) while the smooth elastic
// field grows from nothing to ≈0.5 px rms, so severity 1 (a pure random
// affine map) moves pixels more than severity 5 on average. What grows with
// severity is the non-affine (local) distortion, alpha/sigma.
var elasticTransform = Corruption{
	Name: "elastic_transform", Group: "digital", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params: [Severities]string{"α=0 σ=0 aff=2.56 (px at 32)", "α=1.6 σ=6.4 aff=2.24", "α=2.56 σ=1.92 aff=1.92",
		"α=3.2 σ=1.28 aff=1.6", "α=3.2 σ=0.96 aff=0.96"},
	Summary: "random affine jitter plus a smooth random displacement field",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, s *scratch) {
		h, w := src.h, src.w
		size := float64(min(h, w))
		p := elasticParams[sev-1]
		alpha, sigma, aff := size*p[0], size*p[1], size*p[2]
		cx, cy := float64(w/2), float64(h/2)
		q := float64(min(h, w) / 3)
		pts1 := [3][2]float64{{cx + q, cy + q}, {cx + q, cy - q}, {cx - q, cy - q}}
		var pts2 [3][2]float64
		for i := range 3 {
			for j := range 2 {
				// The original adds float32 jitter to float32 points.
				pts2[i][j] = float64(float32(pts1[i][j]) + float32(uniform(r, -aff, aff)))
			}
		}
		M := cvGetAffineTransform(pts1, pts2)
		dx, dy := elasticField(r, h, w, alpha, sigma, s)
		defer s.put(dx)
		defer s.put(dy)
		elasticWarp(dst, src, M, dx, dy, s)
	},
}

// elasticField draws the displacement field alpha·gaussian(U(−1, 1), sigma,
// mode reflect, truncate 3) for x, then for y (scratch slices).
func elasticField(r *rand.Rand, h, w int, alpha, sigma float64, s *scratch) (dx, dy []float32) {
	n := h * w
	dx = s.get(n)
	dy = s.get(n)
	for i := range dx {
		dx[i] = float32(uniform(r, -1, 1))
	}
	for i := range dy {
		dy[i] = float32(uniform(r, -1, 1))
	}
	gaussianPlane(dx, dx, h, w, sigma, 3, borderReflect, s)
	gaussianPlane(dy, dy, h, w, sigma, 3, borderReflect, s)
	a := float32(alpha)
	for i := range dx {
		dx[i] *= a
		dy[i] *= a
	}
	return dx, dy
}

// elasticWarp applies the affine map M (cv2.warpAffine, BORDER_REFLECT_101)
// and then samples at (y + dy, x + dx) bilinearly with scipy's 'reflect'.
func elasticWarp(dst []float32, src image3, M [6]float64, dx, dy []float32, s *scratch) {
	h, w := src.h, src.w
	n := h * w
	warped := s.get(len(src.pix))
	defer s.put(warped)
	for ch := 0; ch < src.c; ch++ {
		cvWarpAffine(warped[ch*n:(ch+1)*n], src.plane(ch), h, w, M)
	}
	for ch := 0; ch < src.c; ch++ {
		pl := warped[ch*n : (ch+1)*n]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*w + x
				ry := float64(float32(y) + dy[i])
				rx := float64(float32(x) + dx[i])
				dst[ch*n+i] = clip01(sampleBilinear(pl, h, w, ry, rx, borderReflect))
			}
		}
	}
}
