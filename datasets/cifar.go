package datasets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// CIFARFormat says which record layout a CIFAR binary file has and which of
// its labels becomes Set.Labels.
type CIFARFormat int

const (
	// CIFAR10: 3073-byte records, a label byte 0..9 then the pixels.
	CIFAR10 CIFARFormat = iota
	// CIFAR100Fine: 3074-byte records, a coarse label byte 0..19, a fine label
	// byte 0..99, then the pixels; Labels are the fine labels.
	CIFAR100Fine
	// CIFAR100Coarse: the CIFAR100Fine records; Labels are the coarse labels
	// (the 20 superclasses).
	CIFAR100Coarse
)

func (f CIFARFormat) String() string {
	switch f {
	case CIFAR10:
		return "CIFAR-10"
	case CIFAR100Fine:
		return "CIFAR-100 (fine labels)"
	case CIFAR100Coarse:
		return "CIFAR-100 (coarse labels)"
	}
	return fmt.Sprintf("CIFARFormat(%d)", int(f))
}

// cifarPixels is the number of pixel bytes per record: 3 planes of 32×32.
const cifarPixels = 3 * 32 * 32

// layout returns the record size and the label bytes' ranges.
func (f CIFARFormat) layout() (rec int, nLabels []int) {
	switch f {
	case CIFAR10:
		return 1 + cifarPixels, []int{10}
	case CIFAR100Fine, CIFAR100Coarse:
		return 2 + cifarPixels, []int{20, 100}
	}
	panic(fmt.Sprintf("datasets: unknown CIFARFormat %d", int(f)))
}

// labelAt returns the index of the label byte that becomes Set.Labels.
func (f CIFARFormat) labelAt() int {
	if f == CIFAR100Fine {
		return 1
	}
	return 0
}

