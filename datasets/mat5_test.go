package datasets

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// matW writes level-5 MAT-file elements byte for byte in one byte order.
type matW struct {
	o interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}
}

var (
	matLE = matW{binary.LittleEndian}
	matBE = matW{binary.BigEndian}
)

// header is the 128-byte file header: text padded with spaces, 8 zero bytes
// of subsystem offset, version 0x0100 and the endian indicator.
func (w matW) header() []byte {
	h := []byte("MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024")
	for len(h) < 116 {
		h = append(h, ' ')
	}
	h = append(h, make([]byte, 8)...)
	h = w.o.AppendUint16(h, 0x0100)
	return w.o.AppendUint16(h, 'M'<<8|'I') // written in the file's order: "IM" little-endian, "MI" big-endian
}

// elem is a normal element: tag (type, byte count), data, zero padding to 8 bytes.
func (w matW) elem(typ uint32, data []byte) []byte {
	b := w.o.AppendUint32(nil, typ)
	b = w.o.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return append(b, make([]byte, (8-len(data)%8)%8)...)
}

// small is a small data element (at most 4 bytes): count<<16 | type, then the data.
func (w matW) small(typ uint32, data []byte) []byte {
	b := w.o.AppendUint32(nil, uint32(len(data))<<16|typ)
	return append(b, append(append([]byte(nil), data...), make([]byte, 4-len(data))...)...)
}

// matrix is an miMATRIX element: array flags (class | flag bits), dimensions,
// name (small element when it fits), then the given real-part element.
func (w matW) matrix(class MatClass, flagBits uint32, dims []int32, name string, real []byte) []byte {
	flags := w.o.AppendUint32(nil, uint32(class)|flagBits)
	flags = w.o.AppendUint32(flags, 0)
	var d []byte
	for _, x := range dims {
		d = w.o.AppendUint32(d, uint32(x))
	}
	nm := w.elem(miINT8, []byte(name))
	if len(name) <= 4 {
		nm = w.small(miINT8, []byte(name))
	}
	body := slices.Concat(w.elem(miUINT32, flags), w.elem(miINT32, d), nm, real)
	return w.elem(miMATRIX, body)
}

// compress wraps an element in an miCOMPRESSED element (zlib, no padding).
func (w matW) compress(t testing.TB, elem []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(elem); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b := w.o.AppendUint32(nil, miCOMPRESSED)
	b = w.o.AppendUint32(b, uint32(z.Len()))
	return append(b, z.Bytes()...)
}

