package datasets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func encodePNG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rgbPNG is a 2×2 PNG with pixels red, green / blue, (51, 102, 153).
func rgbPNG(t testing.TB) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	m.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	m.Set(1, 0, color.NRGBA{0, 255, 0, 255})
	m.Set(0, 1, color.NRGBA{0, 0, 255, 255})
	m.Set(1, 1, color.NRGBA{51, 102, 153, 255})
	return encodePNG(t, m)
}

// greyPNG is a w×h 8-bit grey PNG whose pixel i (row-major) is vals[i].
func greyPNG(t testing.TB, w, h int, vals ...uint8) []byte {
	m := image.NewGray(image.Rect(0, 0, w, h))
	copy(m.Pix, vals)
	return encodePNG(t, m)
}

// pngHeader is a PNG signature and an IHDR chunk (8-bit RGB) claiming w×h pixels.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	b := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(ihdr)))...)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

func TestReadImage(t *testing.T) {
	alpha := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	alpha.Set(0, 0, color.NRGBA{200, 100, 50, 128})
	pal := image.NewPaletted(image.Rect(0, 0, 3, 1), color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}})
	pal.Pix = []uint8{2, 0, 1}
	var g bytes.Buffer
	if err := gif.Encode(&g, pal, nil); err != nil {
		t.Fatal(err)
	}
	grey16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	grey16.SetGray16(0, 0, color.Gray16{0x33ff})
	for _, tc := range []struct {
		name    string
		in      []byte
		c       int
		h, w    int
		want    []uint8 // bytes; the pixels are want/255
		wantC   int
		approx  bool
		wantErr string
	}{
		{name: "RGB PNG", in: rgbPNG(t), h: 2, w: 2, wantC: 3, want: []uint8{255, 0, 0, 51, 0, 255, 0, 102, 0, 0, 255, 153}},
		// Luma 0.299·255, 0.587·255, 0.114·255, 0.299·51+0.587·102+0.114·153 over 255.
		{name: "RGB PNG as grey", in: rgbPNG(t), c: 1, h: 2, w: 2, wantC: 1},
		{name: "grey PNG", in: greyPNG(t, 2, 1, 0, 204), h: 1, w: 2, wantC: 1, want: []uint8{0, 204}},
		{name: "grey PNG as RGB", in: greyPNG(t, 2, 1, 0, 204), c: 3, h: 1, w: 2, wantC: 3, want: []uint8{0, 204, 0, 204, 0, 204}},
		// Alpha is dropped, not composited (PIL's convert("RGB")).
		{name: "alpha", in: encodePNG(t, alpha), h: 1, w: 1, wantC: 3, want: []uint8{200, 100, 50}},
		// 16-bit samples keep their high byte.
		{name: "16-bit", in: encodePNG(t, grey16), h: 1, w: 1, wantC: 1, want: []uint8{0x33}},
		{name: "GIF", in: g.Bytes(), h: 1, w: 3, wantC: 3, want: []uint8{255, 0, 255, 0, 0, 255, 0, 0, 255}},
		{name: "empty", in: nil, wantErr: "datasets: x: invalid image: empty file: unexpected EOF"},
		{name: "text", in: []byte("hello, world"), wantErr: "datasets: x: invalid image: not a PNG, JPEG or GIF file (starts with 68 65 6c 6c 6f 2c 20 77)"},
		{name: "truncated PNG", in: rgbPNG(t)[:60], wantErr: "datasets: x: invalid image: PNG data truncated: unexpected EOF"},
		{name: "huge PNG", in: pngHeader(1<<20, 1<<20),
			wantErr: "datasets: x: unsupported image: PNG of 1048576×1048576 pixels (want at most 67108864 pixels)"},
		{name: "forged PNG", in: pngHeader(8000, 8000),
			wantErr: "datasets: x: invalid image: PNG header claims 8000×8000 pixels, more than 33 bytes can hold: unexpected EOF"},
		{name: "bad CRC", in: append(pngHeader(2, 2)[:29], 0, 0, 0, 0),
			wantErr: "datasets: x: invalid image: PNG header: png: invalid format: invalid checksum"},
	} {
		s, err := ReadImage(bytes.NewReader(tc.in), "x", tc.c)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if s.Len() != 1 || s.C != tc.wantC || s.H != tc.h || s.W != tc.w || s.Labels[0] != -1 || s.Check() != nil {
			t.Errorf("%s: %d×%d×%d×%d", tc.name, s.Len(), s.C, s.H, s.W)
			continue
		}
		want := make([]float32, len(tc.want))
		for i, b := range tc.want {
			want[i] = byteScale[b]
		}
		if tc.want == nil { // the grey conversion of rgbPNG
			want = []float32{0.299, 0.587, 0.114, float32((0.299*51 + 0.587*102 + 0.114*153) / 255)}
		}
		if !approxEqual(s.Images, want, 1e-7) {
			t.Errorf("%s: %v, want %v", tc.name, s.Images, want)
		}
	}

	// JPEG is lossy: a flat 16×16 (200, 40, 90) image at quality 100 decodes
	// within 2 grey levels per channel.
	m := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(m.Pix); i += 4 {
		copy(m.Pix[i:], []uint8{200, 40, 90, 255})
	}
	var j bytes.Buffer
	if err := jpeg.Encode(&j, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	s, err := ReadImage(bytes.NewReader(j.Bytes()), "x.jpg", 0)
	if err != nil || s.C != 3 || s.H != 16 {
		t.Fatalf("JPEG: %v", err)
	}
	for ch, v := range []float64{200, 40, 90} {
		for _, got := range s.Images[ch*256 : (ch+1)*256] {
			if math.Abs(float64(got)*255-v) > 2 {
				t.Fatalf("JPEG channel %d: %v·255, want %v ± 2", ch, got*255, v)
			}
		}
	}
}

