package datasets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Limits on what an .npy header may claim. NumPy's own reader refuses headers
// longer than 10,000 bytes by default (max_header_size); 64 KiB leaves room
// for hand-written ones while keeping the header read bounded.
const (
	MaxNPYHeader = 1 << 16
	MaxNPYRank   = 8
	MaxNPYValues = 1 << 36
)

// npyMagic is the first 6 bytes of every .npy file.
var npyMagic = []byte("\x93NUMPY")

// NPYHeader is the header of a NumPy .npy file.
type NPYHeader struct {
	Major, Minor int    // format version: 1.0, 2.0 or 3.0
	Descr        string // dtype as written, e.g. "|u1", "<f4", "<i8"
	Fortran      bool   // fortran_order
	Shape        []int  // dimension sizes, outermost first (C order); empty for a scalar
	DataOffset   int64  // bytes before the array data (magic, version, length, header)
}

// Len returns the number of values, the product of Shape (1 for a scalar).
func (h NPYHeader) Len() int {
	n := 1
	for _, d := range h.Shape {
		n *= d
	}
	return n
}

// npyType is a decoded scalar dtype.
type npyType struct {
	order binary.ByteOrder // nil for 1-byte types
	kind  byte             // 'u', 'i' or 'f'
	size  int              // bytes per value
}

// parseNPYDescr decodes a simple dtype string: a byte-order character
// ('<' little, '>' big, '|' not applicable), a kind (u, i, f) and a size.
// Other dtypes (strings, objects, structured, half floats, '=' native order)
// are unsupported.
func parseNPYDescr(name, d string) (npyType, error) {
	bad := func() (npyType, error) {
		return npyType{}, unsupported("NPY", name, "dtype %q (want a little- or big-endian integer or float, e.g. '|u1', '<f4', '<i8')", d)
	}
	if len(d) < 3 {
		return bad()
	}
	t := npyType{kind: d[1]}
	switch d[2:] {
	case "1":
		t.size = 1
	case "2":
		t.size = 2
	case "4":
		t.size = 4
	case "8":
		t.size = 8
	default:
		return bad()
	}
	switch t.kind {
	case 'u', 'i':
	case 'f':
		if t.size < 4 {
			return bad()
		}
	default:
		return bad()
	}
	switch d[0] {
	case '<':
		t.order = binary.LittleEndian
	case '>':
		t.order = binary.BigEndian
	case '|':
		if t.size != 1 {
			return bad()
		}
	default:
		return bad()
	}
	return t, nil
}

// ReadNPYHeader decodes and checks the header of an .npy file, reading exactly
// its bytes from r, so that the data can be read from r next.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", major and minor version
// bytes (1.0, 2.0 or 3.0), the header length as a little-endian uint16
// (version 1) or uint32 (2, 3), then the header: a Python dict literal with
// exactly the keys 'descr' (a dtype string), 'fortran_order' (True or False)
// and 'shape' (a tuple of non-negative integers), padded with spaces and ended
// by a newline. The header may be at most MaxNPYHeader bytes, the rank at most
// MaxNPYRank and the value count at most MaxNPYValues; the dtype is not
// checked here.
func ReadNPYHeader(r io.Reader, name string) (NPYHeader, error) {
	var pre [10]byte
	if n, err := io.ReadFull(r, pre[:6]); err != nil {
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			return NPYHeader{}, truncated("NPY", name, "empty file")
		case !bytes.HasPrefix(npyMagic, pre[:n]):
			return NPYHeader{}, invalid("NPY", name, nil, "magic % x (want 93 4e 55 4d 50 59, \"\\x93NUMPY\")", pre[:n])
		}
		return NPYHeader{}, readFailed("NPY", name, err, "magic")
	}
	if !bytes.Equal(pre[:6], npyMagic) {
		return NPYHeader{}, invalid("NPY", name, nil, "magic % x (want 93 4e 55 4d 50 59, \"\\x93NUMPY\")", pre[:6])
	}
	if _, err := io.ReadFull(r, pre[6:8]); err != nil {
		return NPYHeader{}, readFailed("NPY", name, err, "version")
	}
	h := NPYHeader{Major: int(pre[6]), Minor: int(pre[7])}
	var hlen int
	switch {
	case h.Major == 1 && h.Minor == 0:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return NPYHeader{}, readFailed("NPY", name, err, "header length")
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
		h.DataOffset = 10
	case (h.Major == 2 || h.Major == 3) && h.Minor == 0:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return NPYHeader{}, readFailed("NPY", name, err, "header length")
		}
		l := binary.LittleEndian.Uint32(b[:])
		if l > MaxNPYHeader {
			return NPYHeader{}, invalid("NPY", name, nil, "header length %d (want at most %d)", l, MaxNPYHeader)
		}
		hlen = int(l)
		h.DataOffset = 12
	default:
		return NPYHeader{}, unsupported("NPY", name, "format version %d.%d (want 1.0, 2.0 or 3.0)", h.Major, h.Minor)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return NPYHeader{}, readFailed("NPY", name, err, fmt.Sprintf("%d-byte header", hlen))
	}
	h.DataOffset += int64(hlen)
	if err := parseNPYDict(name, string(hdr), &h); err != nil {
		return NPYHeader{}, err
	}
	return h, nil
}

