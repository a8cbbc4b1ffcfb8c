package datasets

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
)

// svhnFiles maps SVHN's splits to the format-2 ("cropped digits") files.
var (
	svhnFiles  = map[string]string{"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}
	svhnSplits = []string{"train", "test", "extra"}
)

// svhnFolder is SVHN's default folder under DataRoot().
const svhnFolder = "svhn"

// ReadSVHN decodes an SVHN format-2 file (train_32x32.mat, test_32x32.mat,
// extra_32x32.mat; http://ufldl.stanford.edu/housenumbers/) from r: a level-5
// MAT-file (see ReadMat) with a uint8 variable X of size H×W×C×N (32×32×3×N;
// column-major, so pixel (row, col, channel) of image n is
// X[row + H·col + H·W·channel + H·W·C·n]) and a variable y of N labels
// (double, single or uint8; N×1 or 1×N) in 1..10, where 10 stands for the
// digit 0 — the label becomes 0, as torchvision's SVHN does (a 0 is also
// accepted). The set is NCHW with pixels byte/255 and Index 0..N-1.
func ReadSVHN(r io.Reader, name string) (*Set, error) {
	vars, err := ReadMat(r, name, "X", "y")
	if err != nil {
		return nil, err
	}
	return svhnSet(name, vars)
}

// OpenSVHN reads the SVHN format-2 file at path; see ReadSVHN.
func OpenSVHN(path string) (*Set, error) {
	vars, err := OpenMat(path, "X", "y")
	if err != nil {
		return nil, err
	}
	return svhnSet(path, vars)
}

func svhnSet(name string, vars map[string]*MatVar) (*Set, error) {
	x, y := vars["X"], vars["y"]
	if x.Class != MatUint8 {
		return nil, unsupported("MAT", name, "X is a %s array (want uint8)", x.Class)
	}
	d := x.Dims
	if len(d) == 3 { // MATLAB drops a trailing singleton: one image
		d = append(slices.Clone(d), 1)
	}
	if len(d) != 4 || (d[2] != 1 && d[2] != 3) || d[0] == 0 || d[1] == 0 {
		return nil, invalid("MAT", name, nil, "X has dimensions %v (want H×W×C×N with C = 1 or 3)", x.Dims)
	}
	h, w, c, n := d[0], d[1], d[2], d[3]
	if len(y.Dims) != 2 || min(y.Dims[0], y.Dims[1]) != 1 && n != 1 || y.Len() != n {
		return nil, invalid("MAT", name, nil, "y has dimensions %v (want %d×1 labels, one per image of X)", y.Dims, n)
	}
	if n == 0 {
		return nil, invalid("MAT", name, nil, "X holds no images (dimensions %v)", x.Dims)
	}
	s := &Set{Name: name, C: c, H: h, W: w,
		Images: make([]float32, len(x.Uint8)), Labels: make([]int, n), Index: make([]int, n)}
	for i := range n {
		v := svhnLabel(y, i)
		if !(v >= 0 && v <= 10 && v == math.Trunc(v)) {
			return nil, invalid("MAT", name, nil, "y(%d) is %v (want an integer label 1..10)", i+1, v)
		}
		s.Labels[i] = int(v) % 10
		s.Index[i] = i
	}
	// Column-major H×W×C per image → row-major C×H×W.
	hw := h * w
	for i := range n {
		src := x.Uint8[i*c*hw : (i+1)*c*hw]
		dst := s.Image(i)
		for ch := range c {
			plane := src[ch*hw : (ch+1)*hw]
			out := dst[ch*hw : (ch+1)*hw]
			for col := range w {
				for row, b := range plane[col*h : (col+1)*h] {
					out[row*w+col] = byteScale[b]
				}
			}
		}
	}
	return s, nil
}

func svhnLabel(y *MatVar, i int) float64 {
	switch y.Class {
	case MatUint8:
		return float64(y.Uint8[i])
	case MatSingle:
		return float64(y.Float32[i])
	}
	return y.Float64[i]
}

// LoadSVHN loads split "train" (73,257 images), "test" (26,032) or "extra"
// (531,131) of SVHN's cropped digits from dir ("" = DefaultPath("svhn")):
// 32×32×3, labels 0..9. The bytes of X are held while they are converted, so
// a split needs 5 bytes per pixel value at its peak (extra: 8.2 GB).
func LoadSVHN(dir, split string) (*Set, error) {
	if dir == "" {
		dir = DefaultPath(svhnFolder)
	}
	f, ok := svhnFiles[split]
	if !ok {
		return nil, fmt.Errorf("datasets: svhn: unknown split %q (want one of %s)", split, strings.Join(svhnSplits, ", "))
	}
	p := filepath.Join(dir, f)
	if !isRegularFile(p) {
		return nil, fmt.Errorf("datasets: svhn: %s split not found in %s (want %s)", split, dir, f)
	}
	s, err := OpenSVHN(p)
	if err != nil {
		return nil, err
	}
	s.Name = "svhn:" + split
	return s, nil
}

// SVHNParams is the TOML table of kind "svhn".
type SVHNParams struct {
	Path string `toml:"path" json:"path"` // folder with the *_32x32.mat files; "" = DefaultPath("svhn")
}

type svhnSource struct{ dir string }

func (s *svhnSource) Kind() string                   { return "svhn" }
func (s *svhnSource) Splits() []string               { return append([]string(nil), svhnSplits...) }
func (s *svhnSource) Load(req Request) (*Set, error) { return LoadSVHN(s.dir, req.Split) }

// Where returns the folder; found means train_32x32.mat and test_32x32.mat
// are there (extra_32x32.mat is optional).
func (s *svhnSource) Where() (string, bool) {
	return s.dir, isRegularFile(filepath.Join(s.dir, svhnFiles["train"])) && isRegularFile(filepath.Join(s.dir, svhnFiles["test"]))
}

func init() {
	Register("svhn",
		"SVHN cropped digits (format 2, MATLAB .mat files), 32×32×3, labels 0-9 (the files' 10 = digit 0); "+
			"splits train (train_32x32.mat, 73,257), test (test_32x32.mat, 26,032) and extra (extra_32x32.mat, 531,131). "+
			"Params: path (folder of the .mat files; default $PURVIEW_DATA/svhn).",
		func(params Decoder) (Source, error) {
			var p SVHNParams
			if err := decodeParams("svhn", params, &p); err != nil {
				return nil, err
			}
			dir := p.Path
			if dir == "" {
				dir = DefaultPath(svhnFolder)
			}
			return &svhnSource{dir}, nil
		})
}
