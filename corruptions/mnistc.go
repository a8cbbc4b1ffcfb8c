package corruptions

import (
	"math"
	"math/rand/v2"
)

// MNIST-C corruptions that CIFAR-10-C lacks (google-research/mnist-c
// corruptions.py). MNIST-C applies each at one fixed setting; here each has
// five severities, one of which (Corruption.MNISTCSeverity) is MNIST-C's.
// Lengths in pixels are MNIST-C's at 28 px and scale with size/28 above.

var (
	shearTable  = [Severities]float64{0.2, 0.4, 0.6, 0.8, 1.0} // MNIST-C table; MNIST-C uses severity 2
	rotateTable = [Severities]float64{0.2, 0.4, 0.6, 0.8, 1.0} // radians; MNIST-C uses severity 2
	scaleTable  = [Severities]float64{1 / 0.9, 1 / 0.8, 1 / 0.7, 1 / 0.6, 1 / 0.5}
	translatePx = [Severities]float64{1, 2, 3, 4, 5}  // MNIST-C uses severity 3
	stripePx    = [Severities]float64{3, 5, 7, 9, 11} // columns inverted per side at 28 px; MNIST-C: 7
	// lineWidth scales MNIST-C's line profile width 2.3 px; MNIST-C: 1.
	lineWidth = [Severities]float64{0.5, 0.75, 1, 1.25, 1.5}
	// cannyBlend is the weight of the edge map; MNIST-C replaces the image (1).
	cannyBlend = [Severities]float64{0.2, 0.4, 0.6, 0.8, 1.0}
)

// warpSk is skimage.transform.warp(img, inverse_map=AffineTransform(M)) on
// every channel: out(col, row) = in(M·(col, row, 1)), bilinear, zero outside
// (mode 'constant', cval 0).
func warpSk(dst []float32, src image3, M [6]float64) {
	h, w := src.h, src.w
	n := h * w
	for ch := 0; ch < src.c; ch++ {
		p := src.plane(ch)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := M[0]*float64(x) + M[1]*float64(y) + M[2]
				r := M[3]*float64(x) + M[4]*float64(y) + M[5]
				dst[ch*n+y*w+x] = clip01(sampleBilinear(p, h, w, r, c, borderConstant))
			}
		}
	}
}

// centred returns the affine matrix with linear part (a1 a2; b1 b2) and the
// translation that keeps the image centre ((W−1)/2, (H−1)/2) fixed, as
// MNIST-C does with 13.5·(1 − a1 − a2).
func centred(a1, a2, b1, b2 float64, h, w int) [6]float64 {
	cx, cy := float64(w-1)/2, float64(h-1)/2
	return [6]float64{a1, a2, cx - a1*cx - a2*cy, b1, b2, cy - b1*cx - b2*cy}
}

// shear: skimage AffineTransform(shear=±c) — matrix (1, −sin c; 0, cos c) —
// about the centre, random sign, as inverse map.
var shear = Corruption{
	Name: "shear", Group: "affine", Random: true, Source: SourceMNISTC, MNISTCSeverity: 2,
	Params:  [Severities]string{"±0.2", "±0.4", "±0.6", "±0.8", "±1.0"},
	Summary: "shear about the centre with a random sign (skimage warp, zero fill)",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		c := shearTable[sev-1] * randSign(r)
		warpSk(dst, src, centred(1, -math.Sin(c), 0, math.Cos(c), src.h, src.w))
	},
}

// scale: AffineTransform(scale=(s, s)) about the centre as inverse map, so
// s > 1 shrinks the content (zero fill around it).
var scale = Corruption{
	Name: "scale", Group: "affine", Source: SourceMNISTC, MNISTCSeverity: 3,
	Params:  [Severities]string{"1/0.9", "1/0.8", "1/0.7", "1/0.6", "1/0.5"},
	Summary: "zoom out about the centre (skimage warp, zero fill)",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, _ *scratch) {
		s := scaleTable[sev-1]
		warpSk(dst, src, centred(s, 0, 0, s, src.h, src.w))
	},
}

// rotate: AffineTransform(rotation=±c) about the centre, random sign.
var rotate = Corruption{
	Name: "rotate", Group: "affine", Random: true, Source: SourceMNISTC, MNISTCSeverity: 2,
	Params:  [Severities]string{"±0.2 rad", "±0.4 rad", "±0.6 rad", "±0.8 rad", "±1.0 rad"},
	Summary: "rotation about the centre with a random sign (skimage warp, zero fill)",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		c := rotateTable[sev-1] * randSign(r)
		warpSk(dst, src, centred(math.Cos(c), -math.Sin(c), math.Sin(c), math.Cos(c), src.h, src.w))
	},
}