// parseNPYDict parses the header dict literal into h.
func parseNPYDict(name, s string, h *NPYHeader) error {
	if !strings.HasSuffix(s, "\n") {
		return invalid("NPY", name, nil, "header does not end with a newline")
	}
	p := &pyParser{s: s}
	fail := func(what string) error {
		return invalid("NPY", name, nil, "header %s at byte %d: %q", what, p.i, clip(s, 60))
	}
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return fail("is not a dict")
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok {
			return fail("has a bad key")
		}
		p.space()
		if !p.eat(':') {
			return fail("lacks ':'")
		}
		p.space()
		if seen[key] {
			return invalid("NPY", name, nil, "header repeats key %q", key)
		}
		seen[key] = true
		switch key {
		case "descr":
			d, ok := p.str()
			if !ok {
				if p.i < len(s) && s[p.i] == '[' {
					return unsupported("NPY", name, "structured dtype (want a plain integer or float dtype)")
				}
				return fail("has a bad 'descr' value")
			}
			h.Descr = d
		case "fortran_order":
			switch {
			case strings.HasPrefix(s[p.i:], "True"):
				h.Fortran, p.i = true, p.i+4
			case strings.HasPrefix(s[p.i:], "False"):
				h.Fortran, p.i = false, p.i+5
			default:
				return fail("has a bad 'fortran_order' value")
			}
		case "shape":
			shape, err := p.tuple()
			if err != "" {
				return fail(err)
			}
			h.Shape = shape
		default:
			return invalid("NPY", name, nil, "header has key %q (want only 'descr', 'fortran_order', 'shape')", key)
		}
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat('}') {
				return fail("lacks ',' or '}'")
			}
			break
		}
	}
	if strings.TrimRight(s[p.i:], " \n") != "" {
		return fail("has bytes after the dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return invalid("NPY", name, nil, "header lacks key '%s'", k)
		}
	}
	if len(h.Shape) > MaxNPYRank {
		return unsupported("NPY", name, "rank %d (want at most %d)", len(h.Shape), MaxNPYRank)
	}
	total := uint64(1)
	for _, d := range h.Shape {
		if d != 0 && total > MaxNPYValues/uint64(d) {
			return invalid("NPY", name, nil, "shape %v holds more than %d values", h.Shape, uint64(MaxNPYValues))
		}
		total *= uint64(d)
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// pyParser reads the few Python literals an .npy header uses.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a quoted string without escapes.
func (p *pyParser) str() (string, bool) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsAny(v, "\\\n") {
		return "", false
	}
	p.i += end + 2
	return v, true
}

// tuple reads "()", "(5,)", "(2, 3)" or "(2, 3,)"; Python 2 files may write
// longs such as "10L". It returns an error text on failure.
func (p *pyParser) tuple() ([]int, string) {
	if !p.eat('(') {
		return nil, "has a bad 'shape' value"
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') { // "()" or after a trailing comma
			return shape, ""
		}
		start := p.i
		v := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			if v > (math.MaxInt32<<16)/10 {
				return nil, "has a dimension too large"
			}
			v = 10*v + int(p.s[p.i]-'0')
			p.i++
		}
		if p.i == start {
			return nil, "has a bad 'shape' entry"
		}
		p.eat('L')
		shape = append(shape, v)
		if len(shape) > MaxNPYRank {
			return nil, "has too many dimensions"
		}
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat(')') {
				return nil, "has a bad 'shape' tuple"
			}
			if len(shape) == 1 {
				return nil, "has a parenthesized integer, not a tuple, as 'shape'"
			}
			return shape, ""
		}
	}
}

