package corruptions

import (
	"math"
	"math/rand/v2"
	"sync"
)

// CIFAR-10-C blur parameters (make_cifar_c.py).
var (
	gaussianBlurSigma = [Severities]float64{0.4, 0.6, 0.7, 0.8, 1.0}
	// glass_blur: (σ, max_delta, iterations)
	glassBlurParams = [Severities]struct {
		sigma        float64
		delta, iters int
	}{{0.05, 1, 1}, {0.25, 1, 1}, {0.4, 1, 1}, {0.25, 1, 2}, {0.4, 1, 2}}
	// defocus_blur: (disk radius, alias_blur σ)
	defocusBlurParams = [Severities][2]float64{{0.3, 0.4}, {0.4, 0.5}, {0.5, 0.6}, {1, 0.2}, {1.5, 0.1}}
	// motion_blur: ImageMagick (radius, sigma)
	motionBlurParams = [Severities][2]float64{{6, 1}, {6, 1.5}, {6, 2}, {8, 2}, {9, 2.5}}
	// zoom_blur: number of zoom factors 1, 1.01, ... of numpy.arange(1, stop, 0.01)
	// for stop = 1.06, 1.11, 1.16, 1.21, 1.26 (float rounding makes the first two
	// include their stop value).
	zoomBlurCount = [Severities]int{7, 12, 16, 21, 26}
)

// gaussian_blur: skimage.filters.gaussian(σ, mode='nearest', truncate=4) per
// channel. σ is in pixels and scales with size/32 above 32 px.
var gaussianBlur = Corruption{
	Name: "gaussian_blur", Group: "blur", Source: SourceCIFAR10C,
	Params:  [Severities]string{"σ=0.4", "σ=0.6", "σ=0.7", "σ=0.8", "σ=1.0"},
	Summary: "Gaussian blur (skimage gaussian, mode nearest, truncate 4)",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, s *scratch) {
		sd := gaussianBlurSigma[sev-1] * spatialScale(src.h, src.w, 32)
		gaussianImage(dst, src.pix, src.c, src.h, src.w, sd, 4, borderNearest, s)
	},
}

// quantizeTrunc8 maps v to the 8-bit level np.uint8(v·255) gives (truncation),
// with a 1e-3 guard so that float32 round-off of an exact level k/255 does
// not drop it to k−1.
func quantizeTrunc8(v float32) float32 {
	q := math.Floor(float64(v)*255 + 1e-3)
	return float32(min(max(q, 0), 255) / 255)
}

// glass_blur: blur σ, quantise to 8 bits, then `iterations` times sweep
// h = H−d … d+1 and w = W−d … d+1 (descending) setting pixel (h, w), all
// channels together, to pixel (h+dy, w+dx), dx, dy ~ randint(−d, d) (high
// exclusive, so for d = 1 only −1 and 0); blur σ again. σ and d scale with
// size/32 above 32 px (d rounded, at least 1).
//
// The original writes the "swap" x[h,w], x[h',w'] = x[h',w'], x[h,w] on an
// H×W×3 numpy array, where both right-hand sides are views: it copies
// (h', w') into (h, w) and leaves (h', w') unchanged. CIFAR-10-C contains
// that copy, so it is reproduced here, for grey images too. (A true swap, as
// MNIST-C's 2-D arrays get, drags pixels far up-left and roughly doubles the
// change.) Severities 1 and 2 differ only by blur σ 0.05 vs 0.25, whose
// kernels differ by < 0.1 % (σ = 0.05 has radius 0, σ = 0.25 side weights
// e^−8), so they are the same corruption up to the random draws.
var glassBlur = Corruption{
	Name: "glass_blur", Group: "blur", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params: [Severities]string{"σ=0.05 d=1 it=1", "σ=0.25 d=1 it=1", "σ=0.4 d=1 it=1",
		"σ=0.25 d=1 it=2", "σ=0.4 d=1 it=2"},
	Summary: "blur, locally scramble pixels, blur again",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, s *scratch) {
		p := glassBlurParams[sev-1]
		sc := spatialScale(src.h, src.w, 32)
		sd := p.sigma * sc
		d := max(1, int(math.Round(float64(p.delta)*sc)))
		c, h, w := src.c, src.h, src.w
		n := h * w
		tmp := s.get(len(src.pix))
		defer s.put(tmp)
		gaussianImage(tmp, src.pix, c, h, w, sd, 4, borderNearest, s)
		for i, v := range tmp {
			tmp[i] = quantizeTrunc8(v)
		}
		for range p.iters {
			for y := h - d; y > d; y-- {
				for x := w - d; x > d; x-- {
					dx := randint(r, -d, d)
					dy := randint(r, -d, d)
					a, b := y*w+x, (y+dy)*w+x+dx
					for ch := 0; ch < c; ch++ {
						o := ch * n
						tmp[o+a] = tmp[o+b]
					}
				}
			}
		}
		gaussianImage(dst, tmp, c, h, w, sd, 4, borderNearest, s)
	},
}

