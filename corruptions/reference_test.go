package corruptions

import (
	"encoding/json"
	"math"
	"os"
	"sync"
	"testing"
)

// The expected values in testdata/reference.json come from the libraries the
// original scripts call (scikit-image 0.19.3, scipy 1.10.1, OpenCV 4.6.0,
// Pillow 9.4.0, ImageMagick 6.9.11 Q16), produced by testdata/reference.py on
// inputs built by the same formulas as below.

type refArray struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

var (
	refOnce sync.Once
	refData map[string]json.RawMessage
	refErr  error
)

func ref(t *testing.T, name string) []float64 {
	t.Helper()
	refOnce.Do(func() {
		b, err := os.ReadFile("testdata/reference.json")
		if err != nil {
			refErr = err
			return
		}
		refErr = json.Unmarshal(b, &refData)
	})
	if refErr != nil {
		t.Fatalf("reading testdata/reference.json: %v", refErr)
	}
	raw, ok := refData[name]
	if !ok {
		t.Fatalf("reference %q missing from testdata/reference.json", name)
	}
	var a refArray
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("reference %q: %v", name, err)
	}
	return a.Data
}

// closeTo fails unless got and want agree element-wise within tol.
func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol {
		t.Errorf("%s: max |diff| %.3g at %d (got %v, want %v), tolerance %.3g", what, worst, at, got[at], want[at], tol)
	}
}

// Inputs mirrored from reference.py.

func refA() []float32 { // 7×9
	a := make([]float32, 63)
	for y := 0; y < 7; y++ {
		for x := 0; x < 9; x++ {
			a[y*9+x] = float32(float64((y*7+x*3)%11) / 10)
		}
	}
	return a
}

func refR28() []float32 { // ring + bar, 28×28
	v := make([]float32, 28*28)
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			f := math.Min(math.Max(2.5-math.Abs(math.Hypot(float64(x)-13.5, float64(y)-12)-7), 0), 1)
			if x >= 12 && x <= 15 && y >= 18 && y <= 25 {
				f = 1
			}
			v[y*28+x] = float32(math.RoundToEven(f*255) / 255)
		}
	}
	return v
}

// npResize is numpy.resize of R28 to n×n: the flat data repeated cyclically.
func npResize(src []float32, n int) []float32 {
	out := make([]float32, n*n)
	for i := range out {
		out[i] = src[i%len(src)]
	}
	return out
}

func refRGB6() []float32 { // CHW 3×6×6
	p := make([]float32, 3*36)
	for y := 0; y < 6; y++ {
		for x := 0; x < 6; x++ {
			p[y*6+x] = float32(float64((x*5+y*3)%7) / 6)
			p[36+y*6+x] = float32(float64((x*2+y*5)%5) / 4)
			p[72+y*6+x] = float32(float64((x+y*4)%6) / 5)
		}
	}
	p[35], p[71], p[107] = 0.5, 0.5, 0.5
	return p
}

func refLIQ() []uint8 { // 20×24
	l := make([]uint8, 20*24)
	for y := 0; y < 20; y++ {
		for x := 0; x < 24; x++ {
			if (x-7)*(x-7)+(y-8)*(y-8) < 16 || float64((x-17)*(x-17))/4+float64((y-13)*(y-13)) < 9 {
				l[y*24+x] = uint8(170 + (x*3+y*5)%20)
			}
		}
	}
	return l
}

func refU8() []uint8 { // 12×16
	u := make([]uint8, 12*16)
	for y := 0; y < 12; y++ {
		for x := 0; x < 16; x++ {
			u[y*16+x] = uint8((x*37 + y*91 + (x*y)%13*11) % 256)
		}
	}
	return u
}

func u8to32(u []uint8) []float32 {
	out := make([]float32, len(u))
	for i, v := range u {
		out[i] = float32(v)
	}
	return out
}

func TestGaussianMatchesSkimage(t *testing.T) {
	var s scratch
	a := refA()
	for _, tc := range []struct {
		name      string
		sigma, tr float64
		mode      border
	}{
		{"gauss_nearest_0.4", 0.4, 4, borderNearest},
		{"gauss_nearest_1", 1, 4, borderNearest},
		{"gauss_nearest_2.5", 2.5, 4, borderNearest}, // kernel radius 10 > image: repeated folding
		{"gauss_reflect_1.28_t3", 1.28, 3, borderReflect},
	} {
		got := make([]float32, len(a))
		gaussianPlane(got, a, 7, 9, tc.sigma, tc.tr, tc.mode, &s)
		closeTo(t, tc.name, got, ref(t, tc.name), 2e-7)
	}
}

