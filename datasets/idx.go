package datasets

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Sentinel errors that callers can test with errors.Is. Every error a reader in
// this package returns for bad input matches exactly one of them (or wraps an
// I/O error such as fs.ErrNotExist).
var (
	// ErrFormat: the file is malformed (bad magic, impossible header, wrong length).
	ErrFormat = errors.New("datasets: invalid format")
	// ErrUnsupported: the file is well formed but uses a feature this package
	// does not implement (e.g. an IDX file of float64 values).
	ErrUnsupported = errors.New("datasets: unsupported feature")
)

// FileError reports a malformed or unsupported data file, in one line:
//
//	datasets: t10k-images-idx3-ubyte.gz: invalid IDX: rank 0 (want 1..4)
//
// errors.Is(err, ErrFormat) or errors.Is(err, ErrUnsupported) tells the two
// kinds apart; a truncated file also matches io.ErrUnexpectedEOF.
type FileError struct {
	File   string // file name as the caller gave it
	Format string // "IDX", ...
	Kind   error  // ErrFormat or ErrUnsupported
	Msg    string // what is wrong, and what was expected
	Err    error  // underlying cause, or nil
}

func (e *FileError) Error() string {
	word := "invalid"
	if e.Kind == ErrUnsupported {
		word = "unsupported"
	}
	s := "datasets: " + e.File + ": " + word + " " + e.Format + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the kind sentinel and the cause, for errors.Is / errors.As.
func (e *FileError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func idxInvalid(name string, cause error, format string, args ...any) error {
	return &FileError{File: name, Format: "IDX", Kind: ErrFormat, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// IDXType is an IDX element type code, the third byte of the magic number.
type IDXType byte

// The element types the IDX format defines. Only IDXUint8 is supported.
const (
	IDXUint8   IDXType = 0x08
	IDXInt8    IDXType = 0x09
	IDXInt16   IDXType = 0x0B
	IDXInt32   IDXType = 0x0C
	IDXFloat32 IDXType = 0x0D
	IDXFloat64 IDXType = 0x0E
)

func (t IDXType) String() string {
	switch t {
	case IDXUint8:
		return "unsigned byte"
	case IDXInt8:
		return "signed byte"
	case IDXInt16:
		return "int16"
	case IDXInt32:
		return "int32"
	case IDXFloat32:
		return "float32"
	case IDXFloat64:
		return "float64"
	}
	return "unknown"
}

// Limits on what a header may claim. MaxIDXValues bounds the element count so
// that a forged header is rejected before anything is allocated for it.
const (
	MaxIDXRank   = 4
	MaxIDXValues = 1 << 31
)

// IDXHeader is the header of an IDX file.
type IDXHeader struct {
	Type IDXType // element type; always IDXUint8 in a header returned without error
	Dims []int   // dimension sizes, outermost first; 1..MaxIDXRank of them, each > 0
}

// Len returns the number of values the header announces, the product of Dims.
func (h IDXHeader) Len() int {
	n := 1
	for _, d := range h.Dims {
		n *= d
	}
	return n
}

// IDX is a decoded IDX file of unsigned bytes.
type IDX struct {
	Name string // file name, for error messages
	IDXHeader
	Data []byte // Len() values, row-major (last dimension fastest)
}

// gzip member magic (RFC 1952 ID1, ID2).
var gzipMagic = [2]byte{0x1f, 0x8b}

// ReadIDX decodes an IDX file from r; name is used only in error messages.
// Gzip-compressed input is detected by its magic bytes 1f 8b and decompressed
// transparently.
//
// Format (all integers big-endian): two zero bytes, the element type byte, the
// rank byte, rank uint32 dimension sizes, then the values in row-major order.
// ReadIDX checks the magic, that the type is 0x08 (other defined types give an
// ErrUnsupported error, undefined ones ErrFormat), that 1 ≤ rank ≤ 4, that every
// dimension is in [1, 2³¹) and that their product is at most MaxIDXValues, and
// that exactly that many values follow: a short file gives an error wrapping
// io.ErrUnexpectedEOF, extra bytes an ErrFormat error. Memory grows with the
// bytes actually read, never with what the header claims.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	return readIDX(r, name, -1)
}

// OpenIDX reads the IDX file at path, gzip-compressed or not (decided by the
// content, not the name). See ReadIDX for the checks. For an uncompressed
// regular file the header is checked against the file size before the data are
// read; for a gzipped one the size recorded in the gzip trailer, if it agrees
// with the header, lets the data be read into one exact allocation.
func OpenIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return readIDX(f, path, size)
}

// ReadIDXHeader decodes and checks only the header of an IDX file (gzipped or
// not), so that callers can reject a file before reading its data.
func ReadIDXHeader(r io.Reader, name string) (IDXHeader, error) {
	src, _, err := idxStream(r, name)
	if err != nil {
		return IDXHeader{}, err
	}
	h, _, err := readIDXHeader(src, name)
	return h, err
}

// idxStream wraps r, gunzipping if it starts with the gzip magic.
func idxStream(r io.Reader, name string) (src io.Reader, gz bool, err error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("datasets: %s: %w", name, err)
	}
	if len(magic) == 2 && magic[0] == gzipMagic[0] && magic[1] == gzipMagic[1] {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, true, readErr(name, err, "gzip header")
		}
		return zr, true, nil
	}
	return br, false, nil
}

