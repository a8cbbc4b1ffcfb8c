package attacks

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"codeberg.org/sbinet/npyio"
)

// A hand-made result: sample 0 correct then fooled, 1 correct and not
// fooled, 2 misclassified when clean, 3 correct then fooled.
func handResult() *Result {
	return &Result{
		Attack: "x", N: 4, C: 1, H: 1, W: 2,
		Adv:       []float32{0, 0.5, 1, 0.25, 0.125, 0.75, 1, 1},
		Labels:    []int{0, 1, 2, 0},
		CleanPred: []int{0, 1, 1, 0},
		Pred:      []int{1, 1, 0, 2},
		Success:   []bool{true, false, true, true},
		Linf:      []float64{0.1, 0.2, 0.3, 0.5},
		L2:        []float64{1, 2, 3, 4},
		Elapsed:   1500 * time.Millisecond,
	}
}

func TestSummary(t *testing.T) {
	s := handResult().Summary()
	// Hand-computed: 3 of 4 correct when clean, 1 of 4 correct under attack,
	// samples 0 and 3 fooled: L∞ (0.1 + 0.5)/2, L2 (1 + 4)/2.
	want := Summary{Attack: "x", N: 4, CleanAccuracy: 0.75, Accuracy: 0.25, Correct: 3, Fooled: 2,
		SuccessRate: 2.0 / 3, MeanLinf: 0.3, MaxLinf: 0.5, MeanL2: 2.5, MaxL2: 4, Elapsed: 1500 * time.Millisecond}
	if s != want {
		t.Errorf("Summary() = %+v\nwant        %+v", s, want)
	}
	if got := s.String(); got != "x: 4 images, accuracy 75.0% → 25.0%, success 66.7% of 3, L∞ mean 0.3 max 0.5, L2 mean 2.5 max 4, 1.5 s" {
		t.Errorf("String() = %q", got)
	}
	if got := strings.Join(s.Row(), "|"); got != "x|4|75.0%|25.0%|66.7%|0.3|0.5|2.5|4|1.50" {
		t.Errorf("Row() = %q", got)
	}
	if len(SummaryHeader()) != len(s.Row()) {
		t.Error("header and row lengths differ")
	}

	// Nobody fooled, nobody correct: NaN, shown as n/a.
	r := handResult()
	r.CleanPred = []int{1, 0, 0, 1}
	s = r.Summary()
	if s.Correct != 0 || !math.IsNaN(s.SuccessRate) || !math.IsNaN(s.MeanL2) || !math.IsNaN(s.MaxLinf) {
		t.Errorf("no correct samples: %+v", s)
	}
	if !strings.Contains(s.String(), "success n/a of 0") {
		t.Errorf("String() = %q", s.String())
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "adv")
	r := handResult()
	if err := Save(base, r); err != nil {
		t.Fatal(err)
	}
	got, err := Load(base)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(got.Adv, r.Adv) || got.Attack != r.Attack || got.N != 4 || got.C != 1 || got.H != 1 || got.W != 2 ||
		!slices.Equal(got.Labels, r.Labels) || !slices.Equal(got.CleanPred, r.CleanPred) || !slices.Equal(got.Pred, r.Pred) ||
		!slices.Equal(got.Success, r.Success) || !slices.Equal(got.Linf, r.Linf) || !slices.Equal(got.L2, r.L2) || got.Elapsed != r.Elapsed {
		t.Errorf("round trip: %+v\nwant %+v", got, r)
	}

	// The header is NumPy's v1.0 layout, data aligned to 64 bytes.
	raw, err := os.ReadFile(base + ".npy")
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1, 1, 2), }"; !strings.HasPrefix(string(raw), want) {
		t.Errorf("header %q, want prefix %q", raw[:80], want)
	}
	// 10 + 65 + 1 = 76 bytes of header pad to 128.
	if len(raw) != 128+4*8 || raw[127] != '\n' {
		t.Errorf("file of %d bytes with byte 127 = %q, want 160 bytes and a newline at 127", len(raw), raw[127])
	}
	// No temporary files are left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d files in the directory, want 2", len(ents))
	}
	// An empty result survives too.
	empty := &Result{Attack: "e", C: 3, H: 2, W: 2, Adv: []float32{}, Labels: []int{}, CleanPred: []int{}, Pred: []int{},
		Success: []bool{}, Linf: []float64{}, L2: []float64{}}
	if err := Save(base+"-empty", empty); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(base + "-empty"); err != nil || got.N != 0 || got.C != 3 || len(got.Adv) != 0 {
		t.Errorf("empty round trip: %+v, %v", got, err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := filepath.Join(dir, "good")
	if err := Save(good, handResult()); err != nil {
		t.Fatal(err)
	}
	npy, _ := os.ReadFile(good + ".npy")
	js, _ := os.ReadFile(good + ".json")

	f64 := filepath.Join(dir, "f64.npy")
	fh, _ := os.Create(f64)
	npyio.Write(fh, []float64{0, 1, 0, 1, 0, 1, 0, 1})
	fh.Close()
	f64npy, _ := os.ReadFile(f64)

	bad := make([]byte, len(npy))
	copy(bad, npy)
	bad[len(bad)-1] = 0x7f // last float's top byte: a huge value

	for _, tc := range []struct {
		name      string
		npy, json []byte
		want      string
	}{
		{"missing", nil, nil, "missing.json: no such file"},
		{"nojsonformat", npy, []byte(strings.Replace(string(js), saveFormat, "other/1", 1)), `nojsonformat.json: invalid format: format "other/1"`},
		{"unknownkey", npy, []byte(strings.Replace(string(js), `"attack"`, `"atack"`, 1)), `unknownkey.json: invalid format: json: unknown field "atack"`},
		{"short", npy, []byte(strings.Replace(string(js), `"pred":[1,1,0,2]`, `"pred":[1,1,0]`, 1)), `short.json: invalid format: "pred" has 3 entries, want n = 4`},
		{"shape", npy, []byte(strings.Replace(string(js), `"w":2`, `"w":1`, 1)), "shape.npy: array shape [4 1 1 2], want [4 1 1 1]"},
		{"dtype", f64npy, js, "dtype.npy: unsupported array: dtype <f8"},
		{"notnpy", []byte("hello, world, this is not numpy"), js, "notnpy.npy: invalid format: not a .npy file"},
		{"truncated", npy[:len(npy)-8], js, "truncated.npy: reading the array: unexpected EOF"},
		{"range", bad, js, "range.npy: image 3 has pixel value"},
		{"nonpy", nil, js, "nonpy.npy: no such file"},
	} {
		if tc.npy != nil {
			write(tc.name+".npy", tc.npy)
		}
		if tc.json != nil {
			write(tc.name+".json", tc.json)
		}
		_, err := Load(filepath.Join(dir, tc.name))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "attacks: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestNoisyLike(t *testing.T) {
	const n, c, h, w = 3, 1, 4, 4
	d := c * h * w
	x := make([]float32, n*d)
	adv := make([]float32, n*d)
	for j := range x {
		x[j] = 0.5
		adv[j] = 0.5
	}
	// Sample 0: interior, perturbation of L2 norm 0.2 (16 pixels × 0.05).
	for j := range d {
		adv[j] = 0.55
	}
	// Sample 1: at the box edge, a perturbation of norm 4 → clipping must bite.
	for j := d; j < 2*d; j++ {
		x[j], adv[j] = 1, 0
	}
	// Sample 2: no perturbation.
	out := NoisyLike(x, adv, n, c, h, w, 7)
	_, l0 := Distances(x[:d], out[:d])
	if math.Abs(l0-0.2) > 1e-6 {
		t.Errorf("sample 0: noise norm %g, want 0.2 (the adversarial norm)", l0)
	}
	_, l1 := Distances(x[d:2*d], out[d:2*d])
	if !(l1 < 4) {
		t.Errorf("sample 1: noise norm %g, want < 4 after clipping", l1)
	}
	for _, v := range out {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("pixel %v outside [0,1]", v)
		}
	}
	if !sameBits(out[2*d:], x[2*d:]) {
		t.Error("sample 2 (no perturbation) changed")
	}
	if again := NoisyLike(x, adv, n, c, h, w, 7); !sameBits(out, again) {
		t.Error("same seed, different noise")
	}
	if other := NoisyLike(x, adv, n, c, h, w, 8); sameBits(out, other) {
		t.Error("different seeds, same noise")
	}
	// Sample i's noise does not depend on the other samples.
	if one := NoisyLike(x[:d], adv[:d], 1, c, h, w, 7); !sameBits(one, out[:d]) {
		t.Error("sample 0's noise depends on the rest of the set")
	}
	defer func() {
		if recover() == nil {
			t.Error("mismatched lengths did not panic")
		}
	}()
	NoisyLike(x, adv[:d], n, c, h, w, 7)
}