func (w matW) f64s(vs ...float64) []byte {
	var b []byte
	for _, v := range vs {
		b = w.o.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// svhnFile is a format-2 SVHN file with two 2×2 RGB images, as MATLAB -v7
// saves it: X uint8 2×2×3×2 with X(i) = 10·i (i the 0-based column-major
// index), and y = [10; 3] as double, each in its own compressed element.
func svhnFile(t testing.TB) []byte {
	w := matLE
	x := make([]byte, 24)
	for i := range x {
		x[i] = byte(10 * i)
	}
	return slices.Concat(w.header(),
		w.compress(t, w.matrix(MatUint8, 0, []int32{2, 2, 3, 2}, "X", w.elem(miUINT8, x))),
		w.compress(t, w.matrix(MatDouble, 0, []int32{2, 1}, "y", w.elem(miDOUBLE, w.f64s(10, 3)))))
}

func TestReadSVHN(t *testing.T) {
	s, err := ReadSVHN(bytes.NewReader(svhnFile(t)), "train_32x32.mat")
	if err != nil {
		t.Fatal(err)
	}
	// Pixel (row, col, ch) of image n is X(row + 2col + 4ch + 12n) = 10·that;
	// row-major planes: (0,0), (0,1), (1,0), (1,1).
	want := []byte{
		0, 20, 10, 30, 40, 60, 50, 70, 80, 100, 90, 110,
		120, 140, 130, 150, 160, 180, 170, 190, 200, 220, 210, 230}
	if s.Len() != 2 || s.C != 3 || s.H != 2 || s.W != 2 || !slices.Equal(s.Labels, []int{0, 3}) || !slices.Equal(s.Index, []int{0, 1}) {
		t.Fatalf("got %d×%d×%d×%d labels %v index %v", s.Len(), s.C, s.H, s.W, s.Labels, s.Index)
	}
	for i, b := range want {
		if s.Images[i] != byteScale[b] {
			t.Fatalf("Images[%d] = %v, want %d/255", i, s.Images[i], b)
		}
	}

	dir := t.TempDir()
	writeFile(t, dir, "test_32x32.mat", svhnFile(t))
	src, err := New("svhn", jsonParams(`{"path": "`+dir+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.Where(); p != dir || ok {
		t.Errorf("Where %q %v with only the test file", p, ok)
	}
	got, err := src.Load(Request{Split: "test"})
	if err != nil || got.Name != "svhn:test" || !slices.Equal(got.Images, s.Images) {
		t.Fatalf("Load test: %v", err)
	}
	_, err = src.Load(Request{Split: "train"})
	if want := "datasets: svhn: train split not found in " + dir + " (want train_32x32.mat)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestReadMat(t *testing.T) {
	for _, w := range []matW{matLE, matBE} {
		// d: double 1×3 stored compactly as miUINT8 (as MATLAB does for small
		// integers); s: single 2×1 as miSINGLE; b: 1×1 logical in a small element;
		// c: a cell array, skipped when not asked for.
		var single []byte
		for _, v := range []float32{0.5, -2} {
			single = w.o.AppendUint32(single, math.Float32bits(v))
		}
		in := slices.Concat(w.header(),
			w.matrix(MatDouble, 0, []int32{1, 3}, "d", w.elem(miUINT8, []byte{7, 0, 255})),
			w.compress(t, w.matrix(MatSingle, 0, []int32{2, 1}, "single_var", w.elem(miSINGLE, single))),
			w.compress(t, w.matrix(MatCell, 0, []int32{1, 1}, "c", nil)),
			w.matrix(MatUint8, 0x0200, []int32{1, 1}, "b", w.small(miUINT8, []byte{1})))
		vars, err := ReadMat(bytes.NewReader(in), "v.mat", "d", "single_var", "b")
		if err != nil {
			t.Fatalf("%v: %v", w.o, err)
		}
		d, s, b := vars["d"], vars["single_var"], vars["b"]
		if len(vars) != 3 || d.Class != MatDouble || !slices.Equal(d.Dims, []int{1, 3}) || !slices.Equal(d.Float64, []float64{7, 0, 255}) ||
			s.Class != MatSingle || !slices.Equal(s.Float32, []float32{0.5, -2}) || s.Len() != 2 ||
			b.Class != MatUint8 || !b.Logical || !slices.Equal(b.Uint8, []byte{1}) {
			t.Fatalf("%v: got %+v %+v %+v", w.o, d, s, b)
		}
		// Without names, every variable is decoded: the cell is unsupported.
		_, err = ReadMat(bytes.NewReader(in), "v.mat")
		if want := `datasets: v.mat: unsupported MAT: variable "c" is a cell array (want double, single or uint8)`; err == nil || err.Error() != want {
			t.Errorf("%v: err = %v, want %q", w.o, err, want)
		}
	}
}

func TestReadMatErrors(t *testing.T) {
	w := matLE
	hdr := w.header()
	y := w.matrix(MatDouble, 0, []int32{1, 1}, "y", w.elem(miDOUBLE, w.f64s(1)))
	withHdr := func(b ...[]byte) []byte { return slices.Concat(append([][]byte{hdr}, b...)...) }
	v73 := slices.Clone(hdr)
	binary.LittleEndian.PutUint16(v73[124:], 0x0200)
	v2 := slices.Clone(hdr)
	binary.LittleEndian.PutUint16(v2[124:], 0x0101)
	badEndian := slices.Clone(hdr)
	copy(badEndian[126:], "XX")
	cy := w.compress(t, y)
	badSum := slices.Clone(cy)
	badSum[len(badSum)-1] ^= 1 // last byte of the Adler-32 checksum
	extra := w.compress(t, y)
	binary.LittleEndian.PutUint32(extra[4:], binary.LittleEndian.Uint32(extra[4:])+3)
	extra = append(extra, 1, 2, 3)
	// An inner matrix claiming 2³¹ bytes in a compressed element of ~30 bytes.
	bigInner := func() []byte {
		tag := binary.LittleEndian.AppendUint32(nil, miMATRIX)
		return w.compress(t, binary.LittleEndian.AppendUint32(tag, 1<<31))
	}()
	for _, tc := range []struct {
		name string
		in   []byte
		kind error
		eof  bool
		msg  string
	}{
		{"empty", nil, ErrFormat, true, "invalid MAT: empty file: unexpected EOF"},
		{"short header", hdr[:100], ErrFormat, true, "invalid MAT: 128-byte header truncated: unexpected EOF"},
		{"bad endian", badEndian, ErrFormat, false, `invalid MAT: endian indicator 58 58 at byte 126 (want "IM" or "MI")`},
		{"level 4", make([]byte, 128), ErrUnsupported, false, "unsupported MAT: not a level-5 MAT-file (level 4 files start with zero bytes)"},
		{"v7.3", v73, ErrUnsupported, false, "unsupported MAT: MAT-file version 7.3 (HDF5); save with -v7, or with scipy.io.savemat"},
		{"version", v2, ErrFormat, false, "invalid MAT: version 0x0101 (want 0x0100)"},
		{"top-level double", withHdr(w.elem(miDOUBLE, w.f64s(1))), ErrFormat, false,
			"invalid MAT: element at byte 128 has miDOUBLE (want miMATRIX or miCOMPRESSED)"},
		{"top-level small", withHdr(w.small(miINT8, []byte{1})), ErrFormat, false,
			"invalid MAT: element at byte 128 is a small data element (want miMATRIX or miCOMPRESSED)"},
		{"short tag", withHdr(y[:5]), ErrFormat, true, "invalid MAT: tag of the element at byte 128 truncated: unexpected EOF"},
		{"short element", withHdr(y[:40]), ErrFormat, true, "invalid MAT: array name of the matrix at byte 128 truncated: unexpected EOF"},
		{"short compressed", withHdr(cy[:len(cy)-6]), ErrFormat, true,
			"invalid MAT: end of the compressed element at byte 128 truncated: unexpected EOF"},
		{"bad zlib", withHdr(w.elem(miCOMPRESSED, []byte("not zlib"))), ErrFormat, false,
			"invalid MAT: corrupt compressed stream in zlib header of the compressed element at byte 128: zlib: invalid header"},
		{"bad checksum", withHdr(badSum), ErrFormat, false,
			"invalid MAT: corrupt compressed stream in end of the compressed element at byte 128: zlib: invalid checksum"},
		{"after zlib", withHdr(extra), ErrFormat, false, "invalid MAT: compressed element at byte 128 has 3 bytes after its zlib stream"},
		{"compressed double", withHdr(w.compress(t, w.elem(miDOUBLE, w.f64s(1)))), ErrFormat, false,
			"invalid MAT: compressed element at byte 128 holds miDOUBLE (want miMATRIX)"},
		{"inner claim", withHdr(bigInner), ErrFormat, false,
			"invalid MAT: compressed element at byte 128 claims a 2147483648-byte matrix, more than 17 compressed bytes can hold"},
		{"flags type", withHdr(w.elem(miMATRIX, w.elem(miINT32, make([]byte, 8)))), ErrFormat, false,
			"invalid MAT: matrix at byte 128: array flags has miINT32 (want miUINT32)"},
		{"rank 1", withHdr(w.elem(miMATRIX, slices.Concat(w.elem(miUINT32, []byte{6, 0, 0, 0, 0, 0, 0, 0}), w.elem(miINT32, []byte{1, 0, 0, 0})))),
			ErrFormat, false, "invalid MAT: matrix at byte 128: dimensions have 4 bytes (want 4 per dimension, 2..8 dimensions)"},
		{"negative dim", withHdr(w.matrix(MatDouble, 0, []int32{1, -1}, "y", nil)), ErrFormat, false,
			"invalid MAT: matrix at byte 128: dimension 1 is -1"},
		{"2^40 values", withHdr(w.matrix(MatUint8, 0, []int32{1 << 20, 1 << 20}, "X", w.elem(miUINT8, []byte{1}))), ErrFormat, false,
			"invalid MAT: matrix at byte 128: dimensions [1048576 1048576]... hold more than 2147483648 values"},
		{"unknown class", withHdr(w.matrix(MatClass(16), 0, []int32{1, 1}, "y", nil)), ErrFormat, false,
			"invalid MAT: matrix at byte 128 has unknown array class 16"},
		{"real size", withHdr(w.matrix(MatDouble, 0, []int32{2, 1}, "y", w.elem(miDOUBLE, w.f64s(1)))), ErrFormat, false,
			`invalid MAT: variable "y": real part has 8 bytes, dimensions [2 1] of miDOUBLE need 16`},
		{"real type", withHdr(w.matrix(MatDouble, 0, []int32{1, 1}, "y", w.elem(miUTF8, []byte("a")))), ErrFormat, false,
			`invalid MAT: variable "y": real part has miUTF8 (want a numeric type)`},
		{"sub overrun", withHdr(w.elem(miMATRIX, slices.Concat(w.elem(miUINT32, []byte{6, 0, 0, 0, 0, 0, 0, 0}),
			binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, miINT32), 64)))), ErrFormat, false,
			"invalid MAT: matrix at byte 128: dimensions claims 64 bytes, 0 are left in the matrix"},
		{"after real", withHdr(w.elem(miMATRIX, append(y[8:], w.elem(miDOUBLE, w.f64s(2))...))), ErrFormat, false,
			`invalid MAT: matrix "y" at byte 128 has 16 bytes after its real part`},
		{"complex", withHdr(w.matrix(MatDouble, 0x0800, []int32{1, 1}, "y", w.elem(miDOUBLE, w.f64s(1)))), ErrUnsupported, false,
			`unsupported MAT: variable "y" is complex (want real)`},
		{"char", withHdr(w.matrix(MatChar, 0, []int32{1, 1}, "y", w.elem(miUTF8, []byte("a")))), ErrUnsupported, false,
			`unsupported MAT: variable "y" is a char array (want double, single or uint8)`},
		{"uint8 as double", withHdr(w.matrix(MatUint8, 0, []int32{1, 1}, "y", w.elem(miDOUBLE, w.f64s(1)))), ErrUnsupported, false,
			`unsupported MAT: uint8 variable "y" stored as miDOUBLE (want miUINT8)`},
		{"missing", withHdr(y), ErrFormat, false, `invalid MAT: no variable "X" (decoded y; want X, y)`},
		{"twice", withHdr(y, cy), ErrFormat, false, `invalid MAT: variable "y" appears twice`},
	} {
		_, err := ReadMat(bytes.NewReader(tc.in), "f.mat", "X", "y")
		if err == nil || !errors.Is(err, tc.kind) || errors.Is(err, io.ErrUnexpectedEOF) != tc.eof || strings.Contains(err.Error(), "\n") ||
			err.Error() != "datasets: f.mat: "+tc.msg {
			t.Errorf("%s: err = %v, want %q (EOF %v)", tc.name, err, tc.msg, tc.eof)
		}
	}

	// SVHN-level checks.
	x := w.compress(t, w.matrix(MatUint8, 0, []int32{1, 1, 3, 2}, "X", w.elem(miUINT8, make([]byte, 6))))
	for _, tc := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"label 11", withHdr(x, w.matrix(MatDouble, 0, []int32{2, 1}, "y", w.elem(miDOUBLE, w.f64s(1, 11)))),
			"invalid MAT: y(2) is 11 (want an integer label 1..10)"},
		{"label 2.5", withHdr(x, w.matrix(MatDouble, 0, []int32{2, 1}, "y", w.elem(miDOUBLE, w.f64s(2.5, 1)))),
			"invalid MAT: y(1) is 2.5 (want an integer label 1..10)"},
		{"y count", withHdr(x, y), "invalid MAT: y has dimensions [1 1] (want 2×1 labels, one per image of X)"},
		{"X double", withHdr(w.matrix(MatDouble, 0, []int32{1, 1}, "X", w.elem(miDOUBLE, w.f64s(1))), y),
			"unsupported MAT: X is a double array (want uint8)"},
		{"X 2 channels", withHdr(w.matrix(MatUint8, 0, []int32{1, 1, 2, 1}, "X", w.elem(miUINT8, []byte{1, 2})), y),
			"invalid MAT: X has dimensions [1 1 2 1] (want H×W×C×N with C = 1 or 3)"},
	} {
		if _, err := ReadSVHN(bytes.NewReader(tc.in), "s.mat"); err == nil || err.Error() != "datasets: s.mat: "+tc.msg {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.msg)
		}
	}
}