// ReadCIFAR decodes one CIFAR binary batch file (data_batch_1.bin,
// test_batch.bin, train.bin, ...) from r; name is used only in error messages.
//
// Format (https://www.cs.toronto.edu/~kriz/cifar.html): no header, a sequence
// of fixed-size records. CIFAR-10 records are 1 label byte (0..9) and 3072
// pixel bytes; CIFAR-100 records are a coarse label byte (0..19), a fine label
// byte (0..99) and 3072 pixel bytes. The pixels are 1024 red, 1024 green, then
// 1024 blue values, each plane 32×32 row-major, so a record is already one
// CHW image. The set has C = 3, H = W = 32, pixels byte/255, Index the record
// number. A label byte out of range, an empty input or a last record cut short
// (io.ErrUnexpectedEOF) is an ErrFormat error naming the record. Memory grows
// with the records actually read.
func ReadCIFAR(r io.Reader, name string, f CIFARFormat) (*Set, error) {
	s := newCIFARSet(name, 0)
	if err := decodeCIFAR(r, name, f, s, -1); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenCIFAR reads the CIFAR binary files at paths, in order, into one set whose
// Index counts records across all of them (data_batch_1..5.bin give indices
// 0..49999 of the training set). Every file's size must be a positive multiple
// of the record size; the sizes fix the number of images, so the pixels are
// decoded straight into one allocation of exactly the output's size. Name is
// the last path's base name; callers overwrite it.
func OpenCIFAR(f CIFARFormat, paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("datasets: OpenCIFAR: no files given")
	}
	rec, _ := f.layout()
	files := make([]*os.File, len(paths))
	defer func() {
		for _, fh := range files {
			if fh != nil {
				fh.Close()
			}
		}
	}()
	sizes := make([]int64, len(paths))
	total := 0
	for i, p := range paths {
		fh, size, err := openSized(p)
		if err != nil {
			return nil, err
		}
		files[i], sizes[i] = fh, size
		if size < 0 {
			continue
		}
		var magic [2]byte
		if n, _ := fh.ReadAt(magic[:], 0); n == 2 && magic == gzipMagic {
			return nil, errCIFARGzip(p)
		}
		if err := checkCIFARSize(p, f, size); err != nil {
			return nil, err
		}
		n := size / int64(rec)
		if int64(total)+n > math.MaxInt32 {
			return nil, invalid("CIFAR", p, nil, "%d records in all exceed %d", int64(total)+n, math.MaxInt32)
		}
		total += int(n)
	}
	s := newCIFARSet(filepath.Base(paths[len(paths)-1]), total)
	for i, fh := range files {
		want := -1
		if sizes[i] >= 0 {
			want = int(sizes[i] / int64(rec))
		}
		if err := decodeCIFAR(fh, paths[i], f, s, want); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func errCIFARGzip(name string) error {
	return invalid("CIFAR", name, nil, "file starts with the gzip magic 1f 8b (extract the .tar.gz archive and give the .bin files)")
}

// checkCIFARSize rejects a file whose size is not a positive whole number of records.
func checkCIFARSize(name string, f CIFARFormat, size int64) error {
	rec, _ := f.layout()
	if size == 0 {
		return truncated("CIFAR", name, "empty file")
	}
	if size%int64(rec) != 0 {
		return truncated("CIFAR", name, "file has %d bytes, not a whole number of %d-byte %s records (record %d has %d bytes)",
			size, rec, f, size/int64(rec), size%int64(rec))
	}
	return nil
}

func newCIFARSet(name string, n int) *Set {
	return &Set{Name: name, C: 3, H: 32, W: 32,
		Images: make([]float32, 0, n*cifarPixels), Labels: make([]int, 0, n), Index: make([]int, 0, n)}
}

// cifarChunk is how many records are read per call to the underlying reader.
const cifarChunk = 256

// decodeCIFAR appends the records of r to s. want is the number of records
// the file holds if known (s then already has room for them), else -1.
func decodeCIFAR(r io.Reader, name string, f CIFARFormat, s *Set, want int) error {
	rec, nLabels := f.layout()
	lb := len(nLabels)
	at := f.labelAt()
	// With a known size, read up to cifarChunk records at a time (plus one
	// byte, to see the end of a small file); otherwise start with one record
	// and double, so that a short input costs little.
	var buf []byte
	switch {
	case want >= cifarChunk:
		buf = make([]byte, cifarChunk*rec)
	case want >= 0:
		buf = make([]byte, want*rec+1)
	default:
		buf = make([]byte, rec)
	}
	start := s.Len() // records of earlier files
	read := 0        // records of this file
	for {
		n, err := io.ReadFull(r, buf)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return readFailed("CIFAR", name, err, fmt.Sprintf("record %d", read+n/rec))
		}
		whole := n / rec
		if read == 0 && n >= 2 && buf[0] == gzipMagic[0] && buf[1] == gzipMagic[1] {
			return errCIFARGzip(name)
		}
		if want >= 0 && read+whole > want {
			return invalid("CIFAR", name, nil, "file grew while reading: more than %d records", want)
		}
		s.Images = growTo(s.Images, whole*cifarPixels, math.MaxInt)
		base := len(s.Images)
		s.Images = s.Images[:base+whole*cifarPixels]
		for k := range whole {
			rb := buf[k*rec : (k+1)*rec]
			for j, m := range nLabels {
				if int(rb[j]) >= m {
					kind := "label"
					if lb == 2 {
						kind = [2]string{"coarse label", "fine label"}[j]
					}
					return invalid("CIFAR", name, nil, "record %d: %s %d (want 0..%d)", read+k, kind, rb[j], m-1)
				}
			}
			px := s.Images[base+k*cifarPixels : base+(k+1)*cifarPixels]
			for i, b := range rb[lb:rec] {
				px[i] = byteScale[b]
			}
			s.Labels = append(s.Labels, int(rb[at]))
			s.Index = append(s.Index, start+read+k)
		}
		read += whole
		if want < 0 && n == len(buf) && len(buf) < cifarChunk*rec {
			buf = make([]byte, min(2*len(buf), cifarChunk*rec))
		}
		if rest := n % rec; rest != 0 && err != nil {
			return truncated("CIFAR", name, "record %d truncated: %d of %d bytes", read, rest, rec)
		}
		if err != nil { // io.EOF or io.ErrUnexpectedEOF at a record boundary
			break
		}
	}
	if read == 0 {
		return truncated("CIFAR", name, "empty file")
	}
	if want >= 0 && read != want {
		return truncated("CIFAR", name, "file shrank while reading: %d of %d records", read, want)
	}
	return nil
}

// The file names of the official binary releases.
var (
	cifar10Files = map[string][]string{
		"train": {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		"test":  {"test_batch.bin"},
	}
	cifar100Files = map[string][]string{"train": {"train.bin"}, "test": {"test.bin"}}
	trainTest     = []string{"train", "test"}
)

// Default folders, under DataRoot(), as the official archives extract.
const (
	cifar10Folder  = "cifar-10-batches-bin"
	cifar100Folder = "cifar-100-binary"
)

// cifarSplitFiles returns the paths of split's files in dir, or an error that
// names the missing ones.
func cifarSplitFiles(kind, dir, split string, files map[string][]string) ([]string, error) {
	names, ok := files[split]
	if !ok {
		return nil, fmt.Errorf("datasets: %s: unknown split %q (want one of %s)", kind, split, strings.Join(trainTest, ", "))
	}
	var paths, missing []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if !isRegularFile(p) {
			missing = append(missing, n)
		}
		paths = append(paths, p)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("datasets: %s: %s split not found in %s (missing %s)", kind, split, dir, strings.Join(missing, ", "))
	}
	return paths, nil
}

// LoadCIFAR10 loads split "train" (data_batch_1..5.bin, 50,000 images) or
// "test" (test_batch.bin, 10,000) of CIFAR-10 from dir, the folder
// cifar-10-batches-bin of the official binary archive ("" = DefaultPath of
// that name). Images are 3×32×32, labels 0..9 (airplane ... truck, as listed
// in batches.meta.txt), Index the position in the split.
func LoadCIFAR10(dir, split string) (*Set, error) {
	if dir == "" {
		dir = DefaultPath(cifar10Folder)
	}
	paths, err := cifarSplitFiles("cifar10", dir, split, cifar10Files)
	if err != nil {
		return nil, err
	}
	s, err := OpenCIFAR(CIFAR10, paths...)
	if err != nil {
		return nil, err
	}
	s.Name = "cifar10:" + split
	return s, nil
}

// LoadCIFAR100 loads split "train" (train.bin, 50,000 images) or "test"
// (test.bin, 10,000) of CIFAR-100 from dir, the folder cifar-100-binary of the
// official binary archive ("" = DefaultPath of that name). labels is "fine"
// (100 classes, fine_label_names.txt) or "coarse" (20 superclasses,
// coarse_label_names.txt).
func LoadCIFAR100(dir, split, labels string) (*Set, error) {
	f, err := cifar100Labels(labels)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		dir = DefaultPath(cifar100Folder)
	}
	paths, err := cifarSplitFiles("cifar100", dir, split, cifar100Files)
	if err != nil {
		return nil, err
	}
	s, err := OpenCIFAR(f, paths...)
	if err != nil {
		return nil, err
	}
	s.Name = "cifar100:" + split
	return s, nil
}

