package datasets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
)

// npyFile builds a version-1.0 .npy file byte for byte, as numpy.save writes
// it: magic, version, little-endian uint16 header length, the dict padded with
// spaces so that magic + length + header is a multiple of 64, a newline, data.
func npyFile(dict string, data []byte) []byte {
	h := dict
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	return append(append(b, h...), data...)
}

// npyFileV2 is npyFile with format version 2.0 (uint32 header length).
func npyFileV2(dict string, data []byte) []byte {
	h := dict + "\n"
	b := binary.LittleEndian.AppendUint32([]byte("\x93NUMPY\x02\x00"), uint32(len(h)))
	return append(append(b, h...), data...)
}

func f32le(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestReadNPYHeader(t *testing.T) {
	// The exact header numpy 1.26 writes for a CIFAR-10-C corruption file.
	in := npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (50000, 32, 32, 3), }", nil)
	if len(in) != 128 {
		t.Fatalf("header is %d bytes, numpy writes 128", len(in))
	}
	h, err := ReadNPYHeader(bytes.NewReader(in), "fog.npy")
	if err != nil {
		t.Fatal(err)
	}
	if h.Major != 1 || h.Descr != "|u1" || h.Fortran || !slices.Equal(h.Shape, []int{50000, 32, 32, 3}) || h.DataOffset != 128 || h.Len() != 153600000 {
		t.Fatalf("header %+v", h)
	}
	for _, tc := range []struct {
		in    []byte
		shape []int
		descr string
	}{
		{npyFile(`{"shape": (), "fortran_order": True, "descr": "<f8"}`, nil), []int{}, "<f8"},
		{npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (7,), }", nil), []int{7}, "<i8"},
		{npyFile("{'descr':'<i8','fortran_order':False,'shape':(10L, 3L)}", nil), []int{10, 3}, "<i8"}, // Python 2 longs
		{npyFileV2("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 0,), }", nil), []int{2, 0}, ">f4"},
	} {
		h, err := ReadNPYHeader(bytes.NewReader(tc.in), "x.npy")
		if err != nil || !slices.Equal(h.Shape, tc.shape) || h.Descr != tc.descr {
			t.Errorf("%q: %+v, %v", tc.in, h, err)
		}
	}
}

