package datasets

import (
	"image"
	"image/png"
	"os"
	"runtime"
	"slices"
	"testing"
)

func TestLetterFaces(t *testing.T) {
	if _, err := letterGlyphs(); err != nil {
		t.Fatal(err)
	}
	names := LetterFaces()
	if len(names) != 37 || names[0] != "Go Regular" || names[36] != "LM Mono Prop Light 10 Bold" {
		t.Fatalf("faces %v", names)
	}
}

func TestLetters(t *testing.T) {
	const n = 60
	a := Letters(n, 1, 28, 28, 1)
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(Letters(n, 1, 28, 28, 1).Images, a.Images) {
		t.Fatal("same seed, different images")
	}
	if slices.Equal(Letters(n, 1, 28, 28, 2).Images, a.Images) {
		t.Fatal("seeds 1 and 2 give the same images")
	}
	for i := range n {
		img := a.Image(i)
		if a.Labels[i] != i%10 || a.Index[i] != i {
			t.Fatalf("image %d: label %d index %d", i, a.Labels[i], a.Index[i])
		}
		// Ink: some fully covered pixels, and between 3 % and 60 % of the area.
		var sum float64
		for _, v := range img {
			sum += float64(v)
		}
		if top := slices.Max(img); top < 0.9 || sum < 0.03*784 || sum > 0.6*784 {
			t.Errorf("image %d (%c): max %v, ink %.1f of 784", i, 'A'+i%10, top, sum)
		}
		// The glyph stays inside: the outer ring of pixels is black.
		for k := range 28 {
			if img[k] != 0 || img[27*28+k] != 0 || img[k*28] != 0 || img[k*28+27] != 0 {
				t.Fatalf("image %d touches the border", i)
			}
		}
	}
	// Three channels repeat the grey image; workers do not change the bytes.
	c3 := Letters(n, 3, 28, 28, 1)
	if !slices.Equal(c3.Image(5)[784:1568], a.Image(5)) || !slices.Equal(c3.Image(5)[1568:], a.Image(5)) {
		t.Error("RGB letters differ from the grey ones")
	}
	prev := runtime.GOMAXPROCS(1)
	one := Letters(130, 1, 12, 12, 9)
	runtime.GOMAXPROCS(2)
	two := Letters(130, 1, 12, 12, 9)
	runtime.GOMAXPROCS(prev)
	if !slices.Equal(one.Images, two.Images) {
		t.Error("1 and 2 workers give different images")
	}
}

func TestLettersSource(t *testing.T) {
	src, err := New("letters", jsonParams(`{"count": 20, "seed": 4}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.Load(Request{C: 3, H: 32, W: 32, Seed: 99})
	if err != nil || s.C != 3 || s.H != 32 || !slices.Equal(s.Images, Letters(20, 3, 32, 32, 4).Images) {
		t.Fatalf("load: %v", err)
	}
	src, _ = New("letters", jsonParams(`{"count": 3, "size": 20}`))
	if s, err = src.Load(Request{C: 1, H: 28, W: 28, Seed: 5}); err != nil || s.H != 20 || !slices.Equal(s.Images, Letters(3, 1, 20, 20, 5).Images) {
		t.Fatalf("size param: %v", err)
	}
	if s, err = src.Load(Request{}); err != nil || s.H != 20 || s.C != 1 {
		t.Fatalf("no request shape: %v %v", err, s.H)
	}
	for _, tc := range []struct{ params, want string }{
		{`{"count": -1}`, "datasets: letters: count = -1 (want > 0)"},
		{`{"size": -2}`, "datasets: letters: size = -2 (want > 0, or 0 for the model's input size)"},
		{`{"seed": -2}`, "datasets: letters: seed = -2 (want ≥ 0)"},
	} {
		if _, err := New("letters", jsonParams(tc.params)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.params, err, tc.want)
		}
	}
}

func TestContactSheet(t *testing.T) {
	s := &Set{C: 1, H: 2, W: 2, Images: []float32{0, 0.2, 0.4, 1, 1, 1, 1, 1, 0.5, 0, 0, 0},
		Labels: []int{0, 0, 0}, Index: []int{0, 1, 2}}
	m := ContactSheet(s, 2).(*image.Gray)
	// 2 columns, 2 rows of 2×2 images with 2-pixel borders: 10×10.
	if b := m.Bounds(); b.Dx() != 10 || b.Dy() != 10 {
		t.Fatalf("bounds %v", b)
	}
	for _, tc := range []struct{ x, y, want int }{
		{0, 0, 128}, {2, 2, 0}, {3, 2, 51}, {2, 3, 102}, {3, 3, 255}, {6, 2, 255}, {2, 6, 128}, {8, 8, 128},
	} {
		if got := int(m.GrayAt(tc.x, tc.y).Y); got != tc.want {
			t.Errorf("pixel (%d,%d) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
	rgb := ContactSheet(ToRGB(s), 3).(*image.RGBA)
	if c := rgb.RGBAAt(3, 2); c.R != 51 || c.G != 51 || c.B != 51 {
		t.Errorf("RGB sheet pixel %v", c)
	}
}

// TestWriteLettersSheet writes a contact sheet of 100 letters to the PNG file
// named by $PURVIEW_LETTERS_PNG (skipped when it is unset).
func TestWriteLettersSheet(t *testing.T) {
	path := os.Getenv("PURVIEW_LETTERS_PNG")
	if path == "" {
		t.Skip("set PURVIEW_LETTERS_PNG to write the sheet")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, ContactSheet(Letters(100, 1, 28, 28, 1), 10)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
