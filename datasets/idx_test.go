package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encodeIDX writes an IDX file byte for byte: 00 00 typ rank, the dims as
// big-endian uint32, then data.
func encodeIDX(typ byte, dims []uint32, data []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// idxCases are shared by the reader tests: each input is read raw from memory,
// from a raw file and from a gzipped file.
var idxCases = []struct {
	name     string
	in       []byte
	dims     []int // want, on success
	kind     error // ErrFormat or ErrUnsupported on failure
	eof      bool  // error must wrap io.ErrUnexpectedEOF
	msg      string
	fileMsg  string // message when the raw file size is known, if different
	hdrError bool   // ReadIDXHeader fails too
}{
	{name: "rank 1", in: encodeIDX(8, []uint32{3}, []byte{7, 0, 255}), dims: []int{3}},
	{name: "rank 3", in: encodeIDX(8, []uint32{2, 2, 3}, seq(12)), dims: []int{2, 2, 3}},
	{name: "rank 4", in: encodeIDX(8, []uint32{1, 2, 1, 2}, seq(4)), dims: []int{1, 2, 1, 2}},
	{name: "wrong magic", in: append([]byte{0x01, 0x00, 0x08, 0x01, 0, 0, 0, 1}, 5),
		kind: ErrFormat, msg: "invalid IDX: magic number 01 00 08 01 (want 00 00 <type> <rank>)", hdrError: true},
	{name: "zip file", in: []byte("PK\x03\x04\x14\x00\x00\x00"),
		kind: ErrFormat, msg: "invalid IDX: magic number 50 4b 03 04 (want 00 00 <type> <rank>)", hdrError: true},
	{name: "float32 unsupported", in: encodeIDX(0x0D, []uint32{1}, []byte{0, 0, 0, 0}),
		kind: ErrUnsupported, msg: "unsupported IDX: element type 0x0D (float32); only 0x08 (unsigned byte) is supported", hdrError: true},
	{name: "int8 unsupported", in: encodeIDX(0x09, []uint32{1}, []byte{0}),
		kind: ErrUnsupported, msg: "unsupported IDX: element type 0x09 (signed byte); only 0x08 (unsigned byte) is supported", hdrError: true},
	{name: "unknown type", in: encodeIDX(0x0A, []uint32{1}, []byte{0}),
		kind: ErrFormat, msg: "invalid IDX: unknown element type 0x0A", hdrError: true},
	{name: "rank 0", in: encodeIDX(8, nil, []byte{1, 2}),
		kind: ErrFormat, msg: "invalid IDX: rank 0 (want 1..4)", hdrError: true},
	{name: "rank 5", in: encodeIDX(8, []uint32{1, 1, 1, 1, 1}, []byte{1}),
		kind: ErrFormat, msg: "invalid IDX: rank 5 (want 1..4)", hdrError: true},
	{name: "zero dim", in: encodeIDX(8, []uint32{2, 0, 3}, nil),
		kind: ErrFormat, msg: "invalid IDX: dimension 1 is 0 (want 1..2147483647)", hdrError: true},
	{name: "negative dim", in: encodeIDX(8, []uint32{0xFFFFFFFF}, nil),
		kind: ErrFormat, msg: "invalid IDX: dimension 0 is -1 (want 1..2147483647)", hdrError: true},
	// 65536·32769 = 2147549184 > 2³¹ = 2147483648.
	{name: "too many values", in: encodeIDX(8, []uint32{65536, 32769}, nil),
		kind: ErrFormat, msg: "invalid IDX: dimensions [65536 32769] hold more than 2147483648 values", hdrError: true},
	{name: "empty file", in: nil, kind: ErrFormat, eof: true, msg: "invalid IDX: empty file: unexpected EOF", hdrError: true},
	{name: "truncated magic", in: []byte{0, 0, 8}, kind: ErrFormat, eof: true,
		msg: "invalid IDX: magic number truncated: unexpected EOF", hdrError: true},
	{name: "truncated dims", in: encodeIDX(8, []uint32{2, 3}, nil)[:10], kind: ErrFormat, eof: true,
		msg: "invalid IDX: dimension sizes truncated: unexpected EOF", hdrError: true},
	{name: "truncated data", in: encodeIDX(8, []uint32{2, 3}, seq(5)), kind: ErrFormat, eof: true,
		msg:     "invalid IDX: data truncated after 5 of 6 values (dimensions [2 3]): unexpected EOF",
		fileMsg: "invalid IDX: data truncated: file has 17 bytes, header [2 3] implies 18: unexpected EOF"},
	{name: "trailing bytes", in: encodeIDX(8, []uint32{2, 3}, seq(8)), kind: ErrFormat,
		msg:     "invalid IDX: trailing bytes after the 6 values of dimensions [2 3]",
		fileMsg: "invalid IDX: 2 trailing bytes after the 6 values of dimensions [2 3]"},
	// A forged header: 2³¹ values announced, 92 bytes present.
	{name: "forged count", in: encodeIDX(8, []uint32{1 << 31 >> 1, 2}, make([]byte, 88)), kind: ErrFormat, eof: true,
		msg:     "invalid IDX: data truncated after 88 of 2147483648 values (dimensions [1073741824 2]): unexpected EOF",
		fileMsg: "invalid IDX: data truncated: file has 100 bytes, header [1073741824 2] implies 2147483660: unexpected EOF"},
}

func TestReadIDX(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range idxCases {
		rawPath := writeFile(t, dir, "raw"+string(rune('a'+i)), tc.in)
		gzPath := writeFile(t, dir, "gz"+string(rune('a'+i)), gzipBytes(t, tc.in))
		ways := []struct {
			way, name string
			read      func() (*IDX, error)
			sized     bool
		}{
			{"memory", "mem.idx", func() (*IDX, error) { return ReadIDX(bytes.NewReader(tc.in), "mem.idx") }, false},
			{"raw file", rawPath, func() (*IDX, error) { return OpenIDX(rawPath) }, true},
			{"gzip file", gzPath, func() (*IDX, error) { return OpenIDX(gzPath) }, false},
		}
		for _, w := range ways {
			t.Run(tc.name+"/"+w.way, func(t *testing.T) {
				got, err := w.read()
				if tc.kind == nil {
					if err != nil {
						t.Fatalf("unexpected error: %v", err)
					}
					if !slices.Equal(got.Dims, tc.dims) || got.Type != IDXUint8 || got.Name != w.name {
						t.Fatalf("header = %v %v %q, want %v 0x08 %q", got.Dims, got.Type, got.Name, tc.dims, w.name)
					}
					if want := tc.in[4+4*len(tc.dims):]; !bytes.Equal(got.Data, want) || got.Len() != len(want) {
						t.Fatalf("data = %v (Len %d), want %v", got.Data, got.Len(), want)
					}
					return
				}
				if err == nil {
					t.Fatalf("no error, want %q", tc.msg)
				}
				msg := tc.msg
				if w.sized && tc.fileMsg != "" {
					msg = tc.fileMsg
				}
				if want := "datasets: " + w.name + ": " + msg; err.Error() != want {
					t.Fatalf("error\n got %q\nwant %q", err, want)
				}
				if !errors.Is(err, tc.kind) {
					t.Errorf("errors.Is(err, %v) = false", tc.kind)
				}
				if other := map[error]error{ErrFormat: ErrUnsupported, ErrUnsupported: ErrFormat}[tc.kind]; errors.Is(err, other) {
					t.Errorf("errors.Is(err, %v) = true", other)
				}
				if errors.Is(err, io.ErrUnexpectedEOF) != tc.eof {
					t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v", !tc.eof, tc.eof)
				}
			})
		}
	}
}

func TestReadIDXHeader(t *testing.T) {
	for _, tc := range idxCases {
		for _, gz := range []bool{false, true} {
			in := tc.in
			if gz {
				in = gzipBytes(t, in)
			}
			h, err := ReadIDXHeader(bytes.NewReader(in), "h.idx")
			if (err != nil) != tc.hdrError {
				t.Errorf("%s (gzip %v): err = %v, want error %v", tc.name, gz, err, tc.hdrError)
				continue
			}
			if err != nil {
				if !errors.Is(err, tc.kind) || !strings.HasSuffix(err.Error(), tc.msg) {
					t.Errorf("%s (gzip %v): err = %v, want %q", tc.name, gz, err, tc.msg)
				}
				continue
			}
			// Only the header is read, so files with bad data still pass.
			var dims []int
			for i := 0; i < int(tc.in[3]); i++ {
				dims = append(dims, int(binary.BigEndian.Uint32(tc.in[4+4*i:])))
			}
			if !slices.Equal(h.Dims, dims) || h.Type != IDXUint8 {
				t.Errorf("%s (gzip %v): header %v %v, want %v", tc.name, gz, h.Type, h.Dims, dims)
			}
		}
	}
}

// TestExactErrorMessage pins the one-line format quoted in the package docs.
func TestExactErrorMessage(t *testing.T) {
	_, err := ReadIDX(bytes.NewReader(encodeIDX(8, nil, nil)), "t10k-images-idx3-ubyte.gz")
	const want = "datasets: t10k-images-idx3-ubyte.gz: invalid IDX: rank 0 (want 1..4)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestCorruptGzip(t *testing.T) {
	z := gzipBytes(t, encodeIDX(8, []uint32{4}, []byte{1, 2, 3, 4}))
	z[len(z)-8] ^= 0xFF // first byte of the CRC-32 in the gzip trailer
	_, err := ReadIDX(bytes.NewReader(z), "bad.gz")
	const want = "datasets: bad.gz: invalid IDX: corrupt gzip stream in gzip trailer: gzip: invalid checksum"
	if err == nil || err.Error() != want || !errors.Is(err, ErrFormat) || !errors.Is(err, gzip.ErrChecksum) {
		t.Fatalf("err = %v, want %q", err, want)
	}

	// A gzip stream cut short is a truncation.
	z = gzipBytes(t, encodeIDX(8, []uint32{4}, []byte{1, 2, 3, 4}))
	_, err = ReadIDX(bytes.NewReader(z[:len(z)-4]), "short.gz")
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v, want a truncation", err)
	}
}

