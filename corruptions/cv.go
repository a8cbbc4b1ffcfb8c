package corruptions

import "math"

// This file re-implements the few OpenCV 4 routines the originals call, with
// OpenCV's integer semantics (8-bit saturation, round-half-even casts,
// fixed-point distance metric), checked against cv2 4.6 in the tests.

// cvRound is OpenCV's cvRound: round half to even.
func cvRound(v float64) int { return int(math.RoundToEven(v)) }

// saturate8 is saturate_cast<uchar> of a float: round half to even, clamp.
func saturate8(v float64) uint8 { return uint8(min(max(cvRound(v), 0), 255)) }

// cvCanny is cv2.Canny(img, low, high) with apertureSize 3 and the L1
// gradient: 3×3 Sobel (BORDER_REPLICATE), |dx|+|dy|, non-maximum
// suppression in four sectors split at tan 22.5° (fixed point, CANNY_SHIFT
// 15), candidates need magnitude > low, seeds > high, hysteresis over
// 8-neighbours. It returns 255 on edges, 0 elsewhere.
func cvCanny(img []uint8, h, w int, low, high float64) []uint8 {
	at := func(y, x int) int {
		y = min(max(y, 0), h-1)
		x = min(max(x, 0), w-1)
		return int(img[y*w+x])
	}
	dx := make([]int, h*w)
	dy := make([]int, h*w)
	mag := make([]int, (h+2)*(w+2)) // zero border
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			gx := (at(y-1, x+1) + 2*at(y, x+1) + at(y+1, x+1)) - (at(y-1, x-1) + 2*at(y, x-1) + at(y+1, x-1))
			gy := (at(y+1, x-1) + 2*at(y+1, x) + at(y+1, x+1)) - (at(y-1, x-1) + 2*at(y-1, x) + at(y-1, x+1))
			dx[y*w+x], dy[y*w+x] = gx, gy
			mag[(y+1)*(w+2)+x+1] = abs(gx) + abs(gy)
		}
	}
	lo := int(math.Floor(low))
	hi := int(math.Floor(high))
	const shift = 15
	const tg22 = 13573 // (int)(0.4142135623730950488·2^15 + 0.5)
	// state: 0 weak candidate, 1 not an edge, 2 edge
	state := make([]uint8, h*w)
	var stack []int
	M := func(y, x int) int { return mag[(y+1)*(w+2)+x+1] }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			m := M(y, x)
			state[i] = 1
			if m <= lo {
				continue
			}
			xs, ys := dx[i], dy[i]
			ax := abs(xs)
			ay := abs(ys) << shift
			tg22x := ax * tg22
			isMax := false
			if ay < tg22x {
				isMax = m > M(y, x-1) && m >= M(y, x+1)
			} else {
				tg67x := tg22x + (ax << (shift + 1))
				if ay > tg67x {
					isMax = m > M(y-1, x) && m >= M(y+1, x)
				} else {
					s := 1
					if (xs ^ ys) < 0 {
						s = -1
					}
					isMax = m > M(y-1, x-s) && m > M(y+1, x+s)
				}
			}
			if !isMax {
				continue
			}
			if m > hi {
				state[i] = 2
				stack = append(stack, i)
			} else {
				state[i] = 0
			}
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		y, x := i/w, i%w
		for ddy := -1; ddy <= 1; ddy++ {
			for ddx := -1; ddx <= 1; ddx++ {
				yy, xx := y+ddy, x+ddx
				if yy < 0 || yy >= h || xx < 0 || xx >= w {
					continue
				}
				j := yy*w + xx
				if state[j] == 0 {
					state[j] = 2
					stack = append(stack, j)
				}
			}
		}
	}
	out := make([]uint8, h*w)
	for i, s := range state {
		if s == 2 {
			out[i] = 255
		}
	}
	return out
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// cvDistL2Mask5 is cv2.distanceTransform(src, DIST_L2, 5): the distance of
// every non-zero pixel to the nearest zero pixel by the two-pass 5×5 chamfer
// with weights 1, 1.4, 2.1969 in 16.16 fixed point. Without zero pixels every
// distance is INT_MAX/65536 ≈ 32768, as in OpenCV.
func cvDistL2Mask5(src []uint8, h, w int) []float32 {
	const fix = 1 << 16
	hv := uint64(cvRound(1 * fix))
	diag := uint64(cvRound(1.4 * fix))
	long := uint64(cvRound(2.1969 * fix))
	const initDist = math.MaxInt32
	const b = 2
	st := w + 2*b
	t := make([]uint64, (h+2*b)*st)
	for i := range t {
		t[i] = initDist
	}
	at := func(y, x int) int { return (y+b)*st + x + b }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			j := at(y, x)
			if src[y*w+x] == 0 {
				t[j] = 0
				continue
			}
			t0 := t[j-2*st-1] + long
			t0 = min(t0, t[j-2*st+1]+long, t[j-st-2]+long, t[j-st-1]+diag, t[j-st]+hv,
				t[j-st+1]+diag, t[j-st+2]+long, t[j-1]+hv)
			t[j] = t0
		}
	}
	out := make([]float32, h*w)
	for y := h - 1; y >= 0; y-- {
		for x := w - 1; x >= 0; x-- {
			j := at(y, x)
			t0 := t[j]
			if t0 > hv {
				t0 = min(t0, t[j+2*st+1]+long, t[j+2*st-1]+long, t[j+st+2]+long, t[j+st+1]+diag,
					t[j+st]+hv, t[j+st-1]+diag, t[j+st-2]+long, t[j+1]+hv)
				t[j] = t0
			}
			out[y*w+x] = float32(float64(t0) * (1.0 / fix))
		}
	}
	return out
}