func TestReadNPYImages(t *testing.T) {
	// One 2×2 RGB image in (N, H, W, C) order: pixels (r, g, b) =
	// (0, 51, 102), (153, 204, 255), (255, 0, 0), (0, 0, 255).
	nhwc := npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2, 3), }",
		[]byte{0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255})
	// Expected NCHW planes, values b/255: R 0, 153, 255, 0; G 51, 204, 0, 0; B 102, 255, 0, 255.
	wantRGB := []float32{0, 0.6, 1, 0, 0.2, 0.8, 0, 0, 0.4, 1, 0, 1}
	grey := npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 3), }", []byte{0, 51, 255, 102, 153, 204})
	f4 := npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", f32le(0.25, 0.5, 0, 1))
	be := npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2, 2), }",
		[]byte{0x3e, 0x80, 0, 0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x3f, 0x80, 0, 0}) // 0.25, 0.5, 0, 1 big-endian
	f8 := npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 2), }",
		binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.125)), math.Float64bits(1)))
	for _, tc := range []struct {
		name       string
		in         []byte
		layout     NPYLayout
		n, c, h, w int
		want       []float32
	}{
		{"uint8 NHWC", nhwc, NHWC, 1, 3, 2, 2, wantRGB},
		{"uint8 grey", grey, NHWC, 2, 1, 1, 3, []float32{0, 0.2, 1, 0.4, 0.6, 0.8}},
		{"float32 NCHW", f4, NCHW, 1, 1, 2, 2, []float32{0.25, 0.5, 0, 1}},
		{"float32 NHWC C=1", f4, NHWC, 1, 1, 1, 2, nil}, // (1, 1, 2, 2) read as N H W C: C = 2 → error below
		{"float32 big-endian", be, NHWC, 1, 1, 2, 2, []float32{0.25, 0.5, 0, 1}},
		{"float64", f8, NHWC, 1, 1, 1, 1, nil},
		{"float64 NCHW", f8, NCHW, 1, 1, 1, 2, []float32{0.125, 1}},
	} {
		s, err := ReadNPYImages(bytes.NewReader(tc.in), "x.npy", tc.layout)
		if tc.want == nil {
			if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "channels") {
				t.Errorf("%s: err = %v, want an unsupported channel count", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if s.Len() != tc.n || s.C != tc.c || s.H != tc.h || s.W != tc.w || !slices.Equal(s.Images, tc.want) || s.Check() != nil {
			t.Errorf("%s: %d×%d×%d×%d %v, want %d×%d×%d×%d %v", tc.name, s.Len(), s.C, s.H, s.W, s.Images, tc.n, tc.c, tc.h, tc.w, tc.want)
		}
		if s.Labels[0] != -1 || s.Index[s.Len()-1] != s.Len()-1 {
			t.Errorf("%s: labels %v index %v", tc.name, s.Labels, s.Index)
		}
	}
}

func TestNPYErrors(t *testing.T) {
	hdr := func(d string) []byte { return npyFile(d, nil) }
	u1 := func(shape string, data []byte) []byte {
		return npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': "+shape+", }", data)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		kind error
		msg  string
	}{
		{"empty", nil, ErrFormat, "invalid NPY: empty file: unexpected EOF"},
		{"short magic", []byte("\x93NUM"), ErrFormat, "invalid NPY: magic truncated: unexpected EOF"},
		{"wrong magic", []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00"), ErrFormat, `invalid NPY: magic 50 4b 03 04 14 00 (want 93 4e 55 4d 50 59, "\x93NUMPY")`},
		{"version 4", []byte("\x93NUMPY\x04\x00\x10\x00"), ErrUnsupported, "unsupported NPY: format version 4.0 (want 1.0, 2.0 or 3.0)"},
		{"huge header", []byte("\x93NUMPY\x02\x00\x00\x00\x00\x40"), ErrFormat, "invalid NPY: header length 1073741824 (want at most 65536)"},
		{"short header", []byte("\x93NUMPY\x01\x00\x40\x00{'descr'"), ErrFormat, "invalid NPY: 64-byte header truncated: unexpected EOF"},
		{"no newline", []byte("\x93NUMPY\x01\x00\x04\x00{}  "), ErrFormat, "invalid NPY: header does not end with a newline"},
		{"not a dict", hdr("[1, 2]"), ErrFormat, "invalid NPY: header is not a dict at byte 0"},
		{"missing shape", hdr("{'descr': '|u1', 'fortran_order': False}"), ErrFormat, "invalid NPY: header lacks key 'shape'"},
		{"extra key", hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), 'x': 1}"), ErrFormat,
			`invalid NPY: header has key "x" (want only 'descr', 'fortran_order', 'shape')`},
		{"repeated key", hdr("{'descr': '|u1', 'descr': '|u1'}"), ErrFormat, `invalid NPY: header repeats key "descr"`},
		{"int shape", hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (5)}"), ErrFormat,
			"invalid NPY: header has a parenthesized integer, not a tuple, as 'shape' at byte"},
		{"negative dim", hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (-5,)}"), ErrFormat,
			"invalid NPY: header has a bad 'shape' entry at byte"},
		{"after dict", hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (1,)} x"), ErrFormat,
			"invalid NPY: header has bytes after the dict at byte"},
		{"2^40 values", u1("(1048576, 1048576)", nil), ErrFormat, "invalid NPY: shape [1048576 1048576] holds more than 68719476736 values"},
		{"string dtype", hdr("{'descr': '<U10', 'fortran_order': False, 'shape': (1, 1, 1)}"), ErrUnsupported,
			`unsupported NPY: dtype "<U10" (want a little- or big-endian integer or float, e.g. '|u1', '<f4', '<i8')`},
		{"structured", hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 1, 1)}"), ErrUnsupported,
			"unsupported NPY: structured dtype (want a plain integer or float dtype)"},
		{"fortran", hdr("{'descr': '|u1', 'fortran_order': True, 'shape': (1, 1, 1)}"), ErrUnsupported,
			"unsupported NPY: fortran_order True (want C order: save np.ascontiguousarray(x))"},
		{"int images", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 1)}"), ErrUnsupported,
			`unsupported NPY: image dtype "<i4" (want uint8 '|u1', float32 '<f4' or float64 '<f8')`},
		{"2-D images", u1("(2, 3)", seq(6)), ErrFormat, "invalid NPY: image shape [2 3] (want (N, H, W) or (N, H, W, C))"},
		{"4 channels", u1("(1, 1, 1, 4)", seq(4)), ErrUnsupported, "unsupported NPY: 4 channels in shape [1 1 1 4] (want 1 or 3)"},
		{"no images", u1("(0, 2, 2)", nil), ErrFormat, "invalid NPY: image shape [0 2 2] has a zero size"},
		{"truncated data", u1("(3, 2, 2)", seq(10)), ErrFormat, "invalid NPY: data truncated in image 2 of 3 (shape [3 2 2]): unexpected EOF"},
		{"trailing data", u1("(1, 2, 2)", seq(5)), ErrFormat, "invalid NPY: trailing bytes after the data of shape [1 2 2], dtype \"|u1\""},
		{"value > 1", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 1), }", f32le(0.5, 1.5)), ErrFormat,
			"invalid NPY: image 1: value 1.5 outside [0,1] (float images must be scaled to [0,1])"},
		{"NaN", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), }", f32le(float32(math.NaN()))), ErrFormat,
			"invalid NPY: image 0: value NaN outside [0,1] (float images must be scaled to [0,1])"},
	} {
		_, err := ReadNPYImages(bytes.NewReader(tc.in), "x.npy", NHWC)
		if err == nil || !strings.HasPrefix(err.Error(), "datasets: x.npy: "+tc.msg) || !errors.Is(err, tc.kind) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.msg)
		}
	}
}