func TestOpenIDXMissing(t *testing.T) {
	_, err := OpenIDX(filepath.Join(t.TempDir(), "nope.gz"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "datasets: open ") {
		t.Fatalf("err = %v, want a not-exist error prefixed with datasets:", err)
	}
}

// TestForgedHeaderAllocation checks that a 100-byte file announcing 2³¹ values
// fails without allocating for them, whichever way it is read.
func TestForgedHeaderAllocation(t *testing.T) {
	in := encodeIDX(8, []uint32{1 << 31 >> 1, 2}, make([]byte, 88))
	if len(in) != 100 {
		t.Fatalf("test input has %d bytes, want 100", len(in))
	}
	dir := t.TempDir()
	z := gzipBytes(t, in)
	// The same, with the gzip trailer's size field forged to agree with the
	// header (12 + 2³¹ mod 2³²): OpenIDX must not trust it for a 40-byte file.
	zf := slices.Clone(z)
	binary.LittleEndian.PutUint32(zf[len(zf)-4:], 12+1<<31)
	raw, gz, gzf := writeFile(t, dir, "raw", in), writeFile(t, dir, "gz", z), writeFile(t, dir, "gzf", zf)
	const budget = 4 << 20 // a 1 MiB first chunk plus gzip and bufio state
	for _, tc := range []struct {
		name string
		read func() (*IDX, error)
		want error
	}{
		{"memory", func() (*IDX, error) { return ReadIDX(bytes.NewReader(in), "mem") }, io.ErrUnexpectedEOF},
		{"raw file", func() (*IDX, error) { return OpenIDX(raw) }, io.ErrUnexpectedEOF},
		{"gzip file", func() (*IDX, error) { return OpenIDX(gz) }, io.ErrUnexpectedEOF},
		// gzip checks the size field at the end of the stream: a checksum error.
		{"gzip forged trailer", func() (*IDX, error) { return OpenIDX(gzf) }, gzip.ErrChecksum},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := tc.read()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrFormat) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > budget {
			t.Errorf("%s: allocated %d bytes for a 100-byte file, want ≤ %d", tc.name, got, budget)
		}
	}
}

