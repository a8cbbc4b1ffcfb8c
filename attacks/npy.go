package attacks

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"codeberg.org/sbinet/npyio"
	"github.com/purview-lab/purview/internal/atomicfile"
)

// saveFormat tags the JSON side file so that Load can reject other JSON.
const saveFormat = "purview-attack/1"

// meta is the JSON side file of a saved Result.
type meta struct {
	Format         string    `json:"format"`
	Attack         string    `json:"attack"`
	N              int       `json:"n"`
	C              int       `json:"c"`
	H              int       `json:"h"`
	W              int       `json:"w"`
	Labels         []int     `json:"labels"`
	CleanPred      []int     `json:"clean_pred"`
	Pred           []int     `json:"pred"`
	Success        []bool    `json:"success"`
	Linf           []float64 `json:"linf"`
	L2             []float64 `json:"l2"`
	ElapsedSeconds float64   `json:"elapsed_seconds"`
}

// Save writes r as two files, each atomically (temporary file + rename):
// base+".npy", the adversarial images as a NumPy float32 array of shape
// (N, C, H, W) in C order (np.load reads it), and base+".json", everything
// else (attack name, labels, predictions, success flags, norms, time).
func Save(base string, r *Result) error {
	d := r.C * r.H * r.W
	if len(r.Adv) != r.N*d || len(r.Labels) != r.N || len(r.CleanPred) != r.N || len(r.Pred) != r.N ||
		len(r.Success) != r.N || len(r.Linf) != r.N || len(r.L2) != r.N {
		panic("attacks: Save: result slices do not match N, C, H, W")
	}
	if err := atomicfile.Write(base+".npy", func(w io.Writer) error {
		return writeNPYFloat32(w, r.Adv, []int{r.N, r.C, r.H, r.W})
	}); err != nil {
		return fmt.Errorf("attacks: %w", err)
	}
	m := meta{Format: saveFormat, Attack: r.Attack, N: r.N, C: r.C, H: r.H, W: r.W,
		Labels: r.Labels, CleanPred: r.CleanPred, Pred: r.Pred, Success: r.Success,
		Linf: r.Linf, L2: r.L2, ElapsedSeconds: r.Elapsed.Seconds()}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("attacks: encoding %s.json: %w", base, err)
	}
	if err := atomicfile.WriteFile(base+".json", append(b, '\n')); err != nil {
		return fmt.Errorf("attacks: %w", err)
	}
	return nil
}

// writeNPYFloat32 writes data as a version 1.0 .npy file of the given shape,
// little-endian float32, C order; the header is padded with spaces so that
// the data starts at a multiple of 64 bytes, as NumPy does.
func writeNPYFloat32(w io.Writer, data []float32, shape []int) error {
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = strconv.Itoa(s)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (" + tuple + "), }"
	const pre = 10 // magic (6) + version (2) + header length (2)
	pad := (64 - (pre+len(dict)+1)%64) % 64
	header := dict + strings.Repeat(" ", pad) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("npy header of %d bytes is too long", len(header))
	}
	var hb [pre]byte
	copy(hb[:], npyio.Magic[:])
	hb[6], hb[7] = 1, 0
	binary.LittleEndian.PutUint16(hb[8:], uint16(len(header)))
	if _, err := w.Write(hb[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// Load reads a Result written by Save from base+".npy" and base+".json". It
// checks that the files agree (the array is float32 of shape (N, C, H, W)
// with the JSON's N, C, H, W; every per-sample list has N entries) and that
// every pixel lies in [0,1]; errors name the file.
func Load(base string) (*Result, error) {
	jf := base + ".json"
	raw, err := os.ReadFile(jf)
	if err != nil {
		return nil, fmt.Errorf("attacks: %w", err)
	}
	var m meta
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("attacks: %s: invalid format: %w", jf, err)
	}
	if m.Format != saveFormat {
		return nil, fmt.Errorf("attacks: %s: invalid format: format %q, want %q", jf, m.Format, saveFormat)
	}
	if m.N < 0 || m.C <= 0 || m.H <= 0 || m.W <= 0 {
		return nil, fmt.Errorf("attacks: %s: invalid format: shape n=%d c=%d h=%d w=%d, want n ≥ 0 and c, h, w > 0", jf, m.N, m.C, m.H, m.W)
	}
	for _, l := range []struct {
		key string
		n   int
	}{{"labels", len(m.Labels)}, {"clean_pred", len(m.CleanPred)}, {"pred", len(m.Pred)}, {"success", len(m.Success)}, {"linf", len(m.Linf)}, {"l2", len(m.L2)}} {
		if l.n != m.N {
			return nil, fmt.Errorf("attacks: %s: invalid format: %q has %d entries, want n = %d", jf, l.key, l.n, m.N)
		}
	}
	for i := range m.N {
		if m.Labels[i] < 0 || m.CleanPred[i] < 0 || m.Pred[i] < 0 {
			return nil, fmt.Errorf("attacks: %s: invalid format: sample %d has a negative class", jf, i)
		}
	}
	nf := base + ".npy"
	adv, err := readNPYFloat32(nf, []int{m.N, m.C, m.H, m.W})
	if err != nil {
		return nil, err
	}
	return &Result{Attack: m.Attack, N: m.N, C: m.C, H: m.H, W: m.W, Adv: adv,
		Labels: m.Labels, CleanPred: m.CleanPred, Pred: m.Pred, Success: m.Success,
		Linf: m.Linf, L2: m.L2, Elapsed: time.Duration(m.ElapsedSeconds * float64(time.Second))}, nil
}

// readNPYFloat32 reads a little-endian float32 C-order .npy array of exactly
// the given shape with every value in [0,1].
func readNPYFloat32(path string, shape []int) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("attacks: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("attacks: %w", err)
	}
	r, err := npyio.NewReader(bufio.NewReader(f))
	if err != nil {
		if errors.Is(err, npyio.ErrInvalidNumPyFormat) {
			return nil, fmt.Errorf("attacks: %s: invalid format: not a .npy file", path)
		}
		return nil, fmt.Errorf("attacks: %s: invalid format: %w", path, err)
	}
	h := r.Header.Descr
	if dtype := strings.Trim(h.Type, `'"`); dtype != "<f4" || h.Fortran {
		return nil, fmt.Errorf("attacks: %s: unsupported array: dtype %s, fortran_order %v; want <f4 in C order", path, dtype, h.Fortran)
	}
	if !slices.Equal(h.Shape, shape) {
		return nil, fmt.Errorf("attacks: %s: array shape %v, want %v (from the JSON file)", path, h.Shape, shape)
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	// The shape matches the JSON's, but check the size before allocating.
	if int64(n)*4 > st.Size() {
		return nil, fmt.Errorf("attacks: %s: %w: %d bytes cannot hold %d float32 values", path, io.ErrUnexpectedEOF, st.Size(), n)
	}
	data := make([]float32, 0, n)
	if err := r.Read(&data); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("attacks: %s: reading the array: %w", path, err)
	}
	if len(data) != n {
		return nil, fmt.Errorf("attacks: %s: %w: %d values, want %d", path, io.ErrUnexpectedEOF, len(data), n)
	}
	d := n / max(shape[0], 1)
	for j, v := range data {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("attacks: %s: image %d has pixel value %v outside [0,1]", path, j/d, v)
		}
	}
	return data, nil
}
