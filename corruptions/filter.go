package corruptions

import (
	"math"
	"sync"
)

// Border modes of the filters and samplers below. Names follow scipy.ndimage;
// the OpenCV names are given where the original code uses OpenCV.
type border int

const (
	borderNearest  border = iota // a a a | a b c d | d d d  (scipy 'nearest', cv2 BORDER_REPLICATE)
	borderReflect                // b a | a b c d | d c     (scipy 'reflect', half-sample symmetric)
	borderMirror                 // c b | a b c d | c b     (scipy 'mirror', cv2 BORDER_REFLECT_101)
	borderConstant               // 0 0 | a b c d | 0 0     (scipy 'constant' with cval 0)
	borderWrap                   // c d | a b c d | a b     (periodic)
)

// borderIndex maps index i onto [0,n) under mode m. It returns -1 for
// borderConstant outside the range. Indices far outside the range (kernels
// wider than the image) are folded repeatedly, as scipy does.
func borderIndex(i, n int, m border) int {
	if i >= 0 && i < n {
		return i
	}
	switch m {
	case borderNearest:
		if i < 0 {
			return 0
		}
		return n - 1
	case borderConstant:
		return -1
	case borderWrap:
		i %= n
		if i < 0 {
			i += n
		}
		return i
	case borderReflect:
		p := 2 * n
		i %= p
		if i < 0 {
			i += p
		}
		if i >= n {
			i = p - 1 - i
		}
		return i
	default: // borderMirror
		if n == 1 {
			return 0
		}
		p := 2*n - 2
		i %= p
		if i < 0 {
			i += p
		}
		if i >= n {
			i = p - i
		}
		return i
	}
}

// gaussKernel returns scipy.ndimage's 1-D Gaussian kernel for sigma and
// truncate: radius r = int(truncate·σ + 0.5), weights exp(−x²/2σ²) for
// x = −r..r, normalised to sum 1. σ ≤ 1e-15 gives the identity [1], as
// scipy's gaussian_filter skips such axes.
func gaussKernel(sigma, truncate float64) []float32 {
	key := [2]float64{sigma, truncate}
	if k, ok := gaussCache.Load(key); ok {
		return k.([]float32)
	}
	if sigma <= 1e-15 {
		return []float32{1}
	}
	r := int(truncate*sigma + 0.5)
	w := make([]float64, 2*r+1)
	sum := 0.0
	for i := range w {
		x := float64(i - r)
		w[i] = math.Exp(-0.5 / (sigma * sigma) * x * x)
		sum += w[i]
	}
	k := make([]float32, len(w))
	for i := range w {
		k[i] = float32(w[i] / sum)
	}
	gaussCache.Store(key, k)
	return k
}

var gaussCache sync.Map

// correlateRows correlates every row of the h×w plane src with the
// odd-length kernel k (centred), writing dst; mode handles the borders.
// pad must hold at least w+len(k)-1 values.
func correlateRows(dst, src []float32, h, w int, k []float32, m border, pad []float32) {
	r := len(k) / 2
	if len(k) == 1 {
		for i := range src[:h*w] {
			dst[i] = src[i] * k[0]
		}
		return
	}
	pad = pad[:w+2*r]
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		for i := range pad {
			j := borderIndex(i-r, w, m)
			if j < 0 {
				pad[i] = 0
			} else {
				pad[i] = row[j]
			}
		}
		out := dst[y*w : (y+1)*w]
		for x := range out {
			win := pad[x : x+len(k)]
			var s float32
			for t, kv := range k {
				s += kv * win[t]
			}
			out[x] = s
		}
	}
}

// correlateCols correlates every column of the h×w plane src with k.
// dst must not alias src.
func correlateCols(dst, src []float32, h, w int, k []float32, m border) {
	r := len(k) / 2
	for y := 0; y < h; y++ {
		out := dst[y*w : (y+1)*w]
		for x := range out {
			out[x] = 0
		}
		for t, kv := range k {
			yy := borderIndex(y+t-r, h, m)
			if yy < 0 {
				continue
			}
			in := src[yy*w : (yy+1)*w]
			for x := range out {
				out[x] += kv * in[x]
			}
		}
	}
}