// NPYLayout says how a 4-D .npy image array is ordered.
type NPYLayout int

const (
	// NHWC: (count, height, width, channels), as NumPy images and the
	// CIFAR-10-C / MNIST-C releases store them.
	NHWC NPYLayout = iota
	// NCHW: (count, channels, height, width), as PyTorch tensors are.
	NCHW
)

// npyImageShape checks that h describes images and returns n, c, height, width.
func npyImageShape(name string, h NPYHeader, layout NPYLayout) (t npyType, n, c, hh, ww int, err error) {
	if h.Fortran {
		return t, 0, 0, 0, 0, unsupported("NPY", name, "fortran_order True (want C order: save np.ascontiguousarray(x))")
	}
	if t, err = parseNPYDescr(name, h.Descr); err != nil {
		return t, 0, 0, 0, 0, err
	}
	if !(t.kind == 'u' && t.size == 1) && t.kind != 'f' {
		return t, 0, 0, 0, 0, unsupported("NPY", name, "image dtype %q (want uint8 '|u1', float32 '<f4' or float64 '<f8')", h.Descr)
	}
	s := h.Shape
	switch {
	case len(s) == 3:
		n, c, hh, ww = s[0], 1, s[1], s[2]
	case len(s) == 4 && layout == NCHW:
		n, c, hh, ww = s[0], s[1], s[2], s[3]
	case len(s) == 4:
		n, hh, ww, c = s[0], s[1], s[2], s[3]
	default:
		want := "(N, H, W) or (N, H, W, C)"
		if layout == NCHW {
			want = "(N, H, W) or (N, C, H, W)"
		}
		return t, 0, 0, 0, 0, invalid("NPY", name, nil, "image shape %v (want %s)", s, want)
	}
	if c != 1 && c != 3 {
		return t, 0, 0, 0, 0, unsupported("NPY", name, "%d channels in shape %v (want 1 or 3)", c, s)
	}
	if n == 0 || hh == 0 || ww == 0 {
		return t, 0, 0, 0, 0, invalid("NPY", name, nil, "image shape %v has a zero size", s)
	}
	return t, n, c, hh, ww, nil
}

// checkNPYSize compares a file's size with what its header implies.
func checkNPYSize(name string, h NPYHeader, itemSize int, size int64) error {
	want := h.DataOffset + int64(h.Len())*int64(itemSize)
	switch {
	case size < want:
		return truncated("NPY", name, "data truncated: file has %d bytes, header (shape %v, dtype %q) implies %d", size, h.Shape, h.Descr, want)
	case size > want:
		return invalid("NPY", name, nil, "%d trailing bytes after the data of shape %v, dtype %q", size-want, h.Shape, h.Descr)
	}
	return nil
}

// ReadNPYImages decodes an .npy array of images from r; name is used only in
// error messages. The array must be in C order, of dtype uint8 (pixels
// become byte/255) or float32/float64 (kept as they are, and then every value
// must lie in [0,1]), and of shape (N, H, W) (grey, C = 1) or 4-D in the given
// layout with C = 1 or 3; NHWC arrays are transposed to NCHW. Labels are -1,
// Index 0..N-1. Memory grows with the data actually read.
func ReadNPYImages(r io.Reader, name string, layout NPYLayout) (*Set, error) {
	h, err := ReadNPYHeader(r, name)
	if err != nil {
		return nil, err
	}
	t, n, _, _, _, err := npyImageShape(name, h, layout)
	if err != nil {
		return nil, err
	}
	s, err := readNPYImageRows(r, name, h, t, layout, 0, n, false)
	if err != nil {
		return nil, err
	}
	return s, npyEnd(r, name, h)
}

