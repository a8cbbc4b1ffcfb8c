package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWriteFuzzCorpus regenerates the committed seed corpora in
// testdata/fuzz/<FuzzName>/ (valid small files and broken ones) when
// PURVIEW_WRITE_FUZZ_CORPUS is set; `go test` runs those files as seeds of
// the fuzz targets.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("PURVIEW_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set PURVIEW_WRITE_FUZZ_CORPUS to rewrite testdata/fuzz")
	}
	write := func(target, name string, args ...any) {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", a)
			case uint8:
				fmt.Fprintf(&b, "byte('\\x%02x')\n", a)
			case uint16:
				fmt.Fprintf(&b, "uint16(%d)\n", a)
			default:
				t.Fatalf("unsupported corpus value %T", a)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// FuzzReadCIFAR(labels, fill, cut, variant, raw): see cifarFuzzFile.
	write("FuzzReadCIFAR", "valid-cifar10-2-records", []byte{3, 9}, []byte{0, 255, 7}, uint16(0), uint8(0), uint8(0))
	write("FuzzReadCIFAR", "valid-cifar100-fine", []byte{19, 99, 0, 5}, []byte{200}, uint16(0), uint8(1), uint8(0))
	write("FuzzReadCIFAR", "valid-cifar100-coarse", []byte{0, 0}, []byte(nil), uint16(0), uint8(2), uint8(0))
	write("FuzzReadCIFAR", "broken-label-10", []byte{1, 10}, []byte(nil), uint16(0), uint8(0), uint8(0))
	write("FuzzReadCIFAR", "broken-truncated", []byte{1, 2}, []byte{9}, uint16(2000), uint8(0), uint8(0))
	write("FuzzReadCIFAR", "broken-gzip", []byte(nil), gzipBytes(t, []byte("abc")), uint16(0), uint8(0), uint8(1))

	w := matBE
	write("FuzzReadMat", "valid-svhn", svhnFile(t))
	write("FuzzReadMat", "valid-big-endian-compact", slices.Concat(w.header(),
		w.matrix(MatSingle, 0, []int32{1, 2}, "X", w.elem(miUINT8, []byte{1, 2})),
		w.compress(t, w.matrix(MatDouble, 0, []int32{1, 1}, "y", w.small(miUINT8, []byte{10})))))
	write("FuzzReadMat", "valid-skipped-cell", slices.Concat(matLE.header(), matLE.compress(t, matLE.matrix(MatCell, 0, []int32{1, 1}, "c", nil))))
	v73 := matLE.header()
	v73[124] = 0
	v73[125] = 2
	write("FuzzReadMat", "broken-v73", v73)
	sv := svhnFile(t)
	write("FuzzReadMat", "broken-truncated", sv[:len(sv)-20])
	write("FuzzReadMat", "broken-2e40-dims", slices.Concat(matLE.header(),
		matLE.matrix(MatUint8, 0, []int32{1 << 20, 1 << 20}, "X", matLE.elem(miUINT8, []byte{1}))))

	write("FuzzReadNPY", "valid-uint8-nhwc", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2, 3), }", seq(12)))
	write("FuzzReadNPY", "valid-float32", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2), }", f32le(0.5, 1)))
	write("FuzzReadNPY", "valid-labels-int64", npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", make([]byte, 16)))
	write("FuzzReadNPY", "valid-v2-big-endian", npyFileV2("{'descr': '>f8', 'fortran_order': False, 'shape': (1, 1, 1), }", make([]byte, 8)))
	write("FuzzReadNPY", "broken-fortran", npyFile("{'descr': '|u1', 'fortran_order': True, 'shape': (1, 1, 1), }", []byte{1}))
	write("FuzzReadNPY", "broken-forged-shape", npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1073741824, 8, 8), }", seq(10)))
	write("FuzzReadNPY", "broken-header", []byte("\x93NUMPY\x01\x00\x10\x00{'descr': '|u1'\n"))

	write("FuzzReadImage", "valid-rgb-png", rgbPNG(t))
	write("FuzzReadImage", "valid-grey-png", greyPNG(t, 3, 2, 1, 2, 3, 4, 5, 6))
	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White})
	var g bytes.Buffer
	if err := gif.Encode(&g, pal, nil); err != nil {
		t.Fatal(err)
	}
	write("FuzzReadImage", "valid-gif", g.Bytes())
	var j bytes.Buffer
	if err := jpeg.Encode(&j, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	write("FuzzReadImage", "valid-jpeg", j.Bytes())
	write("FuzzReadImage", "broken-forged-header", pngHeader(8000, 8000))
	write("FuzzReadImage", "broken-truncated-png", rgbPNG(t)[:40])
	write("FuzzReadImage", "broken-not-an-image", []byte("P6\n1 1\n255\n\x00\x00\x00"))
}