// gaussianPlane filters one h×w plane like scipy.ndimage.gaussian_filter
// (and so skimage.filters.gaussian) with the given σ, truncate and mode.
// dst may alias src. s supplies scratch space.
func gaussianPlane(dst, src []float32, h, w int, sigma, truncate float64, m border, s *scratch) {
	k := gaussKernel(sigma, truncate)
	if len(k) == 1 {
		copy(dst[:h*w], src[:h*w])
		return
	}
	tmp := s.get(h * w)
	pad := s.get(w + len(k))
	correlateRows(tmp, src, h, w, k, m, pad)
	correlateCols(dst, tmp, h, w, k, m)
	s.put(pad)
	s.put(tmp)
}

// gaussianImage applies gaussianPlane to every channel of a CHW image
// (skimage.filters.gaussian with multichannel=True: no blur across channels).
func gaussianImage(dst, src []float32, c, h, w int, sigma, truncate float64, m border, s *scratch) {
	n := h * w
	for ch := 0; ch < c; ch++ {
		gaussianPlane(dst[ch*n:(ch+1)*n], src[ch*n:(ch+1)*n], h, w, sigma, truncate, m, s)
	}
}

// clip01 clamps v to [0,1]; NaN becomes 0 so that no NaN ever leaves the package.
func clip01(v float32) float32 {
	if v > 0 {
		if v < 1 {
			return v
		}
		return 1
	}
	return 0
}

func clip01f(v float64) float64 {
	if v > 0 {
		if v < 1 {
			return v
		}
		return 1
	}
	return 0
}

// sampleBilinear interpolates plane p (h×w) at row r, column c; neighbours
// outside the plane are mapped by mode (constant → 0), as scipy's
// map_coordinates(order=1) and skimage's warp do.
func sampleBilinear(p []float32, h, w int, r, c float64, m border) float32 {
	r0 := math.Floor(r)
	c0 := math.Floor(c)
	dr := float32(r - r0)
	dc := float32(c - c0)
	ir, ic := int(r0), int(c0)
	at := func(y, x int) float32 {
		y = borderIndex(y, h, m)
		x = borderIndex(x, w, m)
		if y < 0 || x < 0 {
			return 0
		}
		return p[y*w+x]
	}
	if ir >= 0 && ic >= 0 && ir+1 < h && ic+1 < w {
		i := ir*w + ic
		top := p[i] + dc*(p[i+1]-p[i])
		bot := p[i+w] + dc*(p[i+w+1]-p[i+w])
		return top + dr*(bot-top)
	}
	top := (1-dc)*at(ir, ic) + dc*at(ir, ic+1)
	bot := (1-dc)*at(ir+1, ic) + dc*at(ir+1, ic+1)
	return (1-dr)*top + dr*bot
}

// luma601 is the grey value cv2.cvtColor(COLOR_RGB2GRAY) computes:
// 0.299 R + 0.587 G + 0.114 B. Grey images use it wherever a colour
// corruption is mapped onto one channel.
func luma601(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

// spatialScale is the factor applied to parameters measured in pixels:
// CIFAR-10-C's values are kept for images up to ref pixels (ref = 32 for the
// CIFAR-10-C corruptions, 28 for the MNIST-C ones) and scaled linearly with
// min(h, w)/ref above. Smaller images are not scaled down because the 32-px
// values already sit at a one-pixel granularity (defocus severity 4's disk of
// radius 1 would become a single pixel at 28 px).
func spatialScale(h, w, ref int) float64 {
	m := min(h, w)
	if m <= ref {
		return 1
	}
	return float64(m) / float64(ref)
}
