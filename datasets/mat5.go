package datasets

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// MatClass is a MATLAB array class (the low byte of a matrix's array flags).
type MatClass uint8

// The array classes of the level-5 MAT-file format. ReadMat decodes
// MatDouble, MatSingle and MatUint8 (including logical) arrays.
const (
	MatCell   MatClass = 1
	MatStruct MatClass = 2
	MatObject MatClass = 3
	MatChar   MatClass = 4
	MatSparse MatClass = 5
	MatDouble MatClass = 6
	MatSingle MatClass = 7
	MatInt8   MatClass = 8
	MatUint8  MatClass = 9
	MatInt16  MatClass = 10
	MatUint16 MatClass = 11
	MatInt32  MatClass = 12
	MatUint32 MatClass = 13
	MatInt64  MatClass = 14
	MatUint64 MatClass = 15
)

var matClassNames = [...]string{"", "cell", "struct", "object", "char", "sparse", "double", "single",
	"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}

func (c MatClass) String() string {
	if int(c) < len(matClassNames) && c != 0 {
		return matClassNames[c]
	}
	return fmt.Sprintf("class %d", uint8(c))
}

// MAT-file data types: the type field of an element tag.
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

var miNames = map[uint32]string{miINT8: "miINT8", miUINT8: "miUINT8", miINT16: "miINT16", miUINT16: "miUINT16",
	miINT32: "miINT32", miUINT32: "miUINT32", miSINGLE: "miSINGLE", miDOUBLE: "miDOUBLE", miINT64: "miINT64",
	miUINT64: "miUINT64", miMATRIX: "miMATRIX", miCOMPRESSED: "miCOMPRESSED", miUTF8: "miUTF8", miUTF16: "miUTF16", miUTF32: "miUTF32"}

func miName(t uint32) string {
	if n, ok := miNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", t)
}

// miSize returns the byte size of a numeric data type, or 0.
func miSize(t uint32) int {
	switch t {
	case miINT8, miUINT8:
		return 1
	case miINT16, miUINT16:
		return 2
	case miINT32, miUINT32, miSINGLE:
		return 4
	case miDOUBLE, miINT64, miUINT64:
		return 8
	}
	return 0
}

// Limits on what a MAT-file may claim.
const (
	MaxMatRank   = 8
	MaxMatValues = 1 << 31 // SVHN's extra_32x32.mat X holds 1.63·10⁹
	maxMatName   = 1024    // MATLAB allows 63 characters
)

// MatVar is one decoded numeric MATLAB variable.
type MatVar struct {
	Name  string
	Class MatClass // MatDouble, MatSingle or MatUint8
	// Dims are the dimension sizes, column-major: the first index varies
	// fastest, so element (i, j, k) of an a×b×c array is at i + a·j + a·b·k.
	Dims    []int
	Logical bool      // a logical array (class uint8)
	Uint8   []uint8   // the values of a uint8 array
	Float64 []float64 // the values of a double array
	Float32 []float32 // the values of a single array
}

// Len returns the number of values, the product of Dims.
func (v *MatVar) Len() int {
	n := 1
	for _, d := range v.Dims {
		n *= d
	}
	return n
}

// ReadMat decodes numeric variables from a MATLAB level-5 MAT-file (as saved by
// MATLAB with -v6 or -v7, or by scipy.io.savemat) read from r; name is used
// only in error messages. With want names, only those variables are decoded
// (others are skipped without being decompressed past their names) and each
// must be present; with none, every variable is decoded.
//
// Format (MathWorks, "MAT-File Format", level 5): a 128-byte header (116 bytes
// of text, 8 of subsystem offset, a version 0x0100 and the endian indicator
// "IM" for little-endian or "MI" for big-endian files), then data elements,
// each an 8-byte tag (type, byte count) and its data. A top-level element is an
// miMATRIX, or an miCOMPRESSED whose data are a zlib stream holding one
// miMATRIX. A matrix holds sub-elements, each padded to 8 bytes: array flags
// (class and the complex/global/logical bits), dimensions (int32), the name
// (int8) and the real part, whose stored type may be narrower than the class
// (MATLAB stores a double array of small integers as miUINT8). A tag whose
// upper 16 bits are not zero is a "small data element": byte count and type
// in the first 4 bytes, the data in the next 4.
//
// Every tag's type and byte count is checked against what the format allows
// and what the enclosing element, the file (if its size is known) and the
// compressed stream (1032× its compressed size at most) can hold; the real
// part must have exactly product(Dims) values. Decoded data grow as they
// arrive, never ahead of them. Version 7.3 files (HDF5), complex, sparse,
// cell, struct, char and integer arrays other than uint8 are ErrUnsupported.
func ReadMat(r io.Reader, name string, want ...string) (map[string]*MatVar, error) {
	return readMat(r, name, -1, want)
}

// OpenMat reads the MAT-file at path; see ReadMat. Element sizes are also
// checked against the file size.
func OpenMat(path string, want ...string) (map[string]*MatVar, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMat(bufio.NewReaderSize(f, 1<<16), path, size, want)
}

// matReader holds the state of one file's decoding.
type matReader struct {
	name  string
	order binary.ByteOrder
	want  []string
}

func (m *matReader) invalid(cause error, format string, args ...any) error {
	return invalid("MAT", m.name, cause, format, args...)
}

func readMat(r io.Reader, name string, size int64, want []string) (map[string]*MatVar, error) {
	m := &matReader{name: name, want: want}
	var hdr [128]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, truncated("MAT", name, "empty file")
		}
		return nil, readFailed("MAT", name, err, "128-byte header")
	}
	switch string(hdr[126:128]) {
	case "IM":
		m.order = binary.LittleEndian
	case "MI":
		m.order = binary.BigEndian
	default:
		if hdr[0] == 0 || hdr[1] == 0 || hdr[2] == 0 || hdr[3] == 0 {
			return nil, unsupported("MAT", name, "not a level-5 MAT-file (level 4 files start with zero bytes)")
		}
		return nil, m.invalid(nil, "endian indicator % x at byte 126 (want \"IM\" or \"MI\")", hdr[126:128])
	}
	switch v := m.order.Uint16(hdr[124:126]); v {
	case 0x0100:
	case 0x0200:
		return nil, unsupported("MAT", name, "MAT-file version 7.3 (HDF5); save with -v7, or with scipy.io.savemat")
	default:
		return nil, m.invalid(nil, "version 0x%04x (want 0x0100)", v)
	}
	vars := map[string]*MatVar{}
	off := int64(128)
	for {
		var tb [8]byte
		n, err := io.ReadFull(r, tb[:])
		if n == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, readFailed("MAT", name, err, fmt.Sprintf("tag of the element at byte %d", off))
		}
		t := m.tag(tb)
		if t.small {
			return nil, m.invalid(nil, "element at byte %d is a small data element (want miMATRIX or miCOMPRESSED)", off)
		}
		if t.typ != miMATRIX && t.typ != miCOMPRESSED {
			return nil, m.invalid(nil, "element at byte %d has %s (want miMATRIX or miCOMPRESSED)", off, miName(t.typ))
		}
		if size >= 0 && int64(t.n) > size-off-8 {
			return nil, truncated("MAT", name, "element at byte %d claims %d bytes, the file has %d after its tag", off, t.n, size-off-8)
		}
		lr := &io.LimitedReader{R: r, N: int64(t.n)}
		var v *MatVar
		if t.typ == miMATRIX {
			v, err = m.matrix(lr, off, int64(t.n))
		} else {
			v, err = m.compressed(lr, off, int64(t.n))
		}
		if err != nil {
			return nil, err
		}
		if lr.N > 0 { // a skipped variable: drop the rest of its bytes unread
			if k, err := io.CopyN(io.Discard, lr, lr.N); err != nil {
				return nil, readFailed("MAT", name, err, fmt.Sprintf("element at byte %d (%d of %d bytes)", off, int64(t.n)-lr.N+k, t.n))
			}
		}
		if v != nil {
			if _, dup := vars[v.Name]; dup {
				return nil, m.invalid(nil, "variable %q appears twice", v.Name)
			}
			vars[v.Name] = v
		}
		off += 8 + int64(t.n)
	}
	for _, w := range want {
		if vars[w] == nil {
			found := "no variables"
			if len(vars) > 0 {
				names := make([]string, 0, len(vars))
				for k := range vars {
					names = append(names, k)
				}
				slices.Sort(names)
				found = "decoded " + strings.Join(names, ", ")
			}
			return nil, m.invalid(nil, "no variable %q (%s; want %s)", w, found, strings.Join(want, ", "))
		}
	}
	return vars, nil
}