func TestLoadIDXImages(t *testing.T) {
	dir := t.TempDir()
	// Two 2×3 images; pixel values chosen so that b/255 is easy to check by
	// hand: 0 → 0, 51 → 0.2, 255 → 1.
	img := writeFile(t, dir, "img.gz", gzipBytes(t, encodeIDX(8, []uint32{2, 2, 3}, []byte{
		0, 51, 255, 102, 153, 204,
		255, 0, 0, 0, 0, 51})))
	lab := writeFile(t, dir, "lab", encodeIDX(8, []uint32{2}, []byte{7, 3}))
	s, err := LoadIDXImages(img, lab, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0.2, 1, 0.4, 0.6, 0.8, 1, 0, 0, 0, 0, 0.2}
	if s.Name != "tiny" || s.C != 1 || s.H != 2 || s.W != 3 || !slices.Equal(s.Images, want) ||
		!slices.Equal(s.Labels, []int{7, 3}) || !slices.Equal(s.Index, []int{0, 1}) {
		t.Fatalf("got %+v", s)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	lab3 := writeFile(t, dir, "lab3", encodeIDX(8, []uint32{3}, []byte{1, 2, 3}))
	img2 := writeFile(t, dir, "img2", encodeIDX(8, []uint32{2, 6}, seq(12)))
	lab2 := writeFile(t, dir, "lab2", encodeIDX(8, []uint32{2, 1}, []byte{1, 2}))
	for _, tc := range []struct {
		name, images, labels, want string
	}{
		{"count mismatch", img, lab3, "datasets: 2 images in " + img + " but 3 labels in " + lab3},
		{"images rank 2", img2, lab, "datasets: " + img2 + ": invalid IDX: images have dimensions [2 6] (want 3: count, height, width)"},
		{"labels rank 2", img, lab2, "datasets: " + lab2 + ": invalid IDX: labels have dimensions [2 1] (want 1: count)"},
		{"missing labels", img, filepath.Join(dir, "none"), "datasets: open " + filepath.Join(dir, "none") + ": no such file or directory"},
	} {
		_, err := LoadIDXImages(tc.images, tc.labels, "x")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(encodeIDX(8, []uint32{2, 2, 3}, seq(12)))
	f.Add(encodeIDX(8, []uint32{3}, []byte{1, 2, 3}))
	f.Add(encodeIDX(8, []uint32{1 << 30, 2}, make([]byte, 88)))
	f.Add(encodeIDX(0x0D, []uint32{1}, []byte{0, 0, 0, 0}))
	f.Add(encodeIDX(8, []uint32{2, 3}, seq(8)))
	f.Add(gzipBytes(f, encodeIDX(8, []uint32{2, 2}, seq(4))))
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := ReadIDX(bytes.NewReader(in), "fuzz")
		h, herr := ReadIDXHeader(bytes.NewReader(in), "fuzz")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "datasets: fuzz: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error not one prefixed line: %q", msg)
			}
			if herr == nil && (errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrFormat)) {
				t.Fatalf("good header but data error %v", err)
			}
			return
		}
		if herr != nil || !slices.Equal(h.Dims, x.Dims) {
			t.Fatalf("ReadIDX ok with %v but ReadIDXHeader gave %v, %v", x.Dims, h.Dims, herr)
		}
		if len(x.Dims) < 1 || len(x.Dims) > MaxIDXRank || len(x.Data) != x.Len() {
			t.Fatalf("dims %v with %d values", x.Dims, len(x.Data))
		}
		if len(in) < 2 || in[0] != 0x1f || in[1] != 0x8b {
			u32 := make([]uint32, len(x.Dims))
			for i, d := range x.Dims {
				u32[i] = uint32(d)
			}
			if !bytes.Equal(encodeIDX(8, u32, x.Data), in) {
				t.Fatalf("re-encoding differs from the input")
			}
		}
	})
}