// translate: shift by c px in x and y with independent random signs (zero
// fill); c scales with W/28 and H/28 (rounded) for other sizes.
var translate = Corruption{
	Name: "translate", Group: "affine", Random: true, Source: SourceMNISTC, MNISTCSeverity: 3,
	Params:  [Severities]string{"±1 px", "±2 px", "±3 px", "±4 px", "±5 px"},
	Summary: "translation by ±c px in x and y (zero fill)",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		c := translatePx[sev-1]
		dx := math.Max(1, math.Round(c*float64(src.w)/28)) * randSign(r)
		dy := math.Max(1, math.Round(c*float64(src.h)/28)) * randSign(r)
		warpSk(dst, src, [6]float64{1, 0, dx, 0, 1, dy})
	},
}

// stripe: invert (x → 1 − x) the k leftmost and k rightmost columns; MNIST-C
// inverts columns 0–6 and 21–27 of 28 (k = 7, severity 3). k = round(px·W/28).
var stripe = Corruption{
	Name: "stripe", Group: "digital", Source: SourceMNISTC, MNISTCSeverity: 3,
	Params:  [Severities]string{"3 px/side", "5 px/side", "7 px/side", "9 px/side", "11 px/side"},
	Summary: "invert vertical stripes at the left and right edges",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, _ *scratch) {
		h, w := src.h, src.w
		k := min(max(1, int(math.Round(stripePx[sev-1]*float64(w)/28))), w/2)
		copy(dst, src.pix)
		for ch := 0; ch < src.c; ch++ {
			for y := 0; y < h; y++ {
				row := dst[ch*h*w+y*w : ch*h*w+(y+1)*w]
				for x := 0; x < k; x++ {
					row[x] = 1 - row[x]
					row[w-1-x] = 1 - row[w-1-x]
				}
			}
		}
	},
}

// lineFromPoints is MNIST-C's line_from_points on an h×w grid, in pixel
// units: with f(c) the line through (c0, r0) and (c1, r1), each pixel gets
// clip(log(1 − d/D) + 1, 0, 1), d = min(|row − f(col)|, D − 1e-10), D = 2.3·s
// the profile width, and columns < ⌊c0⌋ or ≥ ⌈c1⌉ are zero. Vertical lines
// (c1 = c0) give nothing, as in MNIST-C. The profile is added into acc.
func lineFromPoints(acc []float32, h, w int, c0, r0, c1, r1, width float64, clipEach bool) {
	if c1 == c0 {
		return
	}
	m := (r1 - r0) / (c1 - c0)
	l := int(math.Floor(c0))
	rr := int(math.Ceil(c1))
	for col := max(l, 0); col < min(rr, w); col++ {
		f := m*(float64(col)-c0) + r0
		for row := 0; row < h; row++ {
			d := math.Min(math.Abs(float64(row)-f), width-1e-10)
			v := math.Log(1-d/width) + 1
			if v <= 0 {
				continue
			}
			i := row*w + col
			acc[i] += float32(math.Min(v, 1))
			if clipEach {
				acc[i] = min(acc[i], 1)
			}
		}
	}
}

// dotted_line: a random line from (0, r0) to (W−1, r1), r0, r1 ~
// randint(0, 27) (scaled by H/28), with every other 2-px column segment
// removed (the first one off), added to every channel and clipped. Severity
// scales the line profile width (MNIST-C: severity 3).
var dottedLine = Corruption{
	Name: "dotted_line", Group: "overlay", Random: true, Source: SourceMNISTC, MNISTCSeverity: 3,
	Params:  [Severities]string{"width×0.5", "width×0.75", "width×1", "width×1.25", "width×1.5"},
	Summary: "a random dotted white line across the image",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, s *scratch) {
		r0 := randint(r, 0, 27)
		r1 := randint(r, 0, 27)
		drawDotted(dst, src, float64(r0), float64(r1), lineWidth[sev-1], s)
	},
}

// drawDotted draws dotted_line's line from (0, r0) to (27, r1) (28-px units).
func drawDotted(dst []float32, src image3, r0, r1, width float64, s *scratch) {
	h, w := src.h, src.w
	n := h * w
	sx, sy := float64(w)/28, float64(h)/28
	line := s.getZero(n)
	defer s.put(line)
	lineFromPoints(line, h, w, 0, r0*sy, float64(w-1), r1*sy, 2.3*width*sy, false)
	seg := 2 * sx
	for x := 0; x < w; x++ {
		if int(math.Floor(float64(x)/seg))%2 == 0 { // segments 0, 2, 4, … are off
			for y := 0; y < h; y++ {
				line[y*w+x] = 0
			}
		}
	}
	for ch := 0; ch < src.c; ch++ {
		for i := 0; i < n; i++ {
			dst[ch*n+i] = clip01(src.pix[ch*n+i] + min(line[i], 1))
		}
	}
}