func cifar100Labels(labels string) (CIFARFormat, error) {
	switch labels {
	case "fine", "":
		return CIFAR100Fine, nil
	case "coarse":
		return CIFAR100Coarse, nil
	}
	return 0, fmt.Errorf("datasets: cifar100: labels = %q (want \"fine\" or \"coarse\")", labels)
}

// ReadClassNames reads a class-name file of the CIFAR releases
// (batches.meta.txt, fine_label_names.txt, coarse_label_names.txt): one name
// per line, class i on the i-th non-blank line; surrounding spaces are trimmed.
func ReadClassNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n := strings.TrimSpace(sc.Text()); n != "" {
			names = append(names, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("datasets: %s: no class names", path)
	}
	return names, nil
}

// CIFAR10Params is the TOML table of kind "cifar10".
type CIFAR10Params struct {
	Path string `toml:"path" json:"path"` // the cifar-10-batches-bin folder; "" = DefaultPath("cifar-10-batches-bin")
}

// CIFAR100Params is the TOML table of kind "cifar100".
type CIFAR100Params struct {
	Path   string `toml:"path" json:"path"`     // the cifar-100-binary folder; "" = DefaultPath("cifar-100-binary")
	Labels string `toml:"labels" json:"labels"` // "fine" (default, 100 classes) or "coarse" (20)
}

type cifarSource struct {
	kind, dir string
	files     map[string][]string
	load      func(split string) (*Set, error)
}

func (s *cifarSource) Kind() string                   { return s.kind }
func (s *cifarSource) Splits() []string               { return append([]string(nil), trainTest...) }
func (s *cifarSource) Load(req Request) (*Set, error) { return s.load(req.Split) }

// Where returns the folder and whether every split's files are in it.
func (s *cifarSource) Where() (string, bool) {
	for _, sp := range trainTest {
		if _, err := cifarSplitFiles(s.kind, s.dir, sp, s.files); err != nil {
			return s.dir, false
		}
	}
	return s.dir, true
}

func init() {
	Register("cifar10",
		"CIFAR-10 (binary version), 32×32×3, labels 0-9; splits train (data_batch_1..5.bin, 50,000) and test (test_batch.bin, 10,000). "+
			"Params: path (the cifar-10-batches-bin folder; default $PURVIEW_DATA/cifar-10-batches-bin, $PURVIEW_DATA defaulting to "+DefaultDataRoot+").",
		func(params Decoder) (Source, error) {
			var p CIFAR10Params
			if err := decodeParams("cifar10", params, &p); err != nil {
				return nil, err
			}
			dir := p.Path
			if dir == "" {
				dir = DefaultPath(cifar10Folder)
			}
			return &cifarSource{kind: "cifar10", dir: dir, files: cifar10Files,
				load: func(split string) (*Set, error) { return LoadCIFAR10(dir, split) }}, nil
		})
	Register("cifar100",
		"CIFAR-100 (binary version), 32×32×3, 100 fine or 20 coarse labels; splits train (train.bin, 50,000) and test (test.bin, 10,000). "+
			"Params: path (the cifar-100-binary folder; default $PURVIEW_DATA/cifar-100-binary), labels (\"fine\" (default) or \"coarse\").",
		func(params Decoder) (Source, error) {
			var p CIFAR100Params
			if err := decodeParams("cifar100", params, &p); err != nil {
				return nil, err
			}
			if _, err := cifar100Labels(p.Labels); err != nil {
				return nil, err
			}
			dir := p.Path
			if dir == "" {
				dir = DefaultPath(cifar100Folder)
			}
			labels := p.Labels
			return &cifarSource{kind: "cifar100", dir: dir, files: cifar100Files,
				load: func(split string) (*Set, error) { return LoadCIFAR100(dir, split, labels) }}, nil
		})
}