// npyEnd checks that r holds nothing after the data.
func npyEnd(r io.Reader, name string, h NPYHeader) error {
	var one [1]byte
	switch k, err := io.ReadFull(r, one[:]); {
	case k > 0:
		return invalid("NPY", name, nil, "trailing bytes after the data of shape %v, dtype %q", h.Shape, h.Descr)
	case errors.Is(err, io.EOF):
		return nil
	default:
		return readFailed("NPY", name, err, "end of data")
	}
}

// OpenNPYImages reads the .npy image file at path; see ReadNPYImages. The file
// size must be exactly what the header implies.
func OpenNPYImages(path string, layout NPYLayout) (*Set, error) {
	return OpenNPYImageRows(path, layout, 0, -1)
}

// OpenNPYImageRows reads count images starting at image first from the .npy
// file at path (count < 0: to the end), seeking past the others, so that one
// severity of a 150 MB CIFAR-10-C file costs a read of 30 MB. Index holds the
// image numbers first, first+1, ...; see ReadNPYImages for the rest.
func OpenNPYImageRows(path string, layout NPYLayout, first, count int) (*Set, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := ReadNPYHeader(f, path)
	if err != nil {
		return nil, err
	}
	t, n, _, _, _, err := npyImageShape(path, h, layout)
	if err != nil {
		return nil, err
	}
	if size >= 0 {
		if err := checkNPYSize(path, h, t.size, size); err != nil {
			return nil, err
		}
	}
	if count < 0 {
		count = n - first
	}
	if first < 0 || count < 0 || first > n-count {
		return nil, fmt.Errorf("datasets: %s: images [%d, %d) requested of %d", path, first, first+count, n)
	}
	if first > 0 {
		rowBytes := int64(h.Len()/n) * int64(t.size)
		if _, err := f.Seek(h.DataOffset+int64(first)*rowBytes, io.SeekStart); err != nil {
			return nil, fmt.Errorf("datasets: %s: %w", path, err)
		}
	}
	return readNPYImageRows(f, path, h, t, layout, first, count, size >= 0)
}

// readNPYImageRows decodes count images, the first being image number first,
// from r positioned at its data. exact says the file size was checked, so the
// output can be allocated at once.
func readNPYImageRows(r io.Reader, name string, h NPYHeader, t npyType, layout NPYLayout, first, count int, exact bool) (*Set, error) {
	_, _, c, hh, ww, _ := npyImageShape(name, h, layout)
	dim := c * hh * ww
	rowBytes := dim * t.size
	if !exact {
		// The header's claim is unchecked: read the bytes first, growing the
		// buffer as they arrive, then decode them with exact allocations.
		raw, err := readGrowing(r, count*rowBytes)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, truncated("NPY", name, "data truncated in image %d of %d (shape %v)", first+len(raw)/rowBytes, first+count, h.Shape)
			}
			return nil, readFailed("NPY", name, err, "data")
		}
		return readNPYImageRows(bytes.NewReader(raw), name, h, t, layout, first, count, true)
	}
	s := &Set{Name: name, C: c, H: hh, W: ww, Images: make([]float32, 0, count*dim)}
	s.Labels = make([]int, 0, count)
	s.Index = make([]int, 0, count)
	per := max(1, readChunk/rowBytes) // rows per read
	buf := make([]byte, min(per, count)*rowBytes)
	row := make([]float32, dim) // one image in file order
	transpose := layout == NHWC && c > 1
	for done := 0; done < count; {
		k := min(per, count-done)
		b := buf[:k*rowBytes]
		if got, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, truncated("NPY", name, "data truncated in image %d of %d (shape %v)", first+done+got/rowBytes, first+count, h.Shape)
			}
			return nil, readFailed("NPY", name, err, "data")
		}
		for j := range k {
			dst := s.Images[len(s.Images) : len(s.Images)+dim]
			s.Images = s.Images[:len(s.Images)+dim]
			src := b[j*rowBytes : (j+1)*rowBytes]
			vals := dst
			if transpose {
				vals = row
			}
			if err := decodeNPYValues(vals, src, t); err != nil {
				return nil, invalid("NPY", name, nil, "image %d: %v", first+done+j, err)
			}
			if transpose { // (H, W, C) → (C, H, W)
				hw := hh * ww
				for p := range hw {
					for ch := range c {
						dst[ch*hw+p] = row[p*c+ch]
					}
				}
			}
			s.Labels = append(s.Labels, -1)
			s.Index = append(s.Index, first+done+j)
		}
		done += k
	}
	return s, nil
}

