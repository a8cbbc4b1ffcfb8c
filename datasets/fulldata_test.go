package datasets

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFullDatasets reads the real datasets under $PURVIEW_DATA (see
// DataRoot), each only if its files are there: opt in by setting PURVIEW_DATA.
// It checks the official sizes and label ranges. SVHN's extra split (531,131
// images, 6.5 GB as float32) is read only if PURVIEW_DATA_EXTRA is set too.
func TestFullDatasets(t *testing.T) {
	root := os.Getenv(DataRootEnv)
	if root == "" {
		t.Skip("set PURVIEW_DATA to the folder holding cifar-10-batches-bin, cifar-100-binary, svhn, CIFAR-10-C, CIFAR-100-C, mnist_c")
	}
	check := func(t *testing.T, s *Set, err error, n, c, side, classes int) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != n || s.C != c || s.H != side || s.W != side {
			t.Fatalf("%s: %d images of %d×%d×%d, want %d of %d×%d×%d", s.Name, s.Len(), s.C, s.H, s.W, n, c, side, side)
		}
		seen := make([]int, classes)
		for i, l := range s.Labels {
			if l < 0 || l >= classes {
				t.Fatalf("%s: label %d of image %d outside 0..%d", s.Name, l, i, classes-1)
			}
			seen[l]++
		}
		for l, k := range seen {
			if k == 0 {
				t.Errorf("%s: no image of class %d", s.Name, l)
			}
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
	}
	have := func(t *testing.T, p string) {
		if _, err := os.Stat(p); err != nil {
			t.Skip(err)
		}
	}
	timed := func(t *testing.T, f func() (*Set, error)) (*Set, error) {
		start := time.Now()
		s, err := f()
		t.Logf("read in %v", time.Since(start))
		return s, err
	}
	for _, sp := range []struct {
		split string
		n     int
	}{{"train", 50000}, {"test", 10000}} {
		t.Run("cifar10/"+sp.split, func(t *testing.T) {
			have(t, filepath.Join(root, cifar10Folder))
			s, err := timed(t, func() (*Set, error) { return LoadCIFAR10("", sp.split) })
			check(t, s, err, sp.n, 3, 32, 10)
		})
		t.Run("cifar100/"+sp.split, func(t *testing.T) {
			have(t, filepath.Join(root, cifar100Folder))
			s, err := timed(t, func() (*Set, error) { return LoadCIFAR100("", sp.split, "fine") })
			check(t, s, err, sp.n, 3, 32, 100)
		})
	}
	for _, sp := range []struct {
		split string
		n     int
	}{{"train", 73257}, {"test", 26032}, {"extra", 531131}} {
		t.Run("svhn/"+sp.split, func(t *testing.T) {
			if sp.split == "extra" && os.Getenv("PURVIEW_DATA_EXTRA") == "" {
				t.Skip("set PURVIEW_DATA_EXTRA to read SVHN's extra split")
			}
			have(t, filepath.Join(root, svhnFolder, svhnFiles[sp.split]))
			s, err := timed(t, func() (*Set, error) { return LoadSVHN("", sp.split) })
			check(t, s, err, sp.n, 3, 32, 10)
		})
	}
	for _, c := range []struct{ kind, folder string }{{"cifar10-c", cifar10CFolder}, {"cifar100-c", cifar100CFolder}} {
		t.Run(c.kind, func(t *testing.T) {
			have(t, filepath.Join(root, c.folder, "fog.npy"))
			s, err := timed(t, func() (*Set, error) { return LoadCIFARC(c.kind, filepath.Join(root, c.folder), "fog", 5) })
			check(t, s, err, 10000, 3, 32, map[string]int{"cifar10-c": 10, "cifar100-c": 100}[c.kind])
		})
	}
	t.Run("mnist-c", func(t *testing.T) {
		have(t, filepath.Join(root, mnistCFolder, "identity"))
		s, err := timed(t, func() (*Set, error) { return LoadMNISTC(filepath.Join(root, mnistCFolder), "identity", "test") })
		check(t, s, err, 10000, 1, 28, 10)
		// identity is MNIST itself: the first test image must match.
		if dir, err := MNISTDir(); err == nil {
			m, err := LoadMNIST(dir, "test")
			if err == nil && m.Labels[0] != s.Labels[0] {
				t.Errorf("identity label 0 = %d, MNIST's = %d", s.Labels[0], m.Labels[0])
			}
		}
	})
}