func TestDefocusMatchesOpenCV(t *testing.T) {
	for sev := 1; sev <= 5; sev++ {
		p := defocusBlurParams[sev-1]
		k := diskKernel(p[0], p[1])
		full := make([]float32, 17*17)
		for i := 0; i < k.kh; i++ {
			for j := 0; j < k.kw; j++ {
				full[(8-k.cy+i)*17+8-k.cx+j] = k.k[i*k.kw+j]
			}
		}
		closeTo(t, "disk kernel severity "+string(rune('0'+sev)), full, ref(t, "disk_sev"+string(rune('0'+sev))), 1e-7)
	}
	p := defocusBlurParams[4]
	got := make([]float32, 63)
	filter2D(got, refA(), 7, 9, diskKernel(p[0], p[1]))
	closeTo(t, "defocus severity 5 filter2D", got, ref(t, "defocus_sev5_A"), 1e-6)
}

func TestMotionBlurMatchesImageMagick(t *testing.T) {
	in := u8to32(refU8())
	for i := range in {
		in[i] /= 255
	}
	for _, tc := range []struct {
		name              string
		rad, sigma, angle float64
	}{
		{"motion_6_1_17.3", 6, 1, 17.3},
		{"motion_9_2.5_-40", 9, 2.5, -40},
		{"motion_14_12_-100.7", 14, 12, -100.7},
	} {
		k, ox, oy := motionTaps(tc.rad, tc.sigma, tc.angle)
		got := make([]float32, len(in))
		motionBlurPlane(got, in, 12, 16, k, ox, oy, make([]int, 16))
		for i := range got {
			got[i] = float32(math.Round(float64(got[i]) * 255)) // ImageMagick writes 8-bit PNG
		}
		closeTo(t, tc.name, got, ref(t, tc.name), 1) // Q16 → 8-bit rounding can differ by one level
	}
}

func TestZoomBlurMatchesScipy(t *testing.T) {
	src := refR28()
	got := make([]float32, len(src))
	zoomBlur.fn(3, image3{1, 28, 28, src}, got, nil, &scratch{})
	closeTo(t, "zoom_blur severity 3", got, ref(t, "zoom_blur_sev3_R28"), 2e-6)
}

func TestPixelateMatchesPIL(t *testing.T) {
	for _, n := range []int{28, 32} {
		src := npResize(refR28(), n)
		for _, tc := range []struct {
			sev  int
			name string
		}{{1, "pixelate_0.95_"}, {5, "pixelate_0.65_"}} {
			got := make([]float32, len(src))
			pixelate.fn(tc.sev, image3{1, n, n, src}, got, nil, &scratch{})
			name := tc.name + map[int]string{28: "28", 32: "32"}[n]
			closeTo(t, name, got, ref(t, name), 1e-6)
		}
	}
}

func TestBrightnessSaturateMatchSkimage(t *testing.T) {
	src := refRGB6()
	for sev := 1; sev <= 5; sev++ {
		got := make([]float32, len(src))
		brightness.fn(sev, image3{3, 6, 6, src}, got, nil, nil)
		closeTo(t, "brightness", got, ref(t, "brightness_sev"+string(rune('0'+sev))), 1e-6)
		saturate.fn(sev, image3{3, 6, 6, src}, got, nil, nil)
		closeTo(t, "saturate", got, ref(t, "saturate_sev"+string(rune('0'+sev))), 1e-6)
	}
}

