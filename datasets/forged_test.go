package datasets

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestForged2e40 gives every reader a small file whose header claims 2⁴⁰
// values, from a reader and from a file, and checks that each fails with a
// one-line error before allocating for the claim (budget: 2 MiB, the
// 1 MiB first read chunk of a reader of unknown size and some change).
func TestForged2e40(t *testing.T) {
	w := matLE
	mat := slices.Concat(w.header(), w.compress(t, w.matrix(MatUint8, 0, []int32{1 << 20, 1 << 20}, "X", w.elem(miUINT8, seq(64)))))
	npy := npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1048576, 1048576), }", seq(64))
	npy4 := npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1024, 1024, 1024, 1), }", seq(64)) // 2³⁰ values of 4 bytes
	png := pngHeader(1<<20, 1<<20)
	for _, tc := range []struct {
		name, msg string
		read      func(in []byte, name string) error
		in        []byte
		file      func(path string) error
	}{
		{"mat", "hold more than 2147483648 values", func(in []byte, n string) error { _, err := ReadMat(bytes.NewReader(in), n); return err }, mat,
			func(p string) error { _, err := OpenMat(p); return err }},
		{"svhn", "hold more than 2147483648 values", func(in []byte, n string) error { _, err := ReadSVHN(bytes.NewReader(in), n); return err }, mat,
			func(p string) error { _, err := OpenSVHN(p); return err }},
		{"npy images", "holds more than 68719476736 values", func(in []byte, n string) error { _, err := ReadNPYImages(bytes.NewReader(in), n, NHWC); return err }, npy,
			func(p string) error { _, err := OpenNPYImages(p, NHWC); return err }},
		{"npy 2^32 bytes", "truncated", func(in []byte, n string) error { _, err := ReadNPYImages(bytes.NewReader(in), n, NHWC); return err }, npy4,
			func(p string) error { _, err := OpenNPYImages(p, NHWC); return err }},
		{"npy labels", "holds more than", func(in []byte, n string) error { _, err := ReadNPYLabels(bytes.NewReader(in), n); return err }, npy,
			func(p string) error { _, err := OpenNPYLabels(p); return err }},
		{"png", "PNG of 1048576×1048576 pixels", func(in []byte, n string) error { _, err := ReadImage(bytes.NewReader(in), n, 0); return err }, png,
			func(p string) error {
				_, err := LoadFolder(p[:strings.LastIndexByte(p, '/')], FolderOptions{})
				return err
			}},
	} {
		sub := t.TempDir()
		path := writeFile(t, sub, "f.png", tc.in) // the extension matters only to LoadFolder
		for _, way := range []struct {
			how string
			run func() error
		}{{"reader", func() error { return tc.read(tc.in, "forged") }}, {"file", func() error { return tc.file(path) }}} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := way.run()
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "datasets: ") {
				t.Errorf("%s (%s): err = %v, want one line with %q", tc.name, way.how, err, tc.msg)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 2<<20 {
				t.Errorf("%s (%s): allocated %d bytes", tc.name, way.how, got)
			}
		}
	}
}