// pad1 returns the (h+2)×(w+2) plane of src with a one-pixel
// BORDER_REFLECT_101 border, so 3×3 operations need no index mapping.
func pad1[T uint8 | float32](src []T, h, w int) []T {
	W := w + 2
	p := make([]T, (h+2)*W)
	for y := -1; y <= h; y++ {
		sy := borderIndex(y, h, borderMirror)
		row := p[(y+1)*W : (y+2)*W]
		copy(row[1:w+1], src[sy*w:(sy+1)*w])
		row[0] = src[sy*w+borderIndex(-1, w, borderMirror)]
		row[w+1] = src[sy*w+borderIndex(w, w, borderMirror)]
	}
	return p
}

// cvBoxBlur3 is cv2.blur(src, (3, 3)) on a float plane: the 3×3 mean with
// BORDER_REFLECT_101.
func cvBoxBlur3(dst, src []float32, h, w int) {
	p := pad1(src, h, w)
	W := w + 2
	for y := 0; y < h; y++ {
		a, b, c := p[y*W:], p[(y+1)*W:], p[(y+2)*W:]
		for x := 0; x < w; x++ {
			s := a[x] + a[x+1] + a[x+2] + b[x] + b[x+1] + b[x+2] + c[x] + c[x+1] + c[x+2]
			dst[y*w+x] = s * (1.0 / 9)
		}
	}
}

// cvBoxBlur3U8 is cv2.blur on an 8-bit plane: 3×3 sum (BORDER_REFLECT_101)
// times 1/9, rounded.
func cvBoxBlur3U8(src []uint8, h, w int) []uint8 {
	p := pad1(src, h, w)
	W := w + 2
	out := make([]uint8, h*w)
	for y := 0; y < h; y++ {
		a, b, c := p[y*W:], p[(y+1)*W:], p[(y+2)*W:]
		for x := 0; x < w; x++ {
			s := int(a[x]) + int(a[x+1]) + int(a[x+2]) + int(b[x]) + int(b[x+1]) + int(b[x+2]) +
				int(c[x]) + int(c[x+1]) + int(c[x+2])
			out[y*w+x] = saturate8(float64(s) / 9)
		}
	}
	return out
}

// cvEqualizeHist is cv2.equalizeHist: lut[v] = round(cdf'(v)·255/(N −
// hist[min])) with the cumulative count excluding the lowest occupied level;
// a constant image is returned unchanged.
func cvEqualizeHist(src []uint8) []uint8 {
	var hist [256]int
	for _, v := range src {
		hist[v]++
	}
	i := 0
	for hist[i] == 0 {
		i++
	}
	out := make([]uint8, len(src))
	total := len(src)
	if hist[i] == total {
		for j := range out {
			out[j] = uint8(i)
		}
		return out
	}
	var lut [256]uint8
	scale := float32(255) / float32(total-hist[i])
	sum := 0
	lut[i] = 0
	for i++; i < 256; i++ {
		sum += hist[i]
		lut[i] = saturate8(float64(float32(sum) * scale))
	}
	for j, v := range src {
		out[j] = lut[v]
	}
	return out
}

