package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Where downloaded datasets live. A dataset that cannot be fetched as a Go
// module or Debian package (CIFAR-10/100, SVHN, CIFAR-10-C, MNIST-C, ...) is
// looked for, when its params give no path, in
//
//	$PURVIEW_DATA/<folder>      (PURVIEW_DATA set and not empty)
//	/usr/share/datasets/<folder> (otherwise)
//
// where <folder> is the name the official archive extracts to:
// cifar-10-batches-bin, cifar-100-binary, CIFAR-10-C, CIFAR-100-C, mnist_c;
// SVHN's three .mat files go in a folder named svhn. The fallback is the
// Debian dataset-* packages' root, so fashion-mnist's default
// (/usr/share/datasets/fashion-mnist) follows the same rule when PURVIEW_DATA
// is unset.
const (
	DataRootEnv     = "PURVIEW_DATA"
	DefaultDataRoot = "/usr/share/datasets"
)

// DataRoot returns $PURVIEW_DATA, or DefaultDataRoot if it is unset or empty.
func DataRoot() string {
	if d := os.Getenv(DataRootEnv); d != "" {
		return d
	}
	return DefaultDataRoot
}

// DefaultPath returns the default location of a dataset folder: DataRoot()/folder.
func DefaultPath(folder string) string { return filepath.Join(DataRoot(), folder) }

// KindStatus says where a dataset kind's files are by default and whether
// they were found.
type KindStatus struct {
	Kind string
	// Path is where the files are or would be with default params;
	// "generated" for generated sets; "" for kinds with no default location.
	Path  string
	Found bool
	// Needs is empty when the kind loads with default params; otherwise it
	// says what must be configured (the factory's error, one line).
	Needs string
}

// locators give the default location of kinds whose factory cannot run
// without params (e.g. a corruption set needs the corruption's name) but whose
// files still have a default folder.
var locators = struct {
	sync.RWMutex
	m map[string]func() (string, bool)
}{m: map[string]func() (string, bool){}}

// registerLocator records where kind's files are by default (called from init).
func registerLocator(kind string, f func() (string, bool)) {
	locators.Lock()
	defer locators.Unlock()
	locators.m[kind] = f
}

// Status reports, for every registered kind in Kinds() order, where its data
// are with default params and whether they were found. Kinds whose factory
// succeeds with nil params report Source.Where(); the others report their
// default folder if they have one, and in Needs the factory's error.
func Status() []KindStatus {
	var out []KindStatus
	for _, k := range Kinds() {
		st := KindStatus{Kind: k}
		if src, err := New(k, nil); err == nil {
			st.Path, st.Found = src.Where()
		} else {
			st.Needs = strings.ReplaceAll(err.Error(), "\n", " ")
			locators.RLock()
			loc := locators.m[k]
			locators.RUnlock()
			if loc != nil {
				st.Path, st.Found = loc()
			}
		}
		out = append(out, st)
	}
	return out
}
