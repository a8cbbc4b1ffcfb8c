package corruptions

import (
	"math"
	"math/rand/v2"
)

// CIFAR-10-C weather parameters (make_cifar_c.py).
var (
	// snow: (loc, scale, zoom, threshold, blur radius, blur sigma, blend)
	snowParams = [Severities][7]float64{
		{0.1, 0.2, 1, 0.6, 8, 3, 0.95},
		{0.1, 0.2, 1, 0.5, 10, 4, 0.9},
		{0.15, 0.3, 1.75, 0.55, 10, 4, 0.9},
		{0.25, 0.3, 2.25, 0.6, 12, 6, 0.85},
		{0.3, 0.3, 1.25, 0.65, 14, 12, 0.8},
	}
	// frost: (image weight, frost weight)
	frostParams = [Severities][2]float64{{1, 0.2}, {1, 0.3}, {0.9, 0.4}, {0.85, 0.4}, {0.75, 0.45}}
	// fog: (strength, wibble decay)
	fogParams = [Severities][2]float64{{0.2, 3}, {0.5, 3}, {0.75, 2.5}, {1, 2}, {1.5, 1.75}}
	// spatter: (loc, scale, σ, threshold, intensity, mode 0 = water, 1 = mud)
	spatterParams = [Severities][6]float64{
		{0.62, 0.1, 0.7, 0.7, 0.5, 0},
		{0.65, 0.1, 0.8, 0.7, 0.5, 0},
		{0.65, 0.3, 1, 0.69, 0.5, 0},
		{0.65, 0.1, 0.7, 0.69, 0.6, 1},
		{0.65, 0.1, 0.5, 0.68, 0.6, 1},
	}
)

// snow: a layer N(loc, scale) per pixel is zoomed (clipped_zoom by `zoom`),
// zeroed below threshold, quantised to 8 bits and motion-blurred
// (ImageMagick semantics, angle ~ U(−135°, −45°)); the image is brightened
// to blend·x + (1−blend)·max(x, 1.5·grey(x) + 0.5) (grey = Rec. 601 luma, as
// cv2 RGB2GRAY; grey images use themselves) and the layer plus its 180°
// rotation is added. Zoom, blur radius and sigma scale with size/32 above
// 32 px, so flakes keep their size relative to the image.
var snow = Corruption{
	Name: "snow", Group: "weather", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params: [Severities]string{"N(0.1,0.2) z=1 t=0.6 r=8 σ=3 b=0.95", "N(0.1,0.2) z=1 t=0.5 r=10 σ=4 b=0.9",
		"N(0.15,0.3) z=1.75 t=0.55 r=10 σ=4 b=0.9", "N(0.25,0.3) z=2.25 t=0.6 r=12 σ=6 b=0.85",
		"N(0.3,0.3) z=1.25 t=0.65 r=14 σ=12 b=0.8"},
	Summary: "motion-blurred snow flakes over a brightened image",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, s *scratch) {
		p := snowParams[sev-1]
		h, w := src.h, src.w
		n := h * w
		sc := spatialScale(h, w, 32)
		layer := s.get(n)
		defer s.put(layer)
		for i := range layer {
			layer[i] = float32(p[0] + p[1]*r.NormFloat64())
		}
		zoomed := s.getZero(n)
		defer s.put(zoomed)
		tmp := s.get(n)
		defer s.put(tmp)
		z := p[2] * sc
		clippedZoomAdd(zoomed, layer, h, w, newZoomAxis(h, z), newZoomAxis(w, z), tmp)
		thr := float32(p[3])
		for i, v := range zoomed {
			if v < thr {
				v = 0
			}
			zoomed[i] = quantizeTrunc8(clip01(v))
		}
		angle := uniform(r, -135, -45)
		k, ox, oy := motionTaps(p[4]*sc, p[5]*sc, angle)
		idx := make([]int, w)
		motionBlurPlane(layer, zoomed, h, w, k, ox, oy, idx)
		blend := float32(p[6])
		for i := 0; i < n; i++ {
			var g float32
			if src.c == 3 {
				g = luma601(src.pix[i], src.pix[n+i], src.pix[2*n+i])
			} else {
				g = src.pix[i]
			}
			add := layer[i] + layer[n-1-i]
			bright := g*1.5 + 0.5
			for ch := 0; ch < src.c; ch++ {
				x := src.pix[ch*n+i]
				v := blend*x + (1-blend)*max(x, bright)
				dst[ch*n+i] = clip01(v + add)
			}
		}
	},
}