// zigzagPoints is MNIST-C's zig-zag polyline in 28-px units: from (2, r0)
// to (25, r1) with teeth of length a = 2 and height b = 2, rotated onto the
// line, including MNIST-C's odd last point (d, r_i/(2(d − max_c))).
func zigzagPoints(r0, r1 float64) (cs, rs []float64) {
	const a, b = 2.0, 2.0
	const c0, c1 = 2.0, 25.0
	theta := math.Atan((r1 - r0) / (c1 - c0))
	d := (c1 - c0) / math.Cos(theta)
	type pt struct{ c, r float64 }
	pts := []pt{{0, 0}}
	var ri float64
	for i := 0; i < int(math.Floor((d-a)/(2*a)))+1; i++ {
		ci := float64(2*i+1) * a
		ri = b
		if i%2 == 1 {
			ri = -b
		}
		pts = append(pts, pt{ci, ri})
	}
	maxC := 2 * a * math.Floor(d/(2*a))
	if d != maxC {
		pts = append(pts, pt{d, ri / (2 * (d - maxC))})
	}
	ct, st := math.Cos(theta), math.Sin(theta)
	for _, p := range pts {
		cs = append(cs, ct*p.c-st*p.r+c0)
		rs = append(rs, st*p.c+ct*p.r+r0)
	}
	return cs, rs
}

// zigzag: MNIST-C's zig-zag line: r0 ~ randint(0, 27), r1 = r0 +
// randint(−5, 5), segments drawn with lineFromPoints and added (clipped
// after each), white on every channel. Severity scales the profile width
// (MNIST-C: severity 3); coordinates scale with W/28 and H/28.
var zigzag = Corruption{
	Name: "zigzag", Group: "overlay", Random: true, Source: SourceMNISTC, MNISTCSeverity: 3,
	Params:  [Severities]string{"width×0.5", "width×0.75", "width×1", "width×1.25", "width×1.5"},
	Summary: "a random white zig-zag line",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		r0 := randint(r, 0, 27)
		r1 := r0 + randint(r, -5, 5)
		drawZigzag(dst, src, float64(r0), float64(r1), lineWidth[sev-1])
	},
}

// drawZigzag draws zigzag's polyline for draws r0, r1 (28-px units).
func drawZigzag(dst []float32, src image3, r0, r1, width float64) {
	h, w := src.h, src.w
	n := h * w
	sx, sy := float64(w)/28, float64(h)/28
	cs, rs := zigzagPoints(r0, r1)
	wd := 2.3 * width * sy
	for ch := 0; ch < src.c; ch++ {
		acc := dst[ch*n : (ch+1)*n]
		copy(acc, src.plane(ch))
		for i := range acc {
			acc[i] = clip01(acc[i])
		}
		for i := 1; i < len(cs); i++ {
			lineFromPoints(acc, h, w, cs[i-1]*sx, rs[i-1]*sy, cs[i]*sx, rs[i]*sy, wd, true)
		}
	}
}