// readErr turns an error met while reading part of a file into a one-line
// error: end of input becomes a truncation (io.ErrUnexpectedEOF), a corrupt
// gzip stream an ErrFormat error, anything else an I/O error.
func readErr(name string, err error, part string) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return idxInvalid(name, io.ErrUnexpectedEOF, "%s truncated", part)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return idxInvalid(name, err, "corrupt gzip stream in %s", part)
	}
	return fmt.Errorf("datasets: %s: reading %s: %w", name, part, err)
}

// readIDXHeader reads and checks the header; it returns it with its size in bytes.
func readIDXHeader(r io.Reader, name string) (IDXHeader, int, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return IDXHeader{}, 0, idxInvalid(name, io.ErrUnexpectedEOF, "empty file")
		}
		return IDXHeader{}, 0, readErr(name, err, "magic number")
	}
	if magic[0] != 0 || magic[1] != 0 {
		return IDXHeader{}, 0, idxInvalid(name, nil, "magic number % x (want 00 00 <type> <rank>)", magic[:])
	}
	t := IDXType(magic[2])
	switch t {
	case IDXUint8:
	case IDXInt8, IDXInt16, IDXInt32, IDXFloat32, IDXFloat64:
		return IDXHeader{}, 0, &FileError{File: name, Format: "IDX", Kind: ErrUnsupported,
			Msg: fmt.Sprintf("element type 0x%02X (%s); only 0x08 (unsigned byte) is supported", byte(t), t)}
	default:
		return IDXHeader{}, 0, idxInvalid(name, nil, "unknown element type 0x%02X", byte(t))
	}
	rank := int(magic[3])
	if rank < 1 || rank > MaxIDXRank {
		return IDXHeader{}, 0, idxInvalid(name, nil, "rank %d (want 1..%d)", rank, MaxIDXRank)
	}
	var buf [4 * MaxIDXRank]byte
	if _, err := io.ReadFull(r, buf[:4*rank]); err != nil {
		return IDXHeader{}, 0, readErr(name, err, "dimension sizes")
	}
	h := IDXHeader{Type: t, Dims: make([]int, rank)}
	var total uint64 = 1
	for i := range rank {
		d := binary.BigEndian.Uint32(buf[4*i:])
		if d == 0 || d > math.MaxInt32 {
			return IDXHeader{}, 0, idxInvalid(name, nil, "dimension %d is %d (want 1..%d)", i, int32(d), math.MaxInt32)
		}
		// total ≤ 2³¹ and d < 2³¹ before this product, so it cannot overflow 64 bits.
		total *= uint64(d)
		if total > MaxIDXValues || total > math.MaxInt {
			return IDXHeader{}, 0, idxInvalid(name, nil, "dimensions %v hold more than %d values", beUint32s(buf[:4*rank]), uint64(MaxIDXValues))
		}
		h.Dims[i] = int(d)
	}
	return h, 4 + 4*rank, nil
}

func beUint32s(b []byte) []uint32 {
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return out
}

// readChunk is the initial allocation when the input size is unknown; the
// buffer then doubles as data arrive, up to what the header announced.
const readChunk = 1 << 20

// maxDeflateRatio bounds how many bytes deflate can expand one input byte to
// (258-byte matches coded in ≈ 2 bits: 1032:1, RFC 1951). A gzip trailer that
// claims more than this times the file size cannot be honest.
const maxDeflateRatio = 1032