// matTag is a decoded element tag.
type matTag struct {
	typ   uint32
	n     uint32
	small bool
	data  [4]byte // a small element's data
}

func (m *matReader) tag(b [8]byte) matTag {
	w := m.order.Uint32(b[0:4])
	if w>>16 != 0 {
		t := matTag{typ: w & 0xffff, n: w >> 16, small: true}
		copy(t.data[:], b[4:8])
		return t
	}
	return matTag{typ: w, n: m.order.Uint32(b[4:8])}
}

// compressed decodes an miCOMPRESSED element of n bytes at offset off.
func (m *matReader) compressed(lr *io.LimitedReader, off, n int64) (*MatVar, error) {
	br := bufio.NewReader(lr) // a flate.Reader, so zlib reads no further than it needs
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, readFailed("MAT", m.name, err, fmt.Sprintf("zlib header of the compressed element at byte %d", off))
	}
	var tb [8]byte
	if _, err := io.ReadFull(zr, tb[:]); err != nil {
		return nil, readFailed("MAT", m.name, err, fmt.Sprintf("compressed element at byte %d", off))
	}
	t := m.tag(tb)
	if t.small || t.typ != miMATRIX {
		return nil, m.invalid(nil, "compressed element at byte %d holds %s (want miMATRIX)", off, miName(t.typ))
	}
	if int64(t.n) > maxDeflateRatio*n {
		return nil, m.invalid(nil, "compressed element at byte %d claims a %d-byte matrix, more than %d compressed bytes can hold", off, t.n, n)
	}
	inner := &io.LimitedReader{R: zr, N: int64(t.n)}
	v, err := m.matrix(inner, off, int64(t.n))
	if err != nil || v == nil {
		return v, err // a skipped variable: the caller drops the compressed rest
	}
	if inner.N != 0 {
		return nil, m.invalid(nil, "matrix %q at byte %d ends %d bytes before its tag says", v.Name, off, inner.N)
	}
	// The stream must end here: this read also verifies the Adler-32 checksum.
	var one [1]byte
	switch k, err := io.ReadFull(zr, one[:]); {
	case k > 0:
		return nil, m.invalid(nil, "compressed element at byte %d holds bytes after its matrix %q", off, v.Name)
	case !errors.Is(err, io.EOF):
		return nil, readFailed("MAT", m.name, err, fmt.Sprintf("end of the compressed element at byte %d", off))
	}
	if rest := int64(br.Buffered()) + lr.N; rest != 0 {
		return nil, m.invalid(nil, "compressed element at byte %d has %d bytes after its zlib stream", off, rest)
	}
	return v, nil
}

