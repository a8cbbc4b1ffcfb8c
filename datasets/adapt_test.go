package datasets

import (
	"math"
	"slices"
	"testing"
)

// grid returns a one-image set of c×h×w with the given values.
func grid(c, h, w int, vals ...float32) *Set {
	if len(vals) != c*h*w {
		panic("grid: wrong value count")
	}
	return &Set{Name: "g", C: c, H: h, W: w, Images: vals, Labels: []int{4}, Index: []int{7}}
}

const adaptTol = 1e-6

func approxEqual(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

func TestResize(t *testing.T) {
	// 4×4 with v = (4y+x)/15.
	var v44 []float32
	for i := range 16 {
		v44 = append(v44, float32(i)/15)
	}
	for _, tc := range []struct {
		name string
		in   *Set
		h, w int
		want []float32
	}{
		// Expected values hand-computed; they equal torch.nn.functional
		// adaptive_avg_pool2d (shrinking) and interpolate(mode="bilinear",
		// align_corners=False) (growing) on the same inputs.
		// 2×2 blocks: (0+1+4+5)/60, (2+3+6+7)/60, (8+9+12+13)/60, (10+11+14+15)/60.
		{"area 4→2", grid(1, 4, 4, v44...), 2, 2, []float32{10.0 / 60, 18.0 / 60, 42.0 / 60, 50.0 / 60}},
		// Windows [0,2) and [1,3): overlapping, as adaptive pooling has them.
		{"area 3→2", grid(1, 1, 3, 0, 0.5, 1), 1, 2, []float32{0.25, 0.75}},
		// Windows [0,2), [1,4), [3,5).
		{"area 5→3", grid(1, 1, 5, 0, 0.25, 0.5, 0.75, 1), 1, 3, []float32{0.125, 0.5, 0.875}},
		// s = -0.25→0, 0.25, 0.75, 1.25 (clamped to the last input).
		{"bilinear 2→4", grid(1, 1, 2, 0, 1), 1, 4, []float32{0, 0.25, 0.75, 1}},
		// s = -0.2→0, 0.4, 1, 1.6, 2.2: 0, 0.6·0+0.4·0.5, 0.5, 0.4·0.5+0.6·1, 1.
		{"bilinear 3→5", grid(1, 1, 3, 0, 0.5, 1), 1, 5, []float32{0, 0.2, 0.5, 0.8, 1}},
		// 2-D growth is separable: rows weights (1), (.75,.25), (.25,.75), (1).
		{"bilinear 2×2→4×4", grid(1, 2, 2, 0, 1, 1, 0), 4, 4, []float32{
			0, 0.25, 0.75, 1,
			0.25, 0.375, 0.625, 0.75,
			0.75, 0.625, 0.375, 0.25,
			1, 0.75, 0.25, 0}},
		// Width shrinks 4→2 by area ([.1 .5] and [1 1]); height grows 2→4 bilinearly.
		{"mixed", grid(1, 2, 4, 0, 0.2, 0.4, 0.6, 1, 1, 1, 1), 4, 2, []float32{0.1, 0.5, 0.325, 0.625, 0.775, 0.875, 1, 1}},
		// Two channels are resized plane by plane.
		{"channels", grid(2, 1, 2, 0, 1, 1, 0), 1, 1, []float32{0.5, 0.5}},
		{"identity", grid(1, 1, 3, 0, 0.5, 1), 1, 3, []float32{0, 0.5, 1}},
	} {
		got := Resize(tc.in, tc.h, tc.w)
		if got.H != tc.h || got.W != tc.w || got.C != tc.in.C || !approxEqual(got.Images, tc.want, adaptTol) ||
			!slices.Equal(got.Labels, []int{4}) || !slices.Equal(got.Index, []int{7}) || got.Check() != nil {
			t.Errorf("%s: got %d×%d %v, want %v", tc.name, got.H, got.W, got.Images, tc.want)
		}
	}
}

func TestCenterCrop(t *testing.T) {
	var v []float32
	for i := range 25 {
		v = append(v, float32(i)/24)
	}
	in := grid(1, 5, 5, v...)
	for _, tc := range []struct {
		h, w int
		want []int // source values (5y+x)
	}{
		{2, 2, []int{12, 13, 17, 18}},                                         // offset round(1.5) = 2, as Python rounds
		{4, 4, []int{0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18}}, // round(0.5) = 0
		{3, 1, []int{7, 12, 17}},                                              // rows from 1, column round(2) = 2
		{5, 5, seqInts(25)},                                                   // the whole image
		{1, 4, []int{10, 11, 12, 13}},                                         // row round(2) = 2, column 0
	} {
		got := CenterCrop(in, tc.h, tc.w)
		var want []float32
		for _, k := range tc.want {
			want = append(want, float32(k)/24)
		}
		if got.H != tc.h || got.W != tc.w || !slices.Equal(got.Images, want) {
			t.Errorf("crop %d×%d: %v, want %v", tc.h, tc.w, got.Images, want)
		}
	}
	mustPanic(t, "crop too large", func() { CenterCrop(in, 6, 1) })
	mustPanic(t, "resize to 0", func() { Resize(in, 0, 1) })
}

func seqInts(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	f()
}

func TestGreyRGB(t *testing.T) {
	// Pixels (R,G,B): (1,0,0), (0,1,0), (0,0,1), (1,1,1), (0.2,0.4,0.6).
	rgb := grid(3, 1, 5,
		1, 0, 0, 1, 0.2,
		0, 1, 0, 1, 0.4,
		0, 0, 1, 1, 0.6)
	g := ToGrey(rgb)
	// BT.601: 0.299, 0.587, 0.114, 1, 0.299·0.2+0.587·0.4+0.114·0.6 = 0.363.
	if g.C != 1 || !approxEqual(g.Images, []float32{0.299, 0.587, 0.114, 1, 0.363}, 1e-7) || g.Labels[0] != 4 {
		t.Errorf("ToGrey = %v", g.Images)
	}
	if ToGrey(g) != g || ToRGB(rgb) != rgb {
		t.Error("a no-op conversion copied the set")
	}
	back := ToRGB(g)
	if back.C != 3 || !slices.Equal(back.Images[:5], g.Images) || !slices.Equal(back.Images[10:], g.Images) {
		t.Errorf("ToRGB = %v", back.Images)
	}
	mustPanic(t, "ToGrey of 2 channels", func() { ToGrey(grid(2, 1, 1, 0, 0)) })
}

func TestAdapt(t *testing.T) {
	// A 3×2×4 image: R = 1 everywhere, G = B = 0, so grey = 0.299.
	vals := make([]float32, 24)
	for i := range 8 {
		vals[i] = 1
	}
	in := grid(3, 2, 4, vals...)
	got, err := Adapt(in, 1, 2, 2, AdaptSpec{Steps: []string{"channels", "square"}})
	if err != nil || got.C != 1 || got.H != 2 || got.W != 2 || !approxEqual(got.Images, []float32{0.299, 0.299, 0.299, 0.299}, 1e-7) {
		t.Fatalf("channels+square: %v %v", err, got)
	}
	got, err = Adapt(in, 3, 4, 8, AdaptSpec{Steps: []string{"resize"}})
	if err != nil || got.H != 4 || got.W != 8 || got.Images[0] != 1 || got.Images[32] != 0 {
		t.Fatalf("resize: %v %v", err, got)
	}
	if got, err := Adapt(in, 3, 2, 4, AdaptSpec{}); err != nil || got != in {
		t.Errorf("matching shape without steps: %v, same set %v", err, got == in)
	}
	for _, tc := range []struct {
		c, h, w int
		steps   []string
		want    string
	}{
		{1, 2, 4, nil, `datasets: adapt: set "g" has 3×2×4 images, the model takes 1×2×4 (add adapt steps, e.g. ["channels", "resize"])`},
		{1, 2, 2, []string{"grey"}, `datasets: adapt: set "g" has 1×2×4 images, the model takes 1×2×2 (after steps [grey])`},
		{1, 2, 2, []string{"gray"}, `datasets: adapt: step 0 is "gray" (want one of grey, rgb, channels, square, center-crop, resize)`},
		{3, 3, 3, []string{"center-crop"}, `datasets: adapt: set "g": step "center-crop" to 3×3 on 3×2×4 images (crop larger than the image; use "resize")`},
		{2, 2, 4, []string{"channels"}, `datasets: adapt: set "g": step "channels" cannot make 2 channels (only 1 or 3)`},
	} {
		if _, err := Adapt(in, tc.c, tc.h, tc.w, AdaptSpec{Steps: tc.steps}); err == nil || err.Error() != tc.want {
			t.Errorf("%v: err = %v, want %q", tc.steps, err, tc.want)
		}
	}
}