// readIDX reads a whole IDX file. size is the byte size of r's content if
// known (r is then a regular *os.File at offset 0), or -1.
func readIDX(r io.Reader, name string, size int64) (*IDX, error) {
	var isize int64 = -1 // uncompressed size from the gzip trailer, mod 2³²
	if f, ok := r.(io.ReaderAt); ok && size >= 18 {
		var b [4]byte
		if _, err := f.ReadAt(b[:], size-4); err == nil {
			isize = int64(binary.LittleEndian.Uint32(b[:]))
		}
	}
	src, gz, err := idxStream(r, name)
	if err != nil {
		return nil, err
	}
	compressed := size
	if gz {
		size = -1 // the compressed size says nothing exact about the content
	}
	h, hlen, err := readIDXHeader(src, name)
	if err != nil {
		return nil, err
	}
	n := h.Len()
	if size >= 0 {
		want := int64(hlen) + int64(n)
		if size < want {
			return nil, idxInvalid(name, io.ErrUnexpectedEOF, "data truncated: file has %d bytes, header %v implies %d", size, h.Dims, want)
		}
		if size > want {
			return nil, idxInvalid(name, nil, "%d trailing bytes after the %d values of dimensions %v", size-want, n, h.Dims)
		}
	}
	first := min(n, readChunk)
	if gz && isize == (int64(hlen)+int64(n))&0xFFFFFFFF && int64(n) <= maxDeflateRatio*compressed {
		first = n // trailer and header agree, and the file is big enough to hold it
	}

	var data []byte
	if size >= 0 {
		data = make([]byte, n) // n was checked against the file size above
		if _, err := io.ReadFull(src, data); err != nil {
			return nil, readDataErr(name, err, h)
		}
	} else {
		data = make([]byte, 0, first)
		for len(data) < n {
			if len(data) == cap(data) {
				grown := make([]byte, len(data), min(n, 2*cap(data)))
				copy(grown, data)
				data = grown
			}
			k, err := io.ReadFull(src, data[len(data):cap(data)])
			data = data[:len(data)+k]
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, idxInvalid(name, io.ErrUnexpectedEOF, "data truncated after %d of %d values (dimensions %v)", len(data), n, h.Dims)
			}
			if err != nil {
				return nil, readDataErr(name, err, h)
			}
		}
	}

	// The value count is exact: anything after it is an error. For gzip this
	// read also reaches the stream end, where the CRC-32 is verified.
	var one [1]byte
	switch k, err := io.ReadFull(src, one[:]); {
	case k > 0:
		return nil, idxInvalid(name, nil, "trailing bytes after the %d values of dimensions %v", n, h.Dims)
	case errors.Is(err, io.EOF):
	default:
		return nil, readErr(name, err, "gzip trailer")
	}
	return &IDX{Name: name, IDXHeader: h, Data: data}, nil
}

func readDataErr(name string, err error, h IDXHeader) error {
	return readErr(name, err, fmt.Sprintf("data of dimensions %v", h.Dims))
}

// byteScale[b] = float32(b)/255 in float32 arithmetic, as torchvision's
// ToTensor computes it (uint8 → float32, then divide by 255).
var byteScale = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// LoadIDXImages reads a pair of IDX files, images of shape (N, H, W) and labels
// of shape (N), into a Set with C = 1, pixel values byte/255, Labels the label
// bytes, Index 0..N-1 and Name name. Both files may be gzipped.
func LoadIDXImages(images, labels string, name string) (*Set, error) {
	im, err := OpenIDX(images)
	if err != nil {
		return nil, err
	}
	if len(im.Dims) != 3 {
		return nil, idxInvalid(images, nil, "images have dimensions %v (want 3: count, height, width)", im.Dims)
	}
	lb, err := OpenIDX(labels)
	if err != nil {
		return nil, err
	}
	if len(lb.Dims) != 1 {
		return nil, idxInvalid(labels, nil, "labels have dimensions %v (want 1: count)", lb.Dims)
	}
	n := im.Dims[0]
	if lb.Dims[0] != n {
		return nil, fmt.Errorf("datasets: %d images in %s but %d labels in %s", n, images, lb.Dims[0], labels)
	}
	s := &Set{Name: name, C: 1, H: im.Dims[1], W: im.Dims[2],
		Images: make([]float32, len(im.Data)), Labels: make([]int, n), Index: make([]int, n)}
	px := s.Images[:len(im.Data)] // lets the compiler drop the bounds check
	for i, b := range im.Data {
		px[i] = byteScale[b]
	}
	for i, b := range lb.Data {
		s.Labels[i] = int(b)
		s.Index[i] = i
	}
	return s, nil
}

// IDXParams is the TOML table of kind "idx": a pair of IDX files with the
// user's own images (N, H, W) and labels (N).
type IDXParams struct {
	Images string `toml:"images"` // path of the images file, gzipped or not
	Labels string `toml:"labels"` // path of the labels file, gzipped or not
}

type idxSource struct{ p IDXParams }

func (s *idxSource) Kind() string     { return "idx" }
func (s *idxSource) Splits() []string { return []string{} }

// Load reads the pair; req.Split is ignored.
func (s *idxSource) Load(req Request) (*Set, error) {
	return LoadIDXImages(s.p.Images, s.p.Labels, "idx")
}

// Where returns the images path; found reports whether both files exist.
func (s *idxSource) Where() (string, bool) {
	for _, p := range []string{s.p.Images, s.p.Labels} {
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			return s.p.Images, false
		}
	}
	return s.p.Images, true
}

func init() {
	Register("idx",
		"A pair of IDX files (as MNIST ships them) with your own data: images of shape (N, H, W) and labels (N), "+
			"unsigned bytes, gzipped or not; pixels become byte/255, C = 1; no splits. Params: images, labels (both required).",
		func(params Decoder) (Source, error) {
			var p IDXParams
			if err := decodeParams("idx", params, &p); err != nil {
				return nil, err
			}
			if p.Images == "" || p.Labels == "" {
				return nil, fmt.Errorf("datasets: idx: params images and labels are both required (got images = %q, labels = %q)", p.Images, p.Labels)
			}
			return &idxSource{p}, nil
		})
}