// sub reads a sub-element tag from r and checks its type against want (if
// not 0) and that its data and padding fit in what is left of the matrix.
func (m *matReader) sub(r *io.LimitedReader, off int64, what string, want uint32) (matTag, error) {
	var tb [8]byte
	if r.N < 8 {
		return matTag{}, m.invalid(nil, "matrix at byte %d ends before its %s", off, what)
	}
	if _, err := io.ReadFull(r, tb[:]); err != nil {
		return matTag{}, readFailed("MAT", m.name, err, fmt.Sprintf("%s of the matrix at byte %d", what, off))
	}
	t := m.tag(tb)
	if want != 0 && t.typ != want {
		return t, m.invalid(nil, "matrix at byte %d: %s has %s (want %s)", off, what, miName(t.typ), miName(want))
	}
	if t.small && t.n > 4 {
		return t, m.invalid(nil, "matrix at byte %d: %s is a small element of %d bytes (want at most 4)", off, what, t.n)
	}
	if !t.small && int64(t.n)+pad8(int64(t.n)) > r.N {
		return t, m.invalid(nil, "matrix at byte %d: %s claims %d bytes, %d are left in the matrix", off, what, t.n, r.N)
	}
	return t, nil
}

func pad8(n int64) int64 { return (8 - n%8) % 8 }