// TestImageForgedHeader: a 33-byte PNG claiming 8000×8000 pixels (within
// MaxImagePixels) must fail before the decoder allocates 256 MB.
func TestImageForgedHeader(t *testing.T) {
	in := pngHeader(8000, 8000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadImage(bytes.NewReader(in), "x", 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("allocated %d bytes", got)
	}
}

// writeTree writes files (path → content) under a new temporary folder.
func writeTree(t testing.TB, files map[string][]byte) string {
	dir := t.TempDir()
	for p, b := range files {
		writeNPY(t, dir, p, b)
	}
	return dir
}

func TestLoadFolder(t *testing.T) {
	dir := writeTree(t, map[string][]byte{
		"dog/z.png":       greyPNG(t, 2, 2, 40, 41, 42, 43),
		"cat/b.png":       greyPNG(t, 2, 2, 20, 21, 22, 23),
		"cat/a.png":       greyPNG(t, 2, 2, 10, 11, 12, 13),
		"cat/sub/c.png":   greyPNG(t, 2, 2, 30, 31, 32, 33),
		"cat/notes.txt":   []byte("ignored"),
		"cat/.hidden.png": []byte("ignored"),
		".git/x.png":      []byte("ignored"),
	})
	src, err := New("folder", jsonParams(`{"path": "`+dir+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.Where(); p != dir || !ok {
		t.Errorf("Where %q %v", p, ok)
	}
	s, err := src.Load(Request{})
	if err != nil {
		t.Fatal(err)
	}
	// ImageFolder order: cat/a, cat/b, cat/sub/c, dog/z; classes cat = 0, dog = 1.
	// No image has colour, so C = 1.
	var want []float32
	for _, base := range []int{10, 20, 30, 40} {
		for k := range 4 {
			want = append(want, byteScale[base+k])
		}
	}
	if s.Name != "folder" || s.C != 1 || s.H != 2 || s.W != 2 || !slices.Equal(s.Images, want) ||
		!slices.Equal(s.Labels, []int{0, 0, 0, 1}) || !slices.Equal(s.Index, []int{0, 1, 2, 3}) {
		t.Fatalf("got %q %d×%d×%d %v labels %v", s.Name, s.C, s.H, s.W, s.Images, s.Labels)
	}

	// A colour image makes the set RGB; grey images are replicated.
	writeFile(t, filepath.Join(dir, "dog"), "y.png", rgbPNG(t))
	s, err = LoadFolder(dir, FolderOptions{})
	if err != nil || s.C != 3 || s.Len() != 5 || !slices.Equal(s.Image(0)[4:8], want[:4]) || s.Image(3)[0] != 1 {
		t.Fatalf("colour: %v %+v", err, s)
	}
	// Forced grey: luma of the colour image, the grey ones as they are.
	s, err = LoadFolder(dir, FolderOptions{Channels: 1})
	if err != nil || s.C != 1 || !slices.Equal(s.Image(0), want[:4]) || math.Abs(float64(s.Image(3)[0])-0.299) > 1e-7 {
		t.Fatalf("grey: %v %+v", err, s)
	}
	// Resizing: 2×2 → 1×1 averages the four pixels, (10+11+12+13)/4 = 11.5.
	s, err = LoadFolder(dir, FolderOptions{Height: 1, Width: 1, Channels: 1})
	if err != nil || s.H != 1 || math.Abs(float64(s.Images[0])-11.5/255) > 1e-7 {
		t.Fatalf("resize: %v %+v", err, s)
	}

	// A flat folder: labels -1.
	flat := writeTree(t, map[string][]byte{"b.gif": nil, "a.png": greyPNG(t, 1, 1, 255), "readme": []byte("x")})
	os.Remove(filepath.Join(flat, "b.gif"))
	s, err = LoadFolder(flat, FolderOptions{Channels: 3})
	if err != nil || s.Len() != 1 || s.C != 3 || s.Labels[0] != -1 || !slices.Equal(s.Images, []float32{1, 1, 1}) {
		t.Fatalf("flat: %v %+v", err, s)
	}
}

func TestLoadFolderErrors(t *testing.T) {
	sizes := writeTree(t, map[string][]byte{"a.png": greyPNG(t, 2, 2, 1, 2, 3, 4), "b.png": greyPNG(t, 1, 2, 1, 2)})
	mixed := writeTree(t, map[string][]byte{"a.png": greyPNG(t, 1, 1, 1), "cls/b.png": greyPNG(t, 1, 1, 1)})
	bmp := writeTree(t, map[string][]byte{"cls/a.bmp": []byte("BM")})
	bad := writeTree(t, map[string][]byte{"cls/a.png": greyPNG(t, 1, 1, 1), "cls/b.png": rgbPNG(t)[:50]})
	empty := writeTree(t, map[string][]byte{"x.txt": nil})
	for _, tc := range []struct {
		name string
		dir  string
		opt  FolderOptions
		want string
	}{
		{"sizes", sizes, FolderOptions{}, "datasets: folder: " + filepath.Join(sizes, "b.png") + " is 2×1 but " + filepath.Join(sizes, "a.png") +
			" is 2×2 (all images must have one size; set height and width to fit them)"},
		{"crop too big", sizes, FolderOptions{Height: 2, Width: 2, Fit: "center-crop"}, "datasets: folder: " + filepath.Join(sizes, "b.png") +
			` is 2×1, smaller than the 2×2 crop (use fit = "resize")`},
		{"mixed", mixed, FolderOptions{}, "datasets: folder: " + mixed + " has both images (a.png) and class folders (cls); put every image in a class folder"},
		{"bmp", bmp, FolderOptions{}, "datasets: " + filepath.Join(bmp, "cls", "a.bmp") + ": unsupported image: .bmp files are not decoded (want PNG, JPEG or GIF)"},
		{"corrupt", bad, FolderOptions{}, "datasets: " + filepath.Join(bad, "cls", "b.png") + ": invalid image: PNG data: png: invalid format: not enough pixel data"},
		{"empty", empty, FolderOptions{}, "datasets: folder: no PNG, JPEG or GIF images in " + empty},
		{"channels", empty, FolderOptions{Channels: 2}, "datasets: folder: channels = 2 (want 1, 3, or 0 for automatic)"},
		{"height only", empty, FolderOptions{Height: 2}, "datasets: folder: height = 2, width = 0 (want both positive, or both 0 to keep the images' size)"},
		{"fit", empty, FolderOptions{Height: 2, Width: 2, Fit: "stretch"}, `datasets: folder: fit = "stretch" (want one of resize, center-crop, square-resize)`},
	} {
		if _, err := LoadFolder(tc.dir, tc.opt); err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v\nwant %q", tc.name, err, tc.want)
		}
	}
	if _, err := New("folder", jsonParams(`{"channels": 3}`)); err == nil || err.Error() != "datasets: folder: param path is required" {
		t.Errorf("err = %v", err)
	}
	// square-resize: a 2×1 image → centred 1×1 square → 2×2.
	s, err := LoadFolder(sizes, FolderOptions{Height: 2, Width: 2, Fit: "square-resize"})
	if err != nil || s.Len() != 2 || s.H != 2 {
		t.Fatalf("square-resize: %v", err)
	}
}

func FuzzReadImage(f *testing.F) {
	f.Add(rgbPNG(f))
	f.Add(greyPNG(f, 3, 2, 1, 2, 3, 4, 5, 6))
	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White})
	var g bytes.Buffer
	gif.Encode(&g, pal, nil)
	f.Add(g.Bytes())
	var j bytes.Buffer
	jpeg.Encode(&j, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	f.Add(j.Bytes())
	f.Add(pngHeader(8000, 8000))
	f.Add(rgbPNG(f)[:40])
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ReadImage(bytes.NewReader(in), "fuzz", 0)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "datasets: fuzz: ") || strings.Contains(msg, "\n") ||
				(!errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported)) {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		if err := s.Check(); err != nil || s.H*s.W > maxPixelsPerByte*len(in) {
			t.Fatalf("%d×%d from %d bytes: %v", s.H, s.W, len(in), err)
		}
	})
}