// frost: clip(c₀·x + c₁·frost) with frost a random crop of one of five
// textures (chosen by randint(5)). Deviation: the textures are procedural
// (see frosttex.go), calibrated to the original photos' colour means and
// contrast; crops wrap around the periodic texture. Grey images use the
// texture's Rec. 601 luma, as cv2.imread(..., 0) gives MNIST-C. Above 32 px
// the texture is magnified by size/32 (bilinear).
var frost = Corruption{
	Name: "frost", Group: "weather", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"1·x + 0.2·frost", "1·x + 0.3·frost", "0.9·x + 0.4·frost", "0.85·x + 0.4·frost", "0.75·x + 0.45·frost"},
	Summary: "blend with a frosted-glass texture (procedural, calibrated to the original photos)",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		p := frostParams[sev-1]
		tex := &frostTextures()[randint(r, 0, 5)]
		const T = frostTexSize
		y0 := randint(r, 0, T)
		x0 := randint(r, 0, T)
		h, w := src.h, src.w
		n := h * w
		sc := spatialScale(h, w, 32)
		c0, c1 := float32(p[0]), float32(p[1])
		for ch := 0; ch < src.c; ch++ {
			plane := tex.grey
			if src.c == 3 {
				plane = tex.rgb[ch]
			}
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					var f float32
					if sc == 1 {
						f = plane[((y0+y)%T)*T+(x0+x)%T]
					} else {
						f = sampleBilinear(plane, T, T, float64(y0)+float64(y)/sc, float64(x0)+float64(x)/sc, borderWrap)
					}
					i := ch*n + y*w + x
					dst[i] = clip01(c0*src.pix[i] + c1*f)
				}
			}
		}
	},
}

// plasmaFractal is make_cifar_c.py's diamond-square height map of side
// mapsize (a power of two) with wibble starting at 100 and divided by decay
// per level; values rescaled to [0,1]. buf must hold mapsize² values.
func plasmaFractal(r *rand.Rand, mapsize int, decay float64, buf []float64) []float64 {
	m := buf[:mapsize*mapsize]
	clear(m)
	at := func(y, x int) *float64 { return &m[y*mapsize+x] }
	wibble := 100.0
	wib := func(v float64) float64 { return v/4 + wibble*uniform(r, -wibble, wibble) }
	for step := mapsize; step >= 2; step /= 2 {
		half := step / 2
		k := mapsize / step // points per side at this level
		// Squares: centre = mean of 4 corners (wrapping) + wibble.
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				s := *at(i*step, j*step) + *at(((i+1)%k)*step, j*step) +
					*at(i*step, ((j+1)%k)*step) + *at(((i+1)%k)*step, ((j+1)%k)*step)
				*at(i*step+half, j*step+half) = wib(s)
			}
		}
		// Diamonds on the rows of corners: (i·step, j·step + half).
		vals := make([]float64, k*k)
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				vals[i*k+j] = *at(i*step+half, j*step+half) + *at(((i-1+k)%k)*step+half, j*step+half) +
					*at(i*step, j*step) + *at(i*step, ((j+1)%k)*step)
			}
		}
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				*at(i*step, j*step+half) = wib(vals[i*k+j])
			}
		}
		// Diamonds on the rows of centres: (i·step + half, j·step).
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				vals[i*k+j] = *at(i*step+half, j*step+half) + *at(i*step+half, ((j-1+k)%k)*step+half) +
					*at(i*step, j*step) + *at(((i+1)%k)*step, j*step)
			}
		}
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				*at(i*step+half, j*step) = wib(vals[i*k+j])
			}
		}
		wibble /= decay
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range m {
		lo, hi = min(lo, v), max(hi, v)
	}
	for i := range m {
		m[i] -= lo
		if hi > lo {
			m[i] /= hi - lo
		}
	}
	return m
}

// fog: x + s·plasma[:H, :W] (one plasma map for all channels), rescaled by
// max(x)/(max(x) + s). The map side is the next power of two ≥ max(H, W)
// (32 for CIFAR-10 and MNIST), so fog structures scale with the image.
var fog = Corruption{
	Name: "fog", Group: "weather", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"s=0.2 decay=3", "s=0.5 decay=3", "s=0.75 decay=2.5", "s=1 decay=2", "s=1.5 decay=1.75"},
	Summary: "additive diamond-square plasma fractal, contrast rescaled",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		p := fogParams[sev-1]
		h, w := src.h, src.w
		n := h * w
		ms := 1
		for ms < max(h, w) {
			ms *= 2
		}
		buf := make([]float64, ms*ms)
		pl := plasmaFractal(r, ms, p[1], buf)
		var maxv float32
		for _, v := range src.pix {
			maxv = max(maxv, v)
		}
		s := float32(p[0])
		scale := maxv / (maxv + s)
		for ch := 0; ch < src.c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					i := ch*n + y*w + x
					dst[i] = clip01((src.pix[i] + s*float32(pl[y*ms+x])) * scale)
				}
			}
		}
	},
}

// Spatter colours, RGB in [0,1].
var (
	waterColor = [3]float32{175.0 / 255, 238.0 / 255, 238.0 / 255} // pale turquoise
	mudColor   = [3]float32{63.0 / 255, 42.0 / 255, 20.0 / 255}
)