func TestNPYLabels(t *testing.T) {
	// Written by npyio, an independent implementation of the format.
	var buf bytes.Buffer
	if err := npy.Write(&buf, []int64{3, 0, -1, 9}); err != nil {
		t.Fatal(err)
	}
	l, err := ReadNPYLabels(bytes.NewReader(buf.Bytes()), "l.npy")
	if err != nil || !slices.Equal(l, []int{3, 0, -1, 9}) {
		t.Fatalf("int64 labels %v, %v", l, err)
	}
	buf.Reset()
	if err := npy.Write(&buf, []uint8{7, 255}); err != nil {
		t.Fatal(err)
	}
	if l, err := ReadNPYLabels(bytes.NewReader(buf.Bytes()), "l.npy"); err != nil || !slices.Equal(l, []int{7, 255}) {
		t.Fatalf("uint8 labels %v, %v", l, err)
	}
	i4be := npyFile("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", []byte{0, 0, 1, 0, 0, 0, 0, 2})
	if l, err := ReadNPYLabels(bytes.NewReader(i4be), "l.npy"); err != nil || !slices.Equal(l, []int{256, 2}) {
		t.Fatalf(">i4 labels %v, %v", l, err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"-2", npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
			binary.LittleEndian.AppendUint64(make([]byte, 8), math.MaxUint64-1)),
			"invalid NPY: label 1 is -2 (want -1..2147483647)"},
		{"2^63", npyFile("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
			binary.LittleEndian.AppendUint64(nil, 1<<63)), "invalid NPY: label 0 is 9223372036854775808 (want -1..2147483647)"},
		{"2-D", npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }", make([]byte, 8)),
			"invalid NPY: label shape [1 1] (want (N,))"},
		{"float", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)),
			`unsupported NPY: label dtype "<f4" (want an integer type such as '<i8', '<i4' or '|u1')`},
		{"truncated", npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", make([]byte, 20)),
			"invalid NPY: data truncated at label 2 of 3: unexpected EOF"},
	} {
		_, err := ReadNPYLabels(bytes.NewReader(tc.in), "l.npy")
		if err == nil || err.Error() != "datasets: l.npy: "+tc.msg {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.msg)
		}
	}
}

