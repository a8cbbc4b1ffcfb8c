package datasets

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
)

// npyLabels returns labels written as an int64 .npy by npyio.
func npyLabels(t testing.TB, l []int64) []byte {
	var b bytes.Buffer
	if err := npy.Write(&b, l); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeCIFARC writes a CIFAR-10-C-style folder: fog.npy of shape (5·m, 2, 2, 3)
// where channel c of pixel p in image i is 20i + 4c + p, and labels.npy with
// 5·m labels 3, 7, 3, 7, ... (repeated per severity, as released).
func writeCIFARC(t testing.TB, m int) string {
	dir := t.TempDir()
	var px []byte
	for i := range 5 * m {
		for p := range 4 {
			for c := range 3 {
				px = append(px, byte(20*i+4*c+p))
			}
		}
	}
	writeFile(t, dir, "fog.npy", npyFile(fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 2, 2, 3), }", 5*m), px))
	l := make([]int64, 5*m)
	for i := range l {
		l[i] = []int64{3, 7}[i%2]
	}
	writeFile(t, dir, "labels.npy", npyLabels(t, l))
	writeFile(t, dir, "snow.npy", nil)
	return dir
}

func TestCIFARC(t *testing.T) {
	dir := writeCIFARC(t, 2)
	src, err := New("cifar10-c", jsonParams(`{"path": "`+dir+`", "corruption": "fog", "severity": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.Where(); p != filepath.Join(dir, "fog.npy") || !ok || len(src.Splits()) != 0 {
		t.Fatalf("Where %q %v", p, ok)
	}
	s, err := src.Load(Request{})
	if err != nil {
		t.Fatal(err)
	}
	// Severity 3 = rows 4 and 5; NCHW value of (c, p) in row i is (20i+4c+p)/255.
	var want []float32
	for _, i := range []int{4, 5} {
		for c := range 3 {
			for p := range 4 {
				want = append(want, byteScale[20*i+4*c+p])
			}
		}
	}
	if s.Name != "cifar10-c" || s.C != 3 || s.H != 2 || s.W != 2 || !slices.Equal(s.Images, want) ||
		!slices.Equal(s.Labels, []int{3, 7}) || !slices.Equal(s.Index, []int{0, 1}) {
		t.Fatalf("got %q %d×%d×%d %v labels %v index %v", s.Name, s.C, s.H, s.W, s.Images, s.Labels, s.Index)
	}

	// labels.npy holding only the M test labels is accepted too.
	writeFile(t, dir, "labels.npy", npyLabels(t, []int64{1, 2}))
	s, err = LoadCIFARC("cifar100-c", dir, "fog", 5)
	if err != nil || !slices.Equal(s.Labels, []int{1, 2}) || s.Image(1)[0] != byteScale[180] || s.Name != "cifar100-c" {
		t.Fatalf("severity 5 with short labels: %v %v", err, s)
	}
	writeFile(t, dir, "labels.npy", npyLabels(t, []int64{1, 2, 3}))
	_, err = LoadCIFARC("cifar10-c", dir, "fog", 1)
	if want := "datasets: " + filepath.Join(dir, "labels.npy") + ": invalid NPY: shape [3] (want (10,) or (2,) to match fog.npy)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}

	for _, tc := range []struct{ params, want string }{
		{`{"severity": 1}`, `datasets: cifar10-c: param corruption is required (e.g. "shot_noise")`},
		{`{"corruption": "../x", "severity": 1}`, `datasets: cifar10-c: corruption = "../x" (want a name such as "shot_noise": lower-case letters, digits, '_')`},
		{`{"corruption": "fog"}`, "datasets: cifar10-c: severity = 0 (want 1..5)"},
		{`{"corruption": "fog", "severity": 6}`, "datasets: cifar10-c: severity = 6 (want 1..5)"},
		{`{"corruption": "fog", "severity": 1, "level": 2}`, `datasets: cifar10-c params: json: unknown field "level"`},
	} {
		if _, err := New("cifar10-c", jsonParams(tc.params)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.params, err, tc.want)
		}
	}
	_, err = LoadCIFARC("cifar10-c", dir, "frost", 1)
	if want := "datasets: cifar10-c: no frost.npy in " + dir + " (corruptions there: fog, snow)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	writeFile(t, dir, "odd.npy", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (7, 2, 2, 3), }", make([]byte, 84)))
	_, err = LoadCIFARC("cifar10-c", dir, "odd", 1)
	if want := "datasets: " + filepath.Join(dir, "odd.npy") + ": invalid NPY: shape [7 2 2 3] (want (5·M, H, W, C): M images at each of 5 severities)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestCIFARCReadsOneSeverity checks that a severity costs its own rows: a
// file of 5×200 32×32×3 images (3 MB) is read with little more allocation
// than one severity's float32 output (2.46 MB).
func TestCIFARCReadsOneSeverity(t *testing.T) {
	dir := t.TempDir()
	const m = 200
	writeFile(t, dir, "fog.npy", npyFile(fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 32, 32, 3), }", 5*m), make([]byte, 5*m*3072)))
	writeFile(t, dir, "labels.npy", npyLabels(t, make([]int64, 5*m)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := LoadCIFARC("cifar10-c", dir, "fog", 4)
	runtime.ReadMemStats(&after)
	if err != nil || s.Len() != m {
		t.Fatal(err)
	}
	const output = m * 3072 * 4
	if got := after.TotalAlloc - before.TotalAlloc; got > output+1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte severity", got, output)
	}
}

func TestMNISTC(t *testing.T) {
	dir := t.TempDir()
	// Three 2×2 images: image i has pixels 10i, 10i+1, 10i+2, 10i+3.
	var px []byte
	for i := range 3 {
		px = append(px, byte(10*i), byte(10*i+1), byte(10*i+2), byte(10*i+3))
	}
	writeNPY(t, dir, "fog/test_images.npy", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2, 2, 1), }", px))
	writeNPY(t, dir, "fog/test_labels.npy", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", []byte{9, 0, 4}))
	src, err := New("mnist-c", jsonParams(`{"path": "`+dir+`", "corruption": "fog"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.Where(); p != filepath.Join(dir, "fog") || ok {
		t.Errorf("Where %q %v without the train split", p, ok)
	}
	s, err := src.Load(Request{Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "mnist-c:test" || s.C != 1 || s.H != 2 || !slices.Equal(s.Labels, []int{9, 0, 4}) ||
		s.Image(2)[3] != byteScale[23] || s.Image(1)[1] != byteScale[11] {
		t.Fatalf("got %+v", s)
	}
	_, err = src.Load(Request{Split: "train"})
	if want := "datasets: mnist-c: train split of fog not found (want " + filepath.Join(dir, "fog", "train_images.npy") + ")"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	_, err = LoadMNISTC(dir, "zigzag", "test")
	if want := "datasets: mnist-c: no folder zigzag in " + dir + " (corruptions there: fog)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