// cvFilter2DU8 is cv2.filter2D(src, cv2.CV_8U, k) for a 3×3 kernel:
// correlation with BORDER_REFLECT_101, saturated to 0..255.
func cvFilter2DU8(src []uint8, h, w int, k [3][3]float64) []uint8 {
	p := pad1(src, h, w)
	W := w + 2
	out := make([]uint8, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := 0.0
			for dy := 0; dy < 3; dy++ {
				row := p[(y+dy)*W+x:]
				s += k[dy][0]*float64(row[0]) + k[dy][1]*float64(row[1]) + k[dy][2]*float64(row[2])
			}
			out[y*w+x] = saturate8(s)
		}
	}
	return out
}

// cvGetAffineTransform is cv2.getAffineTransform: the 2×3 matrix M with
// M·(src_i, 1) = dst_i for three point pairs (x, y).
func cvGetAffineTransform(src, dst [3][2]float64) [6]float64 {
	// Solve two 3×3 systems A·m = b with rows (x, y, 1).
	var a [3][3]float64
	for i := range 3 {
		a[i] = [3]float64{src[i][0], src[i][1], 1}
	}
	det := a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) - a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) + a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
	solve := func(b [3]float64) [3]float64 {
		var out [3]float64
		for c := range 3 {
			m := a
			for r := range 3 {
				m[r][c] = b[r]
			}
			d := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
			out[c] = d / det
		}
		return out
	}
	mx := solve([3]float64{dst[0][0], dst[1][0], dst[2][0]})
	my := solve([3]float64{dst[0][1], dst[1][1], dst[2][1]})
	return [6]float64{mx[0], mx[1], mx[2], my[0], my[1], my[2]}
}

// cvWarpAffine is cv2.warpAffine(src, M, (w, h), INTER_LINEAR,
// BORDER_REFLECT_101) on one plane: dst(x, y) = src(M⁻¹·(x, y)) with
// OpenCV's fixed-point coordinates (source positions rounded to 1/32 px).
func cvWarpAffine(dst, src []float32, h, w int, M [6]float64) {
	// Invert the affine map as OpenCV's invertAffineTransform does.
	D := M[0]*M[4] - M[1]*M[3]
	if D != 0 {
		D = 1 / D
	}
	A11, A22 := M[4]*D, M[0]*D
	A12, A21 := -M[1]*D, -M[3]*D
	b1 := -A11*M[2] - A12*M[5]
	b2 := -A21*M[2] - A22*M[5]
	const abBits = 10
	const abScale = 1 << abBits
	const interBits = 5
	const tab = 1 << interBits
	const roundDelta = abScale / tab / 2
	sat := func(v float64) int { return cvRound(v) }
	for y := 0; y < h; y++ {
		X0 := sat((A12*float64(y)+b1)*abScale) + roundDelta
		Y0 := sat((A22*float64(y)+b2)*abScale) + roundDelta
		for x := 0; x < w; x++ {
			X := (X0 + sat(A11*float64(x)*abScale)) >> (abBits - interBits)
			Y := (Y0 + sat(A21*float64(x)*abScale)) >> (abBits - interBits)
			ix, iy := X>>interBits, Y>>interBits
			fx := float32(X&(tab-1)) / tab
			fy := float32(Y&(tab-1)) / tab
			if iy >= 0 && ix >= 0 && iy+1 < h && ix+1 < w {
				i := iy*w + ix
				top := src[i]*(1-fx) + src[i+1]*fx
				bot := src[i+w]*(1-fx) + src[i+w+1]*fx
				dst[y*w+x] = top*(1-fy) + bot*fy
				continue
			}
			p := func(yy, xx int) float32 {
				return src[borderIndex(yy, h, borderMirror)*w+borderIndex(xx, w, borderMirror)]
			}
			top := p(iy, ix)*(1-fx) + p(iy, ix+1)*fx
			bot := p(iy+1, ix)*(1-fx) + p(iy+1, ix+1)*fx
			dst[y*w+x] = top*(1-fy) + bot*fy
		}
	}
}