// kernel2 is a dense 2-D correlation kernel with its centre at (cy, cx).
type kernel2 struct {
	k        []float32
	kh, kw   int
	cy, cx   int
	fullSide int // side of the untrimmed kernel (17 for CIFAR-10-C's disks)
}

// cvGaussianKernel is OpenCV's getGaussianKernel(n, σ) for σ > 0:
// exp(−x²/2σ²) at x = i − (n−1)/2, normalised.
func cvGaussianKernel(n int, sigma float64) []float64 {
	k := make([]float64, n)
	sum := 0.0
	for i := range k {
		x := float64(i) - float64(n-1)*0.5
		k[i] = math.Exp(-0.5 / (sigma * sigma) * x * x)
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// diskKernel is make_cifar_c.py's disk(radius, alias_blur): the indicator of
// x² + y² ≤ radius² on the grid −8..8 (−⌈radius⌉..⌈radius⌉ above 8),
// normalised, then cv2.GaussianBlur with a 3×3 (5×5 above radius 8) kernel
// of σ = alias_blur and BORDER_REFLECT_101. The result is trimmed to its
// non-zero support.
func diskKernel(radius, alias float64) kernel2 {
	key := [2]float64{radius, alias}
	if k, ok := diskCache.Load(key); ok {
		return k.(kernel2)
	}
	R, ks := 8, 3
	if radius > 8 {
		R, ks = int(math.Ceil(radius)), 5
	}
	n := 2*R + 1
	disk := make([]float64, n*n)
	sum := 0.0
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			y, x := float64(i-R), float64(j-R)
			if x*x+y*y <= radius*radius {
				disk[i*n+j] = 1
				sum++
			}
		}
	}
	for i := range disk {
		disk[i] /= sum
	}
	g := cvGaussianKernel(ks, alias)
	gr := ks / 2
	tmp := make([]float64, n*n)
	full := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := 0.0
			for t := range g {
				v += g[t] * disk[i*n+borderIndex(j+t-gr, n, borderMirror)]
			}
			tmp[i*n+j] = v
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := 0.0
			for t := range g {
				v += g[t] * tmp[borderIndex(i+t-gr, n, borderMirror)*n+j]
			}
			full[i*n+j] = v
		}
	}
	// Trim to the bounding box of non-zero weights (tiny weights matter: keep all).
	y0, y1, x0, x1 := n, -1, n, -1
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if full[i*n+j] != 0 {
				y0, y1, x0, x1 = min(y0, i), max(y1, i), min(x0, j), max(x1, j)
			}
		}
	}
	kk := kernel2{kh: y1 - y0 + 1, kw: x1 - x0 + 1, cy: R - y0, cx: R - x0, fullSide: n}
	kk.k = make([]float32, kk.kh*kk.kw)
	for i := y0; i <= y1; i++ {
		for j := x0; j <= x1; j++ {
			kk.k[(i-y0)*kk.kw+j-x0] = float32(full[i*n+j])
		}
	}
	diskCache.Store(key, kk)
	return kk
}

var diskCache sync.Map

// filter2D correlates plane src with k like cv2.filter2D(ddepth=-1) with
// BORDER_REFLECT_101.
func filter2D(dst, src []float32, h, w int, k kernel2) {
	for y := 0; y < h; y++ {
		inY := y-k.cy >= 0 && y-k.cy+k.kh <= h
		for x := 0; x < w; x++ {
			if inY && x-k.cx >= 0 && x-k.cx+k.kw <= w { // interior: no border mapping
				var acc float32
				for i := 0; i < k.kh; i++ {
					row := src[(y+i-k.cy)*w+x-k.cx:]
					for j, kv := range k.k[i*k.kw : (i+1)*k.kw] {
						acc += kv * row[j]
					}
				}
				dst[y*w+x] = acc
				continue
			}
			var acc float32
			for i := 0; i < k.kh; i++ {
				yy := borderIndex(y+i-k.cy, h, borderMirror)
				row := src[yy*w : (yy+1)*w]
				kr := k.k[i*k.kw : (i+1)*k.kw]
				for j, kv := range kr {
					acc += kv * row[borderIndex(x+j-k.cx, w, borderMirror)]
				}
			}
			dst[y*w+x] = acc
		}
	}
}