// skCanny is skimage.feature.canny(img, sigma) with the default thresholds
// 0.1 and 0.2: Gaussian smoothing (mode constant, normalised by the smoothed
// all-ones mask), scipy Sobel (mode reflect), magnitude hypot, bilinear
// non-maximum suppression in four sectors (excluding the 1-pixel border),
// hysteresis keeping 8-connected components of magnitude ≥ 0.1 that contain
// a pixel ≥ 0.2. It returns 1 on edges, 0 elsewhere.
func skCanny(img []float32, h, w int, sigma float64) []float32 {
	n := h * w
	in := make([]float64, n)
	ones := make([]float64, n)
	for i, v := range img[:n] {
		in[i], ones[i] = float64(v), 1
	}
	sm := gaussian64(in, h, w, sigma)
	bleed := gaussian64(ones, h, w, sigma)
	const eps = 2.220446049250313e-16
	smooth := make([]float64, n)
	for i := range smooth {
		smooth[i] = sm[i] / (bleed[i] + eps)
	}
	at := func(y, x int) float64 {
		return smooth[borderIndex(y, h, borderReflect)*w+borderIndex(x, w, borderReflect)]
	}
	isob := make([]float64, n) // d/drow
	jsob := make([]float64, n) // d/dcol
	mag := make([]float64, n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			j := (at(y-1, x+1) - at(y-1, x-1)) + 2*(at(y, x+1)-at(y, x-1)) + (at(y+1, x+1) - at(y+1, x-1))
			i := (at(y+1, x-1) - at(y-1, x-1)) + 2*(at(y+1, x)-at(y-1, x)) + (at(y+1, x+1) - at(y-1, x+1))
			isob[y*w+x], jsob[y*w+x] = i, j
			mag[y*w+x] = math.Hypot(i, j)
		}
	}
	M := func(y, x int) float64 { return mag[y*w+x] }
	localMax := make([]bool, n)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			k := y*w + x
			m := mag[k]
			if !(m > 0) {
				continue
			}
			is, js := isob[k], jsob[k]
			ai, aj := math.Abs(is), math.Abs(js)
			horiz := ai >= aj
			vert := ai <= aj
			up, down := is >= 0, is <= 0
			right, left := js >= 0, js <= 0
			same := (up && right) || (down && left)
			opp := (down && right) || (up && left)
			// Later sectors overwrite earlier ones, as in skimage.
			test := func(w8 float64, p1, p2, m1, m2 float64) bool {
				return p2*w8+p1*(1-w8) <= m && m2*w8+m1*(1-w8) <= m
			}
			if same && horiz {
				w8 := aj / ai
				localMax[k] = test(w8, M(y+1, x), M(y+1, x+1), M(y-1, x), M(y-1, x-1))
			}
			if same && vert {
				w8 := ai / aj
				localMax[k] = test(w8, M(y, x+1), M(y+1, x+1), M(y, x-1), M(y-1, x-1))
			}
			if opp && vert {
				w8 := ai / aj
				localMax[k] = test(w8, M(y, x+1), M(y-1, x+1), M(y, x-1), M(y+1, x-1))
			}
			if opp && horiz {
				w8 := aj / ai
				localMax[k] = test(w8, M(y-1, x), M(y-1, x+1), M(y+1, x), M(y+1, x-1))
			}
		}
	}
	// Hysteresis by flood fill from strong pixels through weak ones.
	const low, high = 0.1, 0.2
	out := make([]float32, n)
	var stack []int
	for k := range mag {
		if localMax[k] && mag[k] >= high && out[k] == 0 {
			out[k] = 1
			stack = append(stack, k)
			for len(stack) > 0 {
				q := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				qy, qx := q/w, q%w
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						yy, xx := qy+dy, qx+dx
						if yy < 0 || yy >= h || xx < 0 || xx >= w {
							continue
						}
						j := yy*w + xx
						if out[j] == 0 && localMax[j] && mag[j] >= low {
							out[j] = 1
							stack = append(stack, j)
						}
					}
				}
			}
		}
	}
	return out
}

// gaussian64 is scipy's gaussian_filter (truncate 4, mode constant) in
// float64, so that Canny's threshold and maximum decisions match skimage.
func gaussian64(p []float64, h, w int, sigma float64) []float64 {
	r := int(4*sigma + 0.5)
	k := make([]float64, 2*r+1)
	sum := 0.0
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-0.5 / (sigma * sigma) * x * x)
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float64, h*w)
	out := make([]float64, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 0.0
			for t, kv := range k {
				if xx := x + t - r; xx >= 0 && xx < w {
					v += kv * p[y*w+xx]
				}
			}
			tmp[y*w+x] = v
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 0.0
			for t, kv := range k {
				if yy := y + t - r; yy >= 0 && yy < h {
					v += kv * tmp[yy*w+x]
				}
			}
			out[y*w+x] = v
		}
	}
	return out
}

// canny_edges: skimage Canny edge map (σ = 1 px, scaled with size/28 above
// 28 px) of the image (of its Rec. 601 luma for RGB, written to every
// channel), blended as (1−a)·x + a·edges. MNIST-C replaces the image by the
// edge map: a = 1, severity 5.
var cannyEdges = Corruption{
	Name: "canny_edges", Group: "digital", Source: SourceMNISTC, MNISTCSeverity: 5,
	Params:  [Severities]string{"a=0.2", "a=0.4", "a=0.6", "a=0.8", "a=1 (edge map)"},
	Summary: "Canny edge map, blended with the image",
	fn: func(sev int, src image3, dst []float32, _ *rand.Rand, s *scratch) {
		h, w := src.h, src.w
		n := h * w
		grey := src.pix[:n]
		if src.c == 3 {
			g := s.get(n)
			defer s.put(g)
			for i := range g {
				g[i] = luma601(src.pix[i], src.pix[n+i], src.pix[2*n+i])
			}
			grey = g
		}
		e := skCanny(grey, h, w, spatialScale(h, w, 28))
		a := float32(cannyBlend[sev-1])
		for ch := 0; ch < src.c; ch++ {
			for i := 0; i < n; i++ {
				dst[ch*n+i] = clip01((1-a)*src.pix[ch*n+i] + a*e[i])
			}
		}
	},
}