// decodeNPYValues converts src (values of type t) to pixels in dst: uint8 as
// byte/255, floats as they are after checking that they lie in [0,1].
func decodeNPYValues(dst []float32, src []byte, t npyType) error {
	switch {
	case t.kind == 'u' && t.size == 1:
		for i, b := range src {
			dst[i] = byteScale[b]
		}
		return nil
	case t.kind == 'f' && t.size == 4:
		for i := range dst {
			dst[i] = math.Float32frombits(t.order.Uint32(src[4*i:]))
		}
	case t.kind == 'f' && t.size == 8:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(t.order.Uint64(src[8*i:])))
		}
	default:
		panic("datasets: decodeNPYValues: unchecked dtype")
	}
	for _, v := range dst {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("value %v outside [0,1] (float images must be scaled to [0,1])", v)
		}
	}
	return nil
}

// npyLabelType checks that h describes a 1-D integer array.
func npyLabelType(name string, h NPYHeader) (npyType, error) {
	if h.Fortran && len(h.Shape) > 1 {
		return npyType{}, unsupported("NPY", name, "fortran_order True (want C order)")
	}
	t, err := parseNPYDescr(name, h.Descr)
	if err != nil {
		return t, err
	}
	if t.kind == 'f' {
		return t, unsupported("NPY", name, "label dtype %q (want an integer type such as '<i8', '<i4' or '|u1')", h.Descr)
	}
	if len(h.Shape) != 1 {
		return t, invalid("NPY", name, nil, "label shape %v (want (N,))", h.Shape)
	}
	return t, nil
}

// ReadNPYLabels decodes a 1-D .npy array of integer class labels (any of
// int8..int64, uint8..uint64, either byte order). Every label must lie in
// [-1, 2³¹−1]; -1 means "no label".
func ReadNPYLabels(r io.Reader, name string) ([]int, error) {
	h, err := ReadNPYHeader(r, name)
	if err != nil {
		return nil, err
	}
	t, err := npyLabelType(name, h)
	if err != nil {
		return nil, err
	}
	l, err := readNPYLabelRows(r, name, h, t, 0, h.Shape[0], false)
	if err != nil {
		return nil, err
	}
	return l, npyEnd(r, name, h)
}

// OpenNPYLabels reads the .npy label file at path; see ReadNPYLabels.
func OpenNPYLabels(path string) ([]int, error) { return OpenNPYLabelRows(path, 0, -1) }

// OpenNPYLabelRows reads count labels starting at label first (count < 0: to
// the end) from the .npy file at path, seeking past the others.
func OpenNPYLabelRows(path string, first, count int) ([]int, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := ReadNPYHeader(f, path)
	if err != nil {
		return nil, err
	}
	t, err := npyLabelType(path, h)
	if err != nil {
		return nil, err
	}
	if size >= 0 {
		if err := checkNPYSize(path, h, t.size, size); err != nil {
			return nil, err
		}
	}
	n := h.Shape[0]
	if count < 0 {
		count = n - first
	}
	if first < 0 || count < 0 || first > n-count {
		return nil, fmt.Errorf("datasets: %s: labels [%d, %d) requested of %d", path, first, first+count, n)
	}
	if first > 0 {
		if _, err := f.Seek(h.DataOffset+int64(first)*int64(t.size), io.SeekStart); err != nil {
			return nil, fmt.Errorf("datasets: %s: %w", path, err)
		}
	}
	return readNPYLabelRows(f, path, h, t, first, count, size >= 0)
}