// defocus_blur: cv2.filter2D of every channel with disk(radius, alias_blur).
// Radius and alias σ scale with size/32 above 32 px. At 32 px radii 0.3–0.5
// give a one-pixel disk, so severities 1–3 are the 3×3 Gaussian alone;
// radius 1 is a 5-pixel cross and 1.5 a 3×3 square.
var defocusBlur = Corruption{
	Name: "defocus_blur", Group: "blur", Source: SourceCIFAR10C, Benchmark: true,
	Params: [Severities]string{"r=0.3 alias=0.4", "r=0.4 alias=0.5", "r=0.5 alias=0.6",
		"r=1 alias=0.2", "r=1.5 alias=0.1"},
	Summary: "convolution with an anti-aliased disk (OpenCV filter2D, BORDER_REFLECT_101)",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, _ *scratch) {
		p := defocusBlurParams[sev-1]
		sc := spatialScale(src.h, src.w, 32)
		k := diskKernel(p[0]*sc, p[1]*sc)
		for ch := 0; ch < src.c; ch++ {
			n := src.h * src.w
			filter2D(dst[ch*n:(ch+1)*n], src.plane(ch), src.h, src.w, k)
		}
	},
}

// motionTaps returns ImageMagick's MotionBlurImage kernel and offsets:
// width = 2⌈radius⌉+1 taps with weights exp(−i²/2σ²) (normalised) at offsets
// (⌈i·cos θ − ½⌉, ⌈i·sin θ − ½⌉) for i = 0..width−1 (x = column, y = row).
func motionTaps(radius, sigma, angleDeg float64) (k []float32, ox, oy []int) {
	width := int(2*math.Ceil(radius) + 1)
	k = make([]float32, width)
	ox = make([]int, width)
	oy = make([]int, width)
	wts := make([]float64, width)
	sum := 0.0
	for i := range wts {
		fi := float64(i)
		wts[i] = math.Exp(-fi*fi/(2*sigma*sigma)) / (math.Sqrt(2*math.Pi) * sigma)
		sum += wts[i]
	}
	rad := math.Pi * angleDeg / 180
	px := float64(width) * math.Sin(rad)
	py := float64(width) * math.Cos(rad)
	hyp := math.Hypot(px, py)
	for i := range wts {
		k[i] = float32(wts[i] / sum)
		ox[i] = int(math.Ceil(float64(i)*py/hyp - 0.5))
		oy[i] = int(math.Ceil(float64(i)*px/hyp - 0.5))
	}
	return k, ox, oy
}

// motionBlurPlane is ImageMagick's MotionBlurImage on one plane:
// out(x, y) = Σ_i k_i · in(x + ox_i, y + oy_i), edge pixels replicated
// (ImageMagick's default "edge" virtual-pixel method). dst must not alias src.
func motionBlurPlane(dst, src []float32, h, w int, k []float32, ox, oy []int, idx []int) {
	clear(dst[:h*w])
	idx = idx[:w]
	for i, kv := range k {
		for x := range idx {
			idx[x] = min(max(x+ox[i], 0), w-1)
		}
		for y := 0; y < h; y++ {
			yy := min(max(y+oy[i], 0), h-1)
			row := src[yy*w : (yy+1)*w]
			out := dst[y*w : (y+1)*w]
			for x, j := range idx {
				out[x] += kv * row[j]
			}
		}
	}
}

// motion_blur: ImageMagick MagickMotionBlurImage(radius, sigma, angle),
// angle ~ U(−45°, 45°), re-implemented exactly (kernel, offsets, edge
// handling) without ImageMagick; radius and sigma scale with size/32 above
// 32 px. Deviation: the original round-trips through an 8-bit PNG, this
// keeps float precision. Note that ImageMagick's kernel depends on radius
// only through its length: with σ = 2 the taps beyond i = 12 weigh < 1e-9,
// so severities 3 (6, 2) and 4 (8, 2) of CIFAR-10-C are the same blur.
var motionBlur = Corruption{
	Name: "motion_blur", Group: "blur", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params: [Severities]string{"radius=6 σ=1", "radius=6 σ=1.5", "radius=6 σ=2",
		"radius=8 σ=2", "radius=9 σ=2.5"},
	Summary: "ImageMagick-style one-sided motion blur along a random angle in ±45°",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, s *scratch) {
		p := motionBlurParams[sev-1]
		sc := spatialScale(src.h, src.w, 32)
		angle := uniform(r, -45, 45)
		k, ox, oy := motionTaps(p[0]*sc, p[1]*sc, angle)
		idx := make([]int, src.w)
		n := src.h * src.w
		for ch := 0; ch < src.c; ch++ {
			motionBlurPlane(dst[ch*n:(ch+1)*n], src.plane(ch), src.h, src.w, k, ox, oy, idx)
		}
	},
}