// TestMatForgedSizes: headers that claim far more than the file holds must
// fail without allocating for the claim.
func TestMatForgedSizes(t *testing.T) {
	w := matLE
	// A matrix claiming 2³¹ uint8 values (65536×32768) with a real part and an
	// element size to match, followed by 16 bytes of data.
	real := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, miUINT8), 1<<31)
	m := w.matrix(MatUint8, 0, []int32{65536, 32768}, "X", real)
	binary.LittleEndian.PutUint32(m[4:], uint32(len(m)-8+1<<31))
	in := slices.Concat(w.header(), m, make([]byte, 16))
	p := writeFile(t, t.TempDir(), "forged.mat", in)
	for _, tc := range []struct {
		name string
		read func() error
		msg  string
	}{
		{"reader", func() error { _, err := ReadMat(bytes.NewReader(in), "forged.mat"); return err },
			`datasets: forged.mat: invalid MAT: real part of "X" truncated: unexpected EOF`},
		{"file", func() error { _, err := OpenMat(p); return err },
			"datasets: " + p + ": invalid MAT: element at byte 128 claims 2147483696 bytes, the file has 64 after its tag: unexpected EOF"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := tc.read()
		runtime.ReadMemStats(&after)
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.msg)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
			t.Errorf("%s: allocated %d bytes", tc.name, got)
		}
	}
}

