package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The released corruption benchmarks, read from their .npy files.
//
// CIFAR-10-C (https://zenodo.org/record/2535967) and CIFAR-100-C
// (https://zenodo.org/record/3555552) extract to a folder CIFAR-10-C /
// CIFAR-100-C holding labels.npy and one <corruption>.npy per corruption, of
// shape (50000, 32, 32, 3) uint8: the 10,000 test images at severity 1, then
// at severity 2, ..., 5. The corruptions are brightness, contrast,
// defocus_blur, elastic_transform, fog, frost, gaussian_blur, gaussian_noise,
// glass_blur, impulse_noise, jpeg_compression, motion_blur, pixelate,
// saturate, shot_noise, snow, spatter, speckle_noise and zoom_blur.
//
// MNIST-C (https://zenodo.org/record/3239543) extracts to mnist_c/ holding a
// folder per corruption (identity, shot_noise, impulse_noise, glass_blur,
// motion_blur, shear, scale, rotate, brightness, translate, stripe, fog,
// spatter, dotted_line, zigzag, canny_edges) with train_images.npy (60000,
// 28, 28, 1), train_labels.npy, test_images.npy (10000, 28, 28, 1) and
// test_labels.npy, each corruption at one fixed severity.

// CIFARCSeverities is the number of severities in a CIFAR-10-C file.
const CIFARCSeverities = 5

// Default folders under DataRoot().
const (
	cifar10CFolder  = "CIFAR-10-C"
	cifar100CFolder = "CIFAR-100-C"
	mnistCFolder    = "mnist_c"
)

// checkCorruptionName rejects names that are empty or could leave the folder.
func checkCorruptionName(kind, c string) error {
	if c == "" {
		return fmt.Errorf("datasets: %s: param corruption is required (e.g. \"shot_noise\")", kind)
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("datasets: %s: corruption = %q (want a name such as \"shot_noise\": lower-case letters, digits, '_')", kind, c)
		}
	}
	return nil
}