// zoomAxis is the 1-D linear map of make_cifar_c.py's clipped_zoom along one
// axis of length n for factor z: crop ch = ⌈n/z⌉ centred at top = (n−ch)//2,
// scipy.ndimage.zoom(order=1) to m = round(ch·z) samples (coordinate
// o·(ch−1)/(m−1)), keep samples trim..trim+n−1, trim = (m−n)//2.
type zoomAxis struct {
	i0 []int     // first source index of each output sample
	f  []float32 // weight of source index i0+1
}

func newZoomAxis(n int, z float64) zoomAxis {
	key := zoomKey{n, z}
	if a, ok := zoomCache.Load(key); ok {
		return a.(zoomAxis)
	}
	ch := int(math.Ceil(float64(n) / z))
	top := (n - ch) / 2
	m := int(math.Round(float64(ch) * z))
	trim := (m - n) / 2
	a := zoomAxis{i0: make([]int, n), f: make([]float32, n)}
	ratio := 0.0
	if m > 1 {
		ratio = float64(ch-1) / float64(m-1)
	}
	for o := 0; o < n; o++ {
		u := float64(o+trim) * ratio
		i := int(math.Floor(u))
		f := u - float64(i)
		if i >= ch-1 {
			i, f = ch-1, 0
		}
		a.i0[o] = top + i
		a.f[o] = float32(f)
	}
	zoomCache.Store(key, a)
	return a
}

var zoomCache sync.Map

type zoomKey struct {
	n int
	z float64
}

// zoomFactor is numpy.arange(1, stop, 0.01)[i]: numpy fills start + i·delta
// with delta = (1 + 0.01) − 1 evaluated in float64.
func zoomFactor(i int) float64 {
	one := 1.0
	delta := (one + 0.01) - one
	return one + float64(i)*delta
}

// clippedZoomAdd adds clipped_zoom(src, z) (one h×w plane) to acc, using tmp
// (h·w) as scratch.
func clippedZoomAdd(acc, src []float32, h, w int, ay, ax zoomAxis, tmp []float32) {
	// Horizontal pass over every row (rows outside the crop are simply unused).
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		out := tmp[y*w : (y+1)*w]
		for x := range out {
			i := ax.i0[x]
			f := ax.f[x]
			v := row[i]
			if f != 0 {
				v += f * (row[i+1] - v)
			}
			out[x] = v
		}
	}
	for y := 0; y < h; y++ {
		i := ay.i0[y]
		f := ay.f[y]
		a := tmp[i*w : (i+1)*w]
		out := acc[y*w : (y+1)*w]
		if f == 0 {
			for x := range out {
				out[x] += a[x]
			}
			continue
		}
		b := tmp[(i+1)*w : (i+2)*w]
		for x := range out {
			out[x] += a[x] + f*(b[x]-a[x])
		}
	}
}

// zoom_blur: (x + Σ_z clipped_zoom(x, z)) / (n+1) over the zoom factors
// z = 1, 1.01, …; per axis for non-square images. Factors are ratios, so
// nothing scales with size.
var zoomBlur = Corruption{
	Name: "zoom_blur", Group: "blur", Source: SourceCIFAR10C, Benchmark: true,
	Params: [Severities]string{"z=1..1.06 (7)", "z=1..1.11 (12)", "z=1..1.15 (16)",
		"z=1..1.20 (21)", "z=1..1.25 (26)"},
	Summary: "average of centre zooms by 1, 1.01, … (radial blur)",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, s *scratch) {
		cnt := zoomBlurCount[sev-1]
		h, w := src.h, src.w
		n := h * w
		tmp := s.get(n)
		defer s.put(tmp)
		for ch := 0; ch < src.c; ch++ {
			acc := dst[ch*n : (ch+1)*n]
			in := src.plane(ch)
			copy(acc, in)
			for i := 0; i < cnt; i++ {
				z := zoomFactor(i)
				clippedZoomAdd(acc, in, h, w, newZoomAxis(h, z), newZoomAxis(w, z), tmp)
			}
			inv := float32(1) / float32(cnt+1)
			for i := range acc {
				acc[i] *= inv
			}
		}
	},
}