func FuzzReadMat(f *testing.F) {
	f.Add(svhnFile(f))
	w := matBE
	f.Add(slices.Concat(w.header(), w.matrix(MatSingle, 0, []int32{1, 2}, "X", w.elem(miUINT8, []byte{1, 2})),
		w.compress(f, w.matrix(MatDouble, 0, []int32{1, 1}, "y", w.small(miUINT8, []byte{10})))))
	f.Add(slices.Concat(matLE.header(), matLE.compress(f, matLE.matrix(MatCell, 0, []int32{1, 1}, "c", nil))))
	f.Add(matLE.header())
	f.Fuzz(func(t *testing.T, in []byte) {
		vars, err := ReadMat(bytes.NewReader(in), "fuzz")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "datasets: fuzz: ") || strings.Contains(msg, "\n") ||
				(!errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported)) {
				t.Fatalf("bad error %q", msg)
			}
		}
		for _, v := range vars {
			if n := v.Len(); len(v.Uint8)+len(v.Float32)+len(v.Float64) != n {
				t.Fatalf("variable %q: %d values for dims %v", v.Name, len(v.Uint8)+len(v.Float32)+len(v.Float64), v.Dims)
			}
		}
		if s, err := ReadSVHN(bytes.NewReader(in), "fuzz"); err == nil {
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
		} else if msg := err.Error(); !strings.HasPrefix(msg, "datasets: fuzz: ") || strings.Contains(msg, "\n") {
			t.Fatalf("bad error %q", msg)
		}
	})
}
