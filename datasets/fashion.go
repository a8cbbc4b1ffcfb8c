package datasets

import (
	"fmt"
	"path/filepath"
)

// FashionMNISTDir is where the Debian package dataset-fashion-mnist installs
// the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz).
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// LoadFashionMNIST loads split "train" (60,000 images) or "test" (10,000) of
// Fashion-MNIST: 28×28 greyscale clothing images, C = 1, pixels byte/255,
// labels 0..9, Index the position in the official file. dir holds the IDX
// files, gzipped or not; "" means FashionMNISTDir.
func LoadFashionMNIST(dir, split string) (*Set, error) {
	if dir == "" {
		return loadFashionMNIST(FashionMNISTDir, true, split)
	}
	return loadFashionMNIST(dir, false, split)
}

// loadFashionMNIST loads split from dir; isDefault selects the not-found hint.
func loadFashionMNIST(dir string, isDefault bool, split string) (*Set, error) {
	if err := checkSplit("fashion-mnist", split); err != nil {
		return nil, err
	}
	images, labels, ok := idxPair(dir, split)
	if !ok {
		if isDefault {
			return nil, fmt.Errorf("datasets: fashion-mnist not found in %s (install the Debian package dataset-fashion-mnist, or set path)", dir)
		}
		return nil, fmt.Errorf("datasets: fashion-mnist not found in %s (want %s and %s, gzipped or not)",
			dir, filepath.Base(images), filepath.Base(labels))
	}
	return LoadIDXImages(images, labels, "fashion-mnist:"+split)
}

// FashionMNISTParams is the TOML table of kind "fashion-mnist".
type FashionMNISTParams struct {
	Path string `toml:"path"` // folder with the IDX files; "" = FashionMNISTDir
}

type fashionSource struct{ p FashionMNISTParams }

func (s *fashionSource) Kind() string     { return "fashion-mnist" }
func (s *fashionSource) Splits() []string { return append([]string(nil), idxSplitNames...) }

func (s *fashionSource) Load(req Request) (*Set, error) {
	return LoadFashionMNIST(s.p.Path, req.Split)
}

func (s *fashionSource) Where() (string, bool) {
	dir := s.p.Path
	if dir == "" {
		dir = FashionMNISTDir
	}
	return dir, allIDXSplits(dir)
}

func init() {
	Register("fashion-mnist",
		"Fashion-MNIST clothing images, 28×28×1, labels 0-9; splits train (60,000) and test (10,000). "+
			"Params: path (folder with the IDX files; default "+FashionMNISTDir+", Debian package dataset-fashion-mnist).",
		func(params Decoder) (Source, error) {
			var p FashionMNISTParams
			if err := decodeParams("fashion-mnist", params, &p); err != nil {
				return nil, err
			}
			return &fashionSource{p}, nil
		})
}