func TestOpenNPYRows(t *testing.T) {
	dir := t.TempDir()
	// Five 1×2 grey images; image i holds pixels (50i, 50i+1).
	var px []byte
	for i := range 5 {
		px = append(px, byte(50*i), byte(50*i+1))
	}
	img := writeFile(t, dir, "img.npy", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (5, 1, 2), }", px))
	var lb bytes.Buffer
	if err := npy.Write(&lb, []int32{4, 3, 2, 1, 0}); err != nil {
		t.Fatal(err)
	}
	lab := writeFile(t, dir, "lab.npy", lb.Bytes())
	s, err := OpenNPYImageRows(img, NHWC, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Images, []float32{byteScale[100], byteScale[101], byteScale[150], byteScale[151]}) || !slices.Equal(s.Index, []int{2, 3}) {
		t.Fatalf("rows 2..3: %v index %v", s.Images, s.Index)
	}
	if l, err := OpenNPYLabelRows(lab, 3, -1); err != nil || !slices.Equal(l, []int{1, 0}) {
		t.Fatalf("labels from 3: %v %v", l, err)
	}
	if _, err := OpenNPYImageRows(img, NHWC, 4, 2); err == nil || err.Error() != "datasets: "+img+": images [4, 6) requested of 5" {
		t.Errorf("err = %v", err)
	}

	src, err := New("npy", jsonParams(`{"images": "`+img+`", "labels": "`+lab+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	all, err := src.Load(Request{})
	if err != nil || all.Len() != 5 || !slices.Equal(all.Labels, []int{4, 3, 2, 1, 0}) || all.Name != "npy" || all.Image(4)[1] != byteScale[201] {
		t.Fatalf("npy source: %v %+v", err, all)
	}
	if p, ok := src.Where(); p != img || !ok {
		t.Errorf("Where %q %v", p, ok)
	}

	// The file size is checked against the header before any data are read.
	short := writeFile(t, dir, "short.npy", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (5, 1, 2), }", px[:9]))
	_, err = OpenNPYImages(short, NHWC)
	if want := "datasets: " + short + `: invalid NPY: data truncated: file has 137 bytes, header (shape [5 1 2], dtype "|u1") implies 138: unexpected EOF`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	long := writeFile(t, dir, "long.npy", append(npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (5, 1, 2), }", px), 0))
	_, err = OpenNPYImages(long, NHWC)
	if want := "datasets: " + long + `: invalid NPY: 1 trailing bytes after the data of shape [5 1 2], dtype "|u1"`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	lab3 := writeFile(t, dir, "lab3.npy", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", []byte{1, 2, 3}))
	if _, err := LoadNPY(img, lab3, NHWC); err == nil || err.Error() != "datasets: 5 images in "+img+" but 3 labels in "+lab3 {
		t.Errorf("err = %v", err)
	}
	for _, tc := range []struct{ params, want string }{
		{`{"labels": "x"}`, "datasets: npy: param images is required"},
		{`{"images": "x", "layout": "hwc"}`, `datasets: npy: layout = "hwc" (want "nhwc" or "nchw")`},
	} {
		if _, err := New("npy", jsonParams(tc.params)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.params, err, tc.want)
		}
	}
	os.Remove(lab)
	if _, ok := src.Where(); ok {
		t.Error("Where found a missing labels file")
	}
}

// TestNPYForgedHeader: a 138-byte file whose header claims 2³⁰ images of
// 8×8 (2³⁶ values, the limit) must fail without allocating for them, read as
// a stream or as a file.
func TestNPYForgedHeader(t *testing.T) {
	in := npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1073741824, 8, 8), }", make([]byte, 10))
	p := writeFile(t, t.TempDir(), "forged.npy", in)
	for _, tc := range []struct {
		name string
		read func() error
	}{
		{"reader", func() error { _, err := ReadNPYImages(bytes.NewReader(in), "forged.npy", NHWC); return err }},
		{"file", func() error { _, err := OpenNPYImages(p, NHWC); return err }},
		{"rows", func() error { _, err := OpenNPYImageRows(p, NHWC, 1<<29, 1<<29); return err }},
		{"labels", func() error {
			_, err := ReadNPYLabels(bytes.NewReader(npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (1099511627776,), }", nil)), "l")
			return err
		}},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := tc.read()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(fmtErr(err), "holds more than") {
			t.Errorf("%s: err = %v, want a truncation", tc.name, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
			t.Errorf("%s: allocated %d bytes for a forged header", tc.name, got)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func FuzzReadNPY(f *testing.F) {
	f.Add(npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2, 3), }", seq(12)))
	f.Add(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2), }", f32le(0.5, 1)))
	f.Add(npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", make([]byte, 16)))
	f.Add(npyFileV2("{'descr': '>f8', 'fortran_order': False, 'shape': (1, 1, 1), }", make([]byte, 8)))
	f.Add(npyFile("{'descr': '|u1', 'fortran_order': True, 'shape': (1, 1, 1), }", []byte{1}))
	f.Add(npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1073741824, 8, 8), }", seq(10)))
	f.Fuzz(func(t *testing.T, in []byte) {
		oneLine := func(err error) {
			if msg := err.Error(); !strings.HasPrefix(msg, "datasets: fuzz: ") || strings.Contains(msg, "\n") ||
				(!errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported)) {
				t.Fatalf("bad error %q", msg)
			}
		}
		h, herr := ReadNPYHeader(bytes.NewReader(in), "fuzz")
		s, err := ReadNPYImages(bytes.NewReader(in), "fuzz", NHWC)
		if err != nil {
			oneLine(err)
		} else {
			if herr != nil || s.Check() != nil {
				t.Fatalf("accepted %d bytes as %+v (%v, %v)", len(in), h, herr, s.Check())
			}
			if size := int64(h.Descr[2] - '0'); int64(len(in)) != h.DataOffset+int64(h.Len())*size {
				t.Fatalf("accepted %d bytes for header %+v", len(in), h)
			}
			if s.Len()*s.Dim() != h.Len() {
				t.Fatalf("%d images of %d values from shape %v", s.Len(), s.Dim(), h.Shape)
			}
		}
		if l, err := ReadNPYLabels(bytes.NewReader(in), "fuzz"); err != nil {
			oneLine(err)
		} else if herr != nil || len(h.Shape) != 1 || len(l) != h.Shape[0] {
			t.Fatalf("labels %v from header %+v", l, h)
		}
	})
}

// writeNPY writes an .npy file into dir/name (creating folders) and returns its path.
func writeNPY(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, b)
}
