package datasets

import (
	"path/filepath"
	"testing"
)

func TestFashionMNISTInstalled(t *testing.T) {
	if _, ok := (&fashionSource{}).Where(); !ok {
		t.Skip("Debian package dataset-fashion-mnist is not installed")
	}
	s, err := LoadFashionMNIST("", "test")
	if err != nil {
		t.Fatal(err)
	}
	// 10,000 test images of 28×28; the first is an ankle boot, class 9
	// (zalandoresearch/fashion-mnist README and the file's 9th byte).
	if s.Len() != 10000 || s.C != 1 || s.H != 28 || s.W != 28 || s.Labels[0] != 9 || s.Name != "fashion-mnist:test" {
		t.Fatalf("got %d × %d×%d×%d, first label %d, name %q", s.Len(), s.C, s.H, s.W, s.Labels[0], s.Name)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestFashionMNISTFolder(t *testing.T) {
	// Uncompressed files are accepted as well as the .gz the package ships.
	dir := t.TempDir()
	writeIDXFolder(t, dir, false, 2, 3, 3)
	src, err := New("fashion-mnist", jsonParams(`{"path": "`+dir+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.Where(); p != dir || !ok {
		t.Fatalf("Where = %q, %v; want %q, true", p, ok, dir)
	}
	s, err := src.Load(Request{Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.H != 3 || s.W != 3 || s.Name != "fashion-mnist:test" {
		t.Fatalf("got %+v", s)
	}

	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name      string
		dir       string
		isDefault bool
		want      string
	}{
		{"default folder", missing, true,
			"datasets: fashion-mnist not found in " + missing + " (install the Debian package dataset-fashion-mnist, or set path)"},
		{"configured folder", missing, false,
			"datasets: fashion-mnist not found in " + missing + " (want train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz, gzipped or not)"},
	} {
		_, err := loadFashionMNIST(tc.dir, tc.isDefault, "train")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