// payload returns the data of a small element, or reads the data and padding
// of a normal one (callers have bounded t.n).
func (m *matReader) payload(r io.Reader, t matTag, off int64, what string) ([]byte, error) {
	if t.small {
		return t.data[:t.n], nil
	}
	b := make([]byte, int64(t.n)+pad8(int64(t.n)))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, readFailed("MAT", m.name, err, fmt.Sprintf("%s of the matrix at byte %d", what, off))
	}
	return b[:t.n], nil
}

// matrix decodes an miMATRIX of n bytes (r holds exactly those) at offset off.
// It returns nil for a variable that is not wanted (or an empty matrix
// element), leaving the rest of r unread.
func (m *matReader) matrix(r *io.LimitedReader, off, n int64) (*MatVar, error) {
	if n == 0 {
		return nil, nil // an empty element: MATLAB writes these for empty cells
	}
	t, err := m.sub(r, off, "array flags", miUINT32)
	if err != nil {
		return nil, err
	}
	if t.small || t.n != 8 {
		return nil, m.invalid(nil, "matrix at byte %d: array flags have %d bytes (want 8)", off, t.n)
	}
	fb, err := m.payload(r, t, off, "array flags")
	if err != nil {
		return nil, err
	}
	flags := m.order.Uint32(fb)
	v := &MatVar{Class: MatClass(flags & 0xff), Logical: flags&0x0200 != 0}
	isComplex := flags&0x0800 != 0
	if v.Class == 0 || v.Class > MatUint64 {
		return nil, m.invalid(nil, "matrix at byte %d has unknown array class %d", off, v.Class)
	}

	if t, err = m.sub(r, off, "dimensions", miINT32); err != nil {
		return nil, err
	}
	if t.n%4 != 0 || t.n/4 < 2 || t.n/4 > MaxMatRank {
		return nil, m.invalid(nil, "matrix at byte %d: dimensions have %d bytes (want 4 per dimension, 2..%d dimensions)", off, t.n, MaxMatRank)
	}
	db, err := m.payload(r, t, off, "dimensions")
	if err != nil {
		return nil, err
	}
	total := uint64(1)
	for i := 0; i < len(db); i += 4 {
		d := int32(m.order.Uint32(db[i:]))
		if d < 0 {
			return nil, m.invalid(nil, "matrix at byte %d: dimension %d is %d", off, i/4, d)
		}
		v.Dims = append(v.Dims, int(d))
		total *= uint64(d) // ≤ 2³¹ · 2³¹: no overflow
		if total > MaxMatValues {
			return nil, m.invalid(nil, "matrix at byte %d: dimensions %v... hold more than %d values", off, v.Dims, uint64(MaxMatValues))
		}
	}

	if t, err = m.sub(r, off, "array name", 0); err != nil {
		return nil, err
	}
	if t.typ != miINT8 && t.typ != miUTF8 && t.typ != miUINT8 {
		return nil, m.invalid(nil, "matrix at byte %d: array name has %s (want miINT8)", off, miName(t.typ))
	}
	if t.n > maxMatName {
		return nil, m.invalid(nil, "matrix at byte %d: array name has %d bytes (want at most %d)", off, t.n, maxMatName)
	}
	nb, err := m.payload(r, t, off, "array name")
	if err != nil {
		return nil, err
	}
	v.Name = string(nb)
	if len(m.want) > 0 && !slices.Contains(m.want, v.Name) {
		return nil, nil
	}

	switch v.Class {
	case MatDouble, MatSingle, MatUint8:
	default:
		return nil, unsupported("MAT", m.name, "variable %q is a %s array (want double, single or uint8)", v.Name, v.Class)
	}
	if isComplex {
		return nil, unsupported("MAT", m.name, "variable %q is complex (want real)", v.Name)
	}
	what := fmt.Sprintf("real part of %q", v.Name)
	if t, err = m.sub(r, off, what, 0); err != nil {
		return nil, err
	}
	size := miSize(t.typ)
	if size == 0 {
		return nil, m.invalid(nil, "variable %q: real part has %s (want a numeric type)", v.Name, miName(t.typ))
	}
	if v.Class == MatUint8 && t.typ != miUINT8 {
		return nil, unsupported("MAT", m.name, "uint8 variable %q stored as %s (want miUINT8)", v.Name, miName(t.typ))
	}
	count := int(total)
	if uint64(t.n) != total*uint64(size) {
		return nil, m.invalid(nil, "variable %q: real part has %d bytes, dimensions %v of %s need %d", v.Name, t.n, v.Dims, miName(t.typ), total*uint64(size))
	}
	var data io.Reader = r
	if t.small {
		data = strings.NewReader(string(t.data[:t.n]))
	}
	switch v.Class {
	case MatUint8:
		v.Uint8, err = readGrowing(data, count)
	case MatDouble:
		v.Float64, err = matValues[float64](data, count, t.typ, m.order)
	case MatSingle:
		v.Float32, err = matValues[float32](data, count, t.typ, m.order)
	}
	if err != nil {
		return nil, readFailed("MAT", m.name, err, what)
	}
	if !t.small {
		if _, err := io.CopyN(io.Discard, r, pad8(int64(t.n))); err != nil {
			return nil, readFailed("MAT", m.name, err, "padding of "+what)
		}
	}
	if r.N != 0 {
		return nil, m.invalid(nil, "matrix %q at byte %d has %d bytes after its real part", v.Name, off, r.N)
	}
	return v, nil
}

