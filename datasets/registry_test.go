package datasets

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// jsonParams is a strict Decoder for tests, standing in for a TOML table.
type jsonParams string

func (p jsonParams) Decode(v any) error {
	d := json.NewDecoder(bytes.NewReader([]byte(p)))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func TestRegistryKinds(t *testing.T) {
	kinds := Kinds()
	for _, k := range []string{"fashion-mnist", "gaussian-noise", "idx", "mnist", "uniform-noise"} {
		if !slices.Contains(kinds, k) || Doc(k) == "" {
			t.Errorf("kind %q missing or undocumented (kinds %v)", k, kinds)
		}
	}
	if !slices.IsSorted(kinds) {
		t.Errorf("Kinds() = %v, not sorted", kinds)
	}
	if Doc("nope") != "" {
		t.Error("Doc of an unknown kind is not empty")
	}
	_, err := New("cifar-10", nil)
	if want := `datasets: unknown dataset kind "cifar-10" (known: ` + strings.Join(kinds, ", ") + ")"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate Register did not panic")
			}
		}()
		Register("mnist", "again", func(Decoder) (Source, error) { return nil, nil })
	}()
}

func TestRegistryParamErrors(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		params Decoder
		want   string
	}{
		{"uniform-noise", jsonParams(`{"cout": 5}`), `datasets: uniform-noise params: json: unknown field "cout"`},
		{"uniform-noise", jsonParams(`{"count": 0}`), "datasets: uniform-noise: count = 0 (want > 0)"},
		{"gaussian-noise", jsonParams(`{"std": -0.1}`), "datasets: gaussian-noise: std = -0.1 (want a finite number ≥ 0)"},
		{"uniform-noise", jsonParams(`{"seed": -1}`), "datasets: uniform-noise: seed = -1 (want ≥ 0)"},
		{"gaussian-noise", jsonParams(`{"seed": -3}`), "datasets: gaussian-noise: seed = -3 (want ≥ 0)"},
		{"idx", jsonParams(`{"images": "a.gz"}`), `datasets: idx: params images and labels are both required (got images = "a.gz", labels = "")`},
		{"idx", nil, `datasets: idx: params images and labels are both required (got images = "", labels = "")`},
	} {
		_, err := New(tc.kind, tc.params)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %v: err = %v, want %q", tc.kind, tc.params, err, tc.want)
		}
	}
}

func TestNoiseSources(t *testing.T) {
	req := Request{Split: "test", C: 3, H: 4, W: 5, Seed: 9}
	for _, tc := range []struct {
		kind   string
		params Decoder
		want   *Set
	}{
		// Defaults: count 10000, seed from the request.
		{"uniform-noise", nil, UniformNoise(10000, 3, 4, 5, 9)},
		{"uniform-noise", jsonParams(`{"count": 7, "seed": 3}`), UniformNoise(7, 3, 4, 5, 3)},
		{"gaussian-noise", nil, GaussianNoise(10000, 3, 4, 5, 0.5, 0.25, 9)},
		{"gaussian-noise", jsonParams(`{"count": 2, "mean": 0.2, "std": 0.1}`), GaussianNoise(2, 3, 4, 5, 0.2, 0.1, 9)},
	} {
		src, err := New(tc.kind, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := src.Where(); p != "generated" || !ok || len(src.Splits()) != 0 || src.Kind() != tc.kind {
			t.Errorf("%s: Where %q %v, Splits %v, Kind %q", tc.kind, p, ok, src.Splits(), src.Kind())
		}
		got, err := src.Load(req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != tc.kind || got.Len() != tc.want.Len() || !slices.Equal(got.Images, tc.want.Images) {
			t.Errorf("%s %v: Load gave %q with %d images, not the expected set", tc.kind, tc.params, got.Name, got.Len())
		}
		_, err = src.Load(Request{Seed: 1})
		if want := "datasets: " + tc.kind + ": request has no input shape (C, H, W = 0, 0, 0; want positive sizes)"; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	src, _ := New("uniform-noise", jsonParams(`{"count": 100000}`))
	_, err := src.Load(Request{C: 3, H: 224, W: 224})
	if want := "datasets: uniform-noise: 100000 images of 3×224×224 exceed 2147483648 values"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestIDXSource(t *testing.T) {
	dir := t.TempDir()
	img := writeFile(t, dir, "img", encodeIDX(8, []uint32{2, 1, 1}, []byte{0, 255}))
	lab := writeFile(t, dir, "lab.gz", gzipBytes(t, encodeIDX(8, []uint32{2}, []byte{4, 2})))
	src, err := New("idx", jsonParams(`{"images": "`+img+`", "labels": "`+lab+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.Where(); p != img || !ok || len(src.Splits()) != 0 {
		t.Fatalf("Where %q %v, Splits %v", p, ok, src.Splits())
	}
	s, err := src.Load(Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Images, []float32{0, 1}) || !slices.Equal(s.Labels, []int{4, 2}) || s.Name != "idx" {
		t.Fatalf("got %+v", s)
	}
	src, _ = New("idx", jsonParams(`{"images": "`+img+`", "labels": "`+filepath.Join(dir, "none")+`"}`))
	if _, ok := src.Where(); ok {
		t.Fatal("Where found a missing labels file")
	}
}
