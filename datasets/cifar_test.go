package datasets

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// cifarRecord builds one record byte for byte: the label bytes, then 3072
// pixels, all zero except the (plane, row, col) → value entries of set.
func cifarRecord(labels []byte, set map[[3]int]byte) []byte {
	r := append([]byte(nil), labels...)
	px := make([]byte, cifarPixels)
	for k, v := range set {
		px[k[0]*1024+k[1]*32+k[2]] = v
	}
	return append(r, px...)
}

func concat(parts ...[]byte) []byte { return slices.Concat(parts...) }

func TestReadCIFAR(t *testing.T) {
	// Two CIFAR-10 records. Record 0 (label 3): red (0,0) = 255, green (0,1) = 51,
	// blue (31,31) = 102. Record 1 (label 9): red (1,2) = 153.
	in := concat(
		cifarRecord([]byte{3}, map[[3]int]byte{{0, 0, 0}: 255, {1, 0, 1}: 51, {2, 31, 31}: 102}),
		cifarRecord([]byte{9}, map[[3]int]byte{{0, 1, 2}: 153}))
	s, err := ReadCIFAR(bytes.NewReader(in), "data_batch_1.bin", CIFAR10)
	if err != nil {
		t.Fatal(err)
	}
	if s.C != 3 || s.H != 32 || s.W != 32 || !slices.Equal(s.Labels, []int{3, 9}) || !slices.Equal(s.Index, []int{0, 1}) {
		t.Fatalf("shape %dx%dx%d labels %v index %v", s.C, s.H, s.W, s.Labels, s.Index)
	}
	// Expected: NCHW offsets n·3072 + c·1024 + y·32 + x; values b/255.
	want := map[int]float32{0: 1, 1024 + 1: 0.2, 2048 + 31*32 + 31: 0.4, 3072 + 32 + 2: 0.6}
	for i, v := range s.Images {
		if v != want[i] {
			t.Fatalf("Images[%d] = %v, want %v", i, v, want[i])
		}
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	// CIFAR-100: coarse 19, fine 0; then coarse 4, fine 99.
	in100 := concat(cifarRecord([]byte{19, 0}, map[[3]int]byte{{1, 5, 5}: 255}), cifarRecord([]byte{4, 99}, nil))
	fine, err := ReadCIFAR(bytes.NewReader(in100), "train.bin", CIFAR100Fine)
	if err != nil {
		t.Fatal(err)
	}
	coarse, err := ReadCIFAR(bytes.NewReader(in100), "train.bin", CIFAR100Coarse)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fine.Labels, []int{0, 99}) || !slices.Equal(coarse.Labels, []int{19, 4}) ||
		fine.Images[1024+5*32+5] != 1 || !slices.Equal(fine.Images, coarse.Images) {
		t.Fatalf("CIFAR-100 fine %v coarse %v", fine.Labels, coarse.Labels)
	}
}

func TestReadCIFARErrors(t *testing.T) {
	good := cifarRecord([]byte{1}, nil)
	dir := t.TempDir()
	for i, tc := range []struct {
		name    string
		f       CIFARFormat
		in      []byte
		msg     string // from a reader
		fileMsg string // from a file, when the size check says it first
		eof     bool
	}{
		{name: "empty", f: CIFAR10, in: nil, msg: "invalid CIFAR: empty file: unexpected EOF", eof: true},
		{name: "short record", f: CIFAR10, in: concat(good, good[:100]),
			msg:     "invalid CIFAR: record 1 truncated: 100 of 3073 bytes: unexpected EOF",
			fileMsg: "invalid CIFAR: file has 3173 bytes, not a whole number of 3073-byte CIFAR-10 records (record 1 has 100 bytes): unexpected EOF", eof: true},
		{name: "label 10", f: CIFAR10, in: concat(good, cifarRecord([]byte{10}, nil)),
			msg: "invalid CIFAR: record 1: label 10 (want 0..9)"},
		{name: "coarse 20", f: CIFAR100Fine, in: cifarRecord([]byte{20, 5}, nil),
			msg: "invalid CIFAR: record 0: coarse label 20 (want 0..19)"},
		{name: "fine 100", f: CIFAR100Coarse, in: cifarRecord([]byte{5, 100}, nil),
			msg: "invalid CIFAR: record 0: fine label 100 (want 0..99)"},
		// A CIFAR-10 file read as CIFAR-100: 3073 is not a multiple of 3074.
		{name: "wrong variant", f: CIFAR100Fine, in: good,
			msg:     "invalid CIFAR: record 0 truncated: 3073 of 3074 bytes: unexpected EOF",
			fileMsg: "invalid CIFAR: file has 3073 bytes, not a whole number of 3074-byte CIFAR-100 (fine labels) records (record 0 has 3073 bytes): unexpected EOF", eof: true},
		{name: "gzip archive", f: CIFAR10, in: gzipBytes(t, concat(good, good)),
			msg: "invalid CIFAR: file starts with the gzip magic 1f 8b (extract the .tar.gz archive and give the .bin files)"},
	} {
		_, err := ReadCIFAR(bytes.NewReader(tc.in), "b.bin", tc.f)
		if err == nil || err.Error() != "datasets: b.bin: "+tc.msg || !errors.Is(err, ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) != tc.eof {
			t.Errorf("%s: err = %v, want %q (EOF %v)", tc.name, err, tc.msg, tc.eof)
		}
		p := writeFile(t, dir, string(rune('a'+i)), tc.in)
		_, err = OpenCIFAR(tc.f, p)
		msg := tc.msg
		if tc.fileMsg != "" {
			msg = tc.fileMsg
		}
		if err == nil || err.Error() != "datasets: "+p+": "+msg {
			t.Errorf("%s (file): err = %v, want %q", tc.name, err, msg)
		}
	}
}