// listCorruptions names the corruptions available in dir: the .npy files
// other than labels.npy (files = true), or the sub-folders.
func listCorruptions(dir string, files bool) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "none: folder not readable"
	}
	var names []string
	for _, e := range ents {
		switch {
		case files && !e.IsDir() && strings.HasSuffix(e.Name(), ".npy") && e.Name() != "labels.npy":
			names = append(names, strings.TrimSuffix(e.Name(), ".npy"))
		case !files && e.IsDir():
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// LoadCIFARC reads one corruption at one severity (1..5) of CIFAR-10-C or
// CIFAR-100-C from dir: images (s−1)·M .. s·M−1 of <corruption>.npy, where
// M = N/5 (10,000), and the matching labels of labels.npy (which may also
// hold just M labels). Only those rows are read (the file is seeked, not
// loaded). Images are 3×32×32, pixels byte/255; Index is the position in the
// clean test set, 0..M−1, so the corrupted image i pairs with test image i.
// kind ("cifar10-c" or "cifar100-c") names the set in messages and Name.
func LoadCIFARC(kind, dir, corruption string, severity int) (*Set, error) {
	if err := checkCorruptionName(kind, corruption); err != nil {
		return nil, err
	}
	if severity < 1 || severity > CIFARCSeverities {
		return nil, fmt.Errorf("datasets: %s: severity = %d (want 1..%d)", kind, severity, CIFARCSeverities)
	}
	path := filepath.Join(dir, corruption+".npy")
	if !isRegularFile(path) {
		return nil, fmt.Errorf("datasets: %s: no %s.npy in %s (corruptions there: %s)", kind, corruption, dir, listCorruptions(dir, true))
	}
	f, _, err := openSized(path)
	if err != nil {
		return nil, err
	}
	h, err := ReadNPYHeader(f, path)
	f.Close()
	if err != nil {
		return nil, err
	}
	if len(h.Shape) != 4 || h.Shape[0]%CIFARCSeverities != 0 || h.Shape[0] == 0 {
		return nil, invalid("NPY", path, nil, "shape %v (want (5·M, H, W, C): M images at each of 5 severities)", h.Shape)
	}
	m := h.Shape[0] / CIFARCSeverities
	first := (severity - 1) * m
	s, err := OpenNPYImageRows(path, NHWC, first, m)
	if err != nil {
		return nil, err
	}
	labels := filepath.Join(dir, "labels.npy")
	lf, _, err := openSized(labels)
	if err != nil {
		return nil, err
	}
	lh, err := ReadNPYHeader(lf, labels)
	lf.Close()
	if err != nil {
		return nil, err
	}
	switch {
	case len(lh.Shape) == 1 && lh.Shape[0] == h.Shape[0]:
		s.Labels, err = OpenNPYLabelRows(labels, first, m)
	case len(lh.Shape) == 1 && lh.Shape[0] == m:
		s.Labels, err = OpenNPYLabels(labels)
	default:
		return nil, invalid("NPY", labels, nil, "shape %v (want (%d,) or (%d,) to match %s)", lh.Shape, h.Shape[0], m, filepath.Base(path))
	}
	if err != nil {
		return nil, err
	}
	for i := range s.Index {
		s.Index[i] -= first
	}
	s.Name = kind
	return s, nil
}

// LoadMNISTC reads split "train" or "test" of one MNIST-C corruption from
// dir (the mnist_c folder): <corruption>/<split>_images.npy, (N, 28, 28, 1)
// uint8, and <corruption>/<split>_labels.npy. Images are 1×28×28, pixels
// byte/255, Index the position in the file (= in MNIST's split).
func LoadMNISTC(dir, corruption, split string) (*Set, error) {
	if err := checkCorruptionName("mnist-c", corruption); err != nil {
		return nil, err
	}
	if err := checkSplit("mnist-c", split); err != nil {
		return nil, err
	}
	cdir := filepath.Join(dir, corruption)
	if !isDir(cdir) {
		return nil, fmt.Errorf("datasets: mnist-c: no folder %s in %s (corruptions there: %s)", corruption, dir, listCorruptions(dir, false))
	}
	images := filepath.Join(cdir, split+"_images.npy")
	labels := filepath.Join(cdir, split+"_labels.npy")
	for _, p := range []string{images, labels} {
		if !isRegularFile(p) {
			return nil, fmt.Errorf("datasets: mnist-c: %s split of %s not found (want %s)", split, corruption, p)
		}
	}
	s, err := LoadNPY(images, labels, NHWC)
	if err != nil {
		return nil, err
	}
	s.Name = "mnist-c:" + split
	return s, nil
}

// CIFARCParams is the TOML table of kinds "cifar10-c" and "cifar100-c".
type CIFARCParams struct {
	Path       string `toml:"path" json:"path"`             // the CIFAR-10-C / CIFAR-100-C folder; "" = DefaultPath of that name
	Corruption string `toml:"corruption" json:"corruption"` // e.g. "gaussian_noise" (required)
	Severity   int    `toml:"severity" json:"severity"`     // 1..5 (required)
}

// MNISTCParams is the TOML table of kind "mnist-c".
type MNISTCParams struct {
	Path       string `toml:"path" json:"path"`             // the mnist_c folder; "" = DefaultPath("mnist_c")
	Corruption string `toml:"corruption" json:"corruption"` // e.g. "shot_noise" (required)
}

type cifarCSource struct {
	kind string
	p    CIFARCParams
}

func (s *cifarCSource) Kind() string     { return s.kind }
func (s *cifarCSource) Splits() []string { return []string{} }
func (s *cifarCSource) Load(req Request) (*Set, error) {
	return LoadCIFARC(s.kind, s.p.Path, s.p.Corruption, s.p.Severity)
}

// Where returns the corruption's file; found means it and labels.npy exist.
func (s *cifarCSource) Where() (string, bool) {
	p := filepath.Join(s.p.Path, s.p.Corruption+".npy")
	return p, isRegularFile(p) && isRegularFile(filepath.Join(s.p.Path, "labels.npy"))
}

type mnistCSource struct{ p MNISTCParams }

func (s *mnistCSource) Kind() string     { return "mnist-c" }
func (s *mnistCSource) Splits() []string { return append([]string(nil), idxSplitNames...) }
func (s *mnistCSource) Load(req Request) (*Set, error) {
	return LoadMNISTC(s.p.Path, s.p.Corruption, req.Split)
}

// Where returns the corruption's folder; found means both splits are there.
func (s *mnistCSource) Where() (string, bool) {
	d := filepath.Join(s.p.Path, s.p.Corruption)
	for _, sp := range idxSplitNames {
		if !isRegularFile(filepath.Join(d, sp+"_images.npy")) || !isRegularFile(filepath.Join(d, sp+"_labels.npy")) {
			return d, false
		}
	}
	return d, true
}

func init() {
	for _, c := range []struct{ kind, folder, name string }{
		{"cifar10-c", cifar10CFolder, "CIFAR-10-C"},
		{"cifar100-c", cifar100CFolder, "CIFAR-100-C"},
	} {
		kind, folder := c.kind, c.folder
		Register(kind,
			c.name+" (Hendrycks & Dietterich 2019), the released .npy files: one corruption of the 10,000 test images at one severity, 32×32×3; no splits. "+
				"Params: corruption (required; e.g. gaussian_noise, fog, jpeg_compression — the names of the folder's .npy files), "+
				"severity (required, 1..5), path (default $PURVIEW_DATA/"+folder+"). Reads only that severity's rows.",
			func(params Decoder) (Source, error) {
				var p CIFARCParams
				if err := decodeParams(kind, params, &p); err != nil {
					return nil, err
				}
				if err := checkCorruptionName(kind, p.Corruption); err != nil {
					return nil, err
				}
				if p.Severity < 1 || p.Severity > CIFARCSeverities {
					return nil, fmt.Errorf("datasets: %s: severity = %d (want 1..%d)", kind, p.Severity, CIFARCSeverities)
				}
				if p.Path == "" {
					p.Path = DefaultPath(folder)
				}
				return &cifarCSource{kind, p}, nil
			})
		registerLocator(kind, func() (string, bool) {
			d := DefaultPath(folder)
			return d, isRegularFile(filepath.Join(d, "labels.npy"))
		})
	}
	Register("mnist-c",
		"MNIST-C (Mu & Gilmer 2019), the released .npy files: one corruption of MNIST at its fixed severity, 28×28×1, labels 0-9; "+
			"splits train (60,000) and test (10,000). Params: corruption (required; the folder names, e.g. shot_noise, fog, zigzag, identity), "+
			"path (the mnist_c folder; default $PURVIEW_DATA/mnist_c).",
		func(params Decoder) (Source, error) {
			var p MNISTCParams
			if err := decodeParams("mnist-c", params, &p); err != nil {
				return nil, err
			}
			if err := checkCorruptionName("mnist-c", p.Corruption); err != nil {
				return nil, err
			}
			if p.Path == "" {
				p.Path = DefaultPath(mnistCFolder)
			}
			return &mnistCSource{p}, nil
		})
	registerLocator("mnist-c", func() (string, bool) {
		d := DefaultPath(mnistCFolder)
		return d, isRegularFile(filepath.Join(d, "identity", "test_images.npy"))
	})
}