func TestElasticPiecesMatchOpenCVAndScipy(t *testing.T) {
	pts1 := [3][2]float64{{26, 26}, {26, 6}, {6, 6}}
	jit := [3][2]float64{{1.5, -0.75}, {-2.25, 0.5}, {0.25, 2.0}}
	var pts2 [3][2]float64
	for i := range pts1 {
		pts2[i] = [2]float64{pts1[i][0] + jit[i][0], pts1[i][1] + jit[i][1]}
	}
	M := cvGetAffineTransform(pts1, pts2)
	mf := make([]float32, 6)
	for i, v := range M {
		mf[i] = float32(v)
	}
	closeTo(t, "getAffineTransform", mf, ref(t, "elastic_M"), 1e-6)

	img := npResize(refR28(), 32)
	warped := make([]float32, len(img))
	cvWarpAffine(warped, img, 32, 32, M)
	closeTo(t, "warpAffine BORDER_REFLECT_101", warped, ref(t, "elastic_warp"), 2e-6)

	dx := make([]float32, 32*32)
	dy := make([]float32, 32*32)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			dx[y*32+x] = float32(math.Sin(float64(y)*0.7+float64(x)*0.3) * 2.3)
			dy[y*32+x] = float32(math.Cos(float64(y)*0.2-float64(x)*0.5) * 1.7)
		}
	}
	got := make([]float32, len(img))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			i := y*32 + x
			got[i] = sampleBilinear(img, 32, 32, float64(float32(y)+dy[i]), float64(float32(x)+dx[i]), borderReflect)
		}
	}
	closeTo(t, "map_coordinates order 1 reflect", got, ref(t, "elastic_sample"), 2e-6)
}

func TestCannyMatchesSkimage(t *testing.T) {
	got := skCanny(refR28(), 28, 28, 1)
	closeTo(t, "skimage canny", got, ref(t, "canny_R28"), 0)
}

func TestOpenCVPiecesMatch(t *testing.T) {
	liq := refLIQ()
	edges := cvCanny(liq, 20, 24, 50, 150)
	closeTo(t, "cv2.Canny(liquid)", u8to32(edges), ref(t, "cv_canny_LIQ"), 0)
	closeTo(t, "cv2.Canny(U8)", u8to32(cvCanny(refU8(), 12, 16, 50, 150)), ref(t, "cv_canny_U8"), 0)
	closeTo(t, "cv2.equalizeHist(U8)", u8to32(cvEqualizeHist(refU8())), ref(t, "cv_eqhist_U8"), 0)
	inv := make([]uint8, len(edges))
	for i, v := range edges {
		inv[i] = 255 - v
	}
	closeTo(t, "cv2.distanceTransform L2 5", cvDistL2Mask5(inv, 20, 24), ref(t, "cv_dist_LIQ"), 1e-5)
	liquid := make([]float32, len(liq))
	for i, v := range liq {
		liquid[i] = (float32(v) + 0.5) / 255 // truncates back to v
	}
	closeTo(t, "spatter water mask", spatterWaterMask(liquid, 20, 24, 20), ref(t, "spatter_water_m_LIQ"), 1e-6)
}

func TestMNISTCWarpsMatchSkimage(t *testing.T) {
	src := image3{1, 28, 28, refR28()}
	got := make([]float32, 28*28)
	c := 0.4
	warpSk(got, src, centred(1, -math.Sin(c), 0, math.Cos(c), 28, 28))
	closeTo(t, "shear +0.4", got, ref(t, "shear_+0.4_R28"), 1e-6)
	c = -0.4
	warpSk(got, src, centred(math.Cos(c), -math.Sin(c), math.Sin(c), math.Cos(c), 28, 28))
	closeTo(t, "rotate -0.4", got, ref(t, "rotate_-0.4_R28"), 1e-6)
	scale.fn(3, src, got, nil, nil)
	closeTo(t, "scale severity 3", got, ref(t, "scale_sev3_R28"), 1e-6)
	warpSk(got, src, [6]float64{1, 0, 3, 0, 1, -3})
	closeTo(t, "translate (+3, −3)", got, ref(t, "translate_+3_-3_R28"), 1e-6)
}

func TestLinesMatchMNISTC(t *testing.T) {
	var s scratch
	src := image3{1, 28, 28, refR28()}
	got := make([]float32, 28*28)
	drawDotted(got, src, 5, 20, 1, &s)
	closeTo(t, "dotted_line r0=5 r1=20", got, ref(t, "dotted_5_20_R28"), 1e-6)
	drawZigzag(got, src, 10, 13, 1)
	closeTo(t, "zigzag r0=10 r1=13", got, ref(t, "zigzag_10_13_R28"), 1e-6)
	drawZigzag(got, src, 20, 15, 1)
	closeTo(t, "zigzag r0=20 r1=15", got, ref(t, "zigzag_20_15_R28"), 1e-6)
}