// writeCIFARDir writes the six CIFAR-10 batch files, each with recs records:
// record k of file f has label (f+k)%10 and red pixel (0,0) = 10·f+k.
func writeCIFARDir(t testing.TB, recs int) string {
	dir := t.TempDir()
	for f, name := range append(slices.Clone(cifar10Files["train"]), "test_batch.bin") {
		var b []byte
		for k := range recs {
			b = append(b, cifarRecord([]byte{byte((f + k) % 10)}, map[[3]int]byte{{0, 0, 0}: byte(10*f + k)})...)
		}
		writeFile(t, dir, name, b)
	}
	writeFile(t, dir, "batches.meta.txt", []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"))
	return dir
}

func TestLoadCIFAR10(t *testing.T) {
	dir := writeCIFARDir(t, 2)
	src, err := New("cifar10", jsonParams(`{"path": "`+dir+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.Where(); p != dir || !ok || !slices.Equal(src.Splits(), []string{"train", "test"}) {
		t.Fatalf("Where %q %v, Splits %v", p, ok, src.Splits())
	}
	train, err := src.Load(Request{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	// Files 0..4 with records k = 0, 1: labels (f+k)%10, red (0,0) = (10f+k)/255.
	if train.Name != "cifar10:train" || !slices.Equal(train.Labels, []int{0, 1, 1, 2, 2, 3, 3, 4, 4, 5}) ||
		!slices.Equal(train.Index, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("train: %q labels %v index %v", train.Name, train.Labels, train.Index)
	}
	for i, want := range []int{0, 1, 10, 11, 20, 21, 30, 31, 40, 41} {
		if got := train.Image(i)[0]; got != byteScale[want] {
			t.Errorf("train image %d red(0,0) = %v, want %d/255", i, got, want)
		}
	}
	test, err := src.Load(Request{Split: "test"})
	if err != nil || !slices.Equal(test.Labels, []int{5, 6}) || test.Image(1)[0] != byteScale[51] {
		t.Fatalf("test: %v %v", err, test)
	}
	if _, err := src.Load(Request{Split: "valid"}); err == nil || err.Error() != `datasets: cifar10: unknown split "valid" (want one of train, test)` {
		t.Errorf("err = %v", err)
	}
	names, err := ReadClassNames(filepath.Join(dir, "batches.meta.txt"))
	if err != nil || len(names) != 10 || names[0] != "airplane" || names[9] != "truck" {
		t.Errorf("class names %v, %v", names, err)
	}

	os.Remove(filepath.Join(dir, "data_batch_3.bin"))
	if _, ok := src.Where(); ok {
		t.Error("Where found a folder with a missing batch")
	}
	_, err = src.Load(Request{Split: "train"})
	if want := "datasets: cifar10: train split not found in " + dir + " (missing data_batch_3.bin)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestLoadCIFAR100(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "train.bin", concat(cifarRecord([]byte{2, 17}, nil), cifarRecord([]byte{11, 64}, nil)))
	writeFile(t, dir, "test.bin", cifarRecord([]byte{0, 4}, nil))
	for _, tc := range []struct {
		params string
		train  []int
	}{
		{`{"path": "` + dir + `"}`, []int{17, 64}},
		{`{"path": "` + dir + `", "labels": "coarse"}`, []int{2, 11}},
	} {
		src, err := New("cifar100", jsonParams(tc.params))
		if err != nil {
			t.Fatal(err)
		}
		s, err := src.Load(Request{Split: "train"})
		if err != nil || !slices.Equal(s.Labels, tc.train) || s.Name != "cifar100:train" {
			t.Errorf("%s: %v, %v", tc.params, err, s)
		}
	}
	_, err := New("cifar100", jsonParams(`{"labels": "super"}`))
	if want := `datasets: cifar100: labels = "super" (want "fine" or "coarse")`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestCIFARAllocation checks that one record costs one image of output, not
// a large read buffer: a 1-record file read from a reader of unknown size.
func TestCIFARAllocation(t *testing.T) {
	in := cifarRecord([]byte{1}, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := ReadCIFAR(bytes.NewReader(in), "one", CIFAR10); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// The chunk buffer (256 records, 787 KB) plus at most a 1 Mi-value first
	// output chunk (4 MiB): bounded, whatever the input.
	if got := after.TotalAlloc - before.TotalAlloc; got > 6<<20 {
		t.Errorf("allocated %d bytes for one record", got)
	}
}

// cifarFuzzFile builds the input of FuzzReadCIFAR. CIFAR files have no
// header, so the fuzzer varies what matters, in few bytes (a raw 3 KB record
// would make every minimization run for a minute): raw&1 = 0 builds records
// whose label bytes come from labels (at most 8 records), with the pixel
// planes tiled from fill, then cuts cut mod (size+1) bytes off the end;
// raw&1 = 1 uses fill itself as the file.
func cifarFuzzFile(f CIFARFormat, labels, fill []byte, cut uint16, raw uint8) []byte {
	if raw&1 == 1 {
		return fill
	}
	rec, nl := f.layout()
	n := min(len(labels)/len(nl), 8)
	b := make([]byte, 0, n*rec)
	for k := range n {
		b = append(b, labels[k*len(nl):(k+1)*len(nl)]...)
		for i := range cifarPixels {
			if len(fill) > 0 {
				b = append(b, fill[(k+i)%len(fill)])
			} else {
				b = append(b, byte(i))
			}
		}
	}
	return b[:len(b)-int(cut)%(len(b)+1)]
}

func FuzzReadCIFAR(f *testing.F) {
	f.Add([]byte{3, 9}, []byte{0, 255, 7}, uint16(0), uint8(0), uint8(0))
	f.Add([]byte{19, 99, 4, 0}, []byte{1}, uint16(0), uint8(1), uint8(0))
	f.Add([]byte{10}, []byte(nil), uint16(0), uint8(0), uint8(0))
	f.Add([]byte{1, 2, 3}, []byte(nil), uint16(100), uint8(2), uint8(0))
	f.Add([]byte(nil), []byte{0x1f, 0x8b, 8, 0}, uint16(0), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, labels, fill []byte, cut uint16, variant, raw uint8) {
		fm := CIFARFormat(variant % 3)
		in := cifarFuzzFile(fm, labels, fill, cut, raw)
		rec, nl := fm.layout()
		s, err := ReadCIFAR(bytes.NewReader(in), "fuzz", fm)
		// What the reader must say, decided independently.
		var wantErr string
		switch {
		case len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b:
			wantErr = "gzip magic"
		case len(in) == 0:
			wantErr = "empty file"
		default:
			for k := 0; k+rec <= len(in) && wantErr == ""; k += rec {
				for j, m := range nl {
					if int(in[k+j]) >= m {
						wantErr = "label"
					}
				}
			}
			if wantErr == "" && len(in)%rec != 0 {
				wantErr = "truncated"
			}
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "datasets: fuzz: ") || strings.Contains(msg, "\n") || !errors.Is(err, ErrFormat) {
				t.Fatalf("bad error %q", msg)
			}
			if wantErr == "" || !strings.Contains(err.Error(), wantErr) || (wantErr == "truncated") != errors.Is(err, io.ErrUnexpectedEOF) && wantErr != "empty file" {
				t.Fatalf("error %v, want one about %q", err, wantErr)
			}
			return
		}
		if wantErr != "" || s.Len() != len(in)/rec || s.Check() != nil {
			t.Fatalf("%d bytes gave %d records, want error %q", len(in), s.Len(), wantErr)
		}
		for i := range s.Len() {
			r := in[i*rec : (i+1)*rec]
			if s.Labels[i] != int(r[fm.labelAt()]) || s.Index[i] != i ||
				s.Image(i)[0] != byteScale[r[len(nl)]] || s.Image(i)[cifarPixels-1] != byteScale[r[rec-1]] {
				t.Fatalf("record %d decoded wrongly", i)
			}
		}
	})
}

// BenchmarkReadCIFAR10Train writes the five official training batch files
// (50,000 random records, 153.65 MB) once, then times LoadCIFAR10(dir,
// "train"). Metrics: alloc/output = bytes allocated per load divided by the
// float32 output's size, 50000·3072·4 = 614.4 MB (the pixels alone; labels and
// indices add 0.8 MB, 0.13 %); MB/s counts file bytes.
func BenchmarkReadCIFAR10Train(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	rec := make([]byte, 1+cifarPixels)
	for _, name := range cifar10Files["train"] {
		buf := make([]byte, 0, 10000*len(rec))
		for range 10000 {
			for i := 0; i < len(rec); i += 8 {
				v := rng.Uint64()
				for j := 0; j < 8 && i+j < len(rec); j++ {
					rec[i+j] = byte(v >> (8 * j))
				}
			}
			rec[0] %= 10
			buf = append(buf, rec...)
		}
		writeFile(b, dir, name, buf)
	}
	const output = 50000 * cifarPixels * 4
	b.SetBytes(50000 * int64(len(rec)))
	b.ReportAllocs()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	loads := 0
	for b.Loop() {
		s, err := LoadCIFAR10(dir, "train")
		if err != nil || s.Len() != 50000 {
			b.Fatal(err)
		}
		loads++
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(loads)/output, "alloc/output")
}