// matValues reads count values of data type typ and converts them to T,
// growing the output as the values arrive.
func matValues[T float32 | float64](r io.Reader, count int, typ uint32, order binary.ByteOrder) ([]T, error) {
	size := miSize(typ)
	out := make([]T, 0, min(count, readChunk/8))
	buf := make([]byte, min(count, readChunk/8)*size)
	for len(out) < count {
		k := min(len(buf)/size, count-len(out))
		b := buf[:k*size]
		if _, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		out = growTo(out, k, count)
		for j := range k {
			out = append(out, T(miValue(b[j*size:], typ, order)))
		}
	}
	return out, nil
}

// miValue decodes one numeric value of data type typ.
func miValue(b []byte, typ uint32, o binary.ByteOrder) float64 {
	switch typ {
	case miINT8:
		return float64(int8(b[0]))
	case miUINT8:
		return float64(b[0])
	case miINT16:
		return float64(int16(o.Uint16(b)))
	case miUINT16:
		return float64(o.Uint16(b))
	case miINT32:
		return float64(int32(o.Uint32(b)))
	case miUINT32:
		return float64(o.Uint32(b))
	case miSINGLE:
		return float64(math.Float32frombits(o.Uint32(b)))
	case miDOUBLE:
		return math.Float64frombits(o.Uint64(b))
	case miINT64:
		return float64(int64(o.Uint64(b)))
	case miUINT64:
		return float64(o.Uint64(b))
	}
	panic("datasets: miValue: unchecked type")
}