// spatterReliefKernel is the emboss kernel of the water branch.
var spatterReliefKernel = [3][3]float64{{-2, -1, 0}, {-1, 1, 1}, {0, 1, 2}}

// spatterWaterMask computes the water branch's m (before ×intensity) from the
// thresholded liquid layer: liquid→uint8, Canny(50, 150), distance to the
// edges (DIST_L2, 5×5) truncated at trunc, 3×3 blur → uint8 → equalizeHist
// → emboss filter2D (8-bit) → 3×3 blur; m = liquid₈·relief / max. All zero
// when the layer is empty (the original would divide by zero).
func spatterWaterMask(liquid []float32, h, w int, trunc float32) []float32 {
	n := h * w
	l8 := make([]uint8, n)
	for i, v := range liquid {
		l8[i] = uint8(min(max(math.Floor(float64(v)*255), 0), 255))
	}
	edges := cvCanny(l8, h, w, 50, 150)
	for i := range edges {
		edges[i] = 255 - edges[i]
	}
	dist := cvDistL2Mask5(edges, h, w)
	for i, v := range dist {
		dist[i] = min(v, trunc)
	}
	bl := make([]float32, n)
	cvBoxBlur3(bl, dist, h, w)
	d8 := make([]uint8, n)
	for i, v := range bl {
		d8[i] = uint8(min(max(v, 0), 255)) // astype(uint8) truncates
	}
	d8 = cvEqualizeHist(d8)
	d8 = cvFilter2DU8(d8, h, w, spatterReliefKernel)
	d8 = cvBoxBlur3U8(d8, h, w)
	m := make([]float32, n)
	var mx float32
	for i := range m {
		m[i] = float32(l8[i]) * float32(d8[i])
		mx = max(mx, m[i])
	}
	if mx == 0 {
		clear(m)
		return m
	}
	for i := range m {
		m[i] /= mx
	}
	return m
}

// spatter: a liquid layer N(loc, scale), gaussian σ (skimage, mode nearest),
// zeroed below threshold. Severities 1–3 (water): pale-turquoise drops whose
// relief comes from Canny edges and a distance transform (OpenCV semantics,
// see spatterWaterMask), added: clip(x + intensity·m·colour). Severities 4–5
// (mud): m = gaussian(layer > threshold, σ = intensity), zeroed below 0.8;
// x·(1−m) + brown·m. σ, the mud σ and the distance cap (20 px) scale with
// size/32 above 32 px. Grey images get the Rec. 601 luma of the result on
// the replicated grey image.
var spatter = Corruption{
	Name: "spatter", Group: "weather", Random: true, Source: SourceCIFAR10C,
	Params: [Severities]string{"water N(0.62,0.1) σ=0.7 t=0.7 i=0.5", "water N(0.65,0.1) σ=0.8 t=0.7 i=0.5",
		"water N(0.65,0.3) σ=1 t=0.69 i=0.5", "mud N(0.65,0.1) σ=0.7 t=0.69 σm=0.6", "mud N(0.65,0.1) σ=0.5 t=0.68 σm=0.6"},
	Summary: "water drops (severities 1–3) or mud splashes (4–5)",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, s *scratch) {
		p := spatterParams[sev-1]
		h, w := src.h, src.w
		n := h * w
		sc := spatialScale(h, w, 32)
		liquid := s.get(n)
		defer s.put(liquid)
		for i := range liquid {
			liquid[i] = float32(p[0] + p[1]*r.NormFloat64())
		}
		gaussianPlane(liquid, liquid, h, w, p[2]*sc, 4, borderNearest, s)
		thr := float32(p[3])
		for i, v := range liquid {
			if v < thr {
				liquid[i] = 0
			}
		}
		var m []float32
		var color [3]float32
		water := p[5] == 0
		if water {
			m = spatterWaterMask(liquid, h, w, float32(20*sc))
			for i := range m {
				m[i] *= float32(p[4])
			}
			color = waterColor
		} else {
			m = s.get(n)
			defer s.put(m)
			for i, v := range liquid {
				m[i] = 0
				if v > thr {
					m[i] = 1
				}
			}
			gaussianPlane(m, m, h, w, p[4]*sc, 4, borderNearest, s)
			for i, v := range m {
				if v < 0.8 {
					m[i] = 0
				}
			}
			color = mudColor
		}
		mix := func(x, mv, col float32) float32 {
			if water {
				return clip01(x + mv*col)
			}
			return x*(1-mv) + col*mv
		}
		for i := 0; i < n; i++ {
			if src.c == 3 {
				for ch := 0; ch < 3; ch++ {
					dst[ch*n+i] = mix(src.pix[ch*n+i], m[i], color[ch])
				}
				continue
			}
			g := src.pix[i]
			dst[i] = luma601(mix(g, m[i], color[0]), mix(g, m[i], color[1]), mix(g, m[i], color[2]))
		}
	},
}