func readNPYLabelRows(r io.Reader, name string, h NPYHeader, t npyType, first, count int, exact bool) ([]int, error) {
	var out []int
	if exact {
		out = make([]int, 0, count)
	}
	buf := make([]byte, min(count*t.size, readChunk/8*t.size))
	for len(out) < count {
		k := min(len(buf)/t.size, count-len(out))
		b := buf[:k*t.size]
		if got, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, truncated("NPY", name, "data truncated at label %d of %d", first+len(out)+got/t.size, first+count)
			}
			return nil, readFailed("NPY", name, err, "labels")
		}
		out = growTo(out, k, count)
		for j := range k {
			v, ok := npyInt(b[j*t.size:], t)
			if !ok || v < -1 || v > math.MaxInt32 {
				return nil, invalid("NPY", name, nil, "label %d is %s (want -1..%d)", first+len(out), npyIntString(b[j*t.size:], t), math.MaxInt32)
			}
			out = append(out, int(v))
		}
	}
	return out, nil
}

// npyInt decodes one integer; ok is false if it does not fit an int64.
func npyInt(b []byte, t npyType) (int64, bool) {
	var u uint64
	switch t.size {
	case 1:
		u = uint64(b[0])
		if t.kind == 'i' {
			return int64(int8(b[0])), true
		}
	case 2:
		u = uint64(t.order.Uint16(b))
		if t.kind == 'i' {
			return int64(int16(u)), true
		}
	case 4:
		u = uint64(t.order.Uint32(b))
		if t.kind == 'i' {
			return int64(int32(u)), true
		}
	case 8:
		u = t.order.Uint64(b)
		if t.kind == 'i' {
			return int64(u), true
		}
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

func npyIntString(b []byte, t npyType) string {
	if v, ok := npyInt(b, t); ok {
		return fmt.Sprint(v)
	}
	return fmt.Sprint(t.order.Uint64(b))
}

// LoadNPY reads a pair of .npy files, images (see ReadNPYImages) and labels
// (see ReadNPYLabels; "" = none, labels -1), into one set named "npy".
func LoadNPY(images, labels string, layout NPYLayout) (*Set, error) {
	s, err := OpenNPYImages(images, layout)
	if err != nil {
		return nil, err
	}
	s.Name = "npy"
	if labels == "" {
		return s, nil
	}
	l, err := OpenNPYLabels(labels)
	if err != nil {
		return nil, err
	}
	if len(l) != s.Len() {
		return nil, fmt.Errorf("datasets: %d images in %s but %d labels in %s", s.Len(), images, len(l), labels)
	}
	s.Labels = l
	return s, nil
}

// NPYParams is the TOML table of kind "npy".
type NPYParams struct {
	Images string `toml:"images" json:"images"` // path of the images .npy file (required)
	Labels string `toml:"labels" json:"labels"` // path of the labels .npy file; "" = no labels (-1)
	Layout string `toml:"layout" json:"layout"` // "nhwc" (default) or "nchw", for 4-D arrays
}

type npySource struct {
	p      NPYParams
	layout NPYLayout
}

func (s *npySource) Kind() string     { return "npy" }
func (s *npySource) Splits() []string { return []string{} }
func (s *npySource) Load(req Request) (*Set, error) {
	return LoadNPY(s.p.Images, s.p.Labels, s.layout)
}

// Where returns the images path; found reports whether the files exist.
func (s *npySource) Where() (string, bool) {
	if !isRegularFile(s.p.Images) || (s.p.Labels != "" && !isRegularFile(s.p.Labels)) {
		return s.p.Images, false
	}
	return s.p.Images, true
}

func init() {
	Register("npy",
		"Your own images in a NumPy .npy file: uint8 (pixels byte/255) or float32/float64 in [0,1], C order, "+
			"shape (N, H, W) for grey or (N, H, W, C) with C = 1 or 3 (layout \"nchw\": (N, C, H, W)); optional 1-D integer labels .npy; no splits. "+
			"Params: images (required), labels, layout (\"nhwc\" default, or \"nchw\").",
		func(params Decoder) (Source, error) {
			var p NPYParams
			if err := decodeParams("npy", params, &p); err != nil {
				return nil, err
			}
			if p.Images == "" {
				return nil, fmt.Errorf("datasets: npy: param images is required")
			}
			var layout NPYLayout
			switch p.Layout {
			case "", "nhwc":
			case "nchw":
				layout = NCHW
			default:
				return nil, fmt.Errorf("datasets: npy: layout = %q (want \"nhwc\" or \"nchw\")", p.Layout)
			}
			return &npySource{p, layout}, nil
		})
}
