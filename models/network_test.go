package models

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

var allOnes = []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}

// TestSampleGradsFiniteDifferences checks the autodiff gradient of the whole
// network, parameter tensor by parameter tensor, against central differences
// of the loss along a random direction v: (J(θ+hv) − J(θ−hv))/2h = ⟨∂J/∂θ, v⟩.
// It runs in float64 so that h = 1e-6 is meaningful.
func TestSampleGradsFiniteDifferences(t *testing.T) {
	net, err := NewNetwork(ArchLeNet5, 10, 11)
	if err != nil {
		t.Fatal(err)
	}
	x := randImages(2, 5)
	for _, c := range []Confound{{Label: allOnes, Act: Sigmoid}, {Label: []float32{0, 1, 0, 0, 1, 0, 0, 0, 0, 1}, Act: Softmax}} {
		grads, err := net.SampleGrads(x, 2, c)
		if err != nil {
			t.Fatal(err)
		}
		e, err := net.build(engineKey{batch: 1, dtype: tensor.Float64, mode: modeGrads, kind: confoundLoss(c.Act)})
		if err != nil {
			t.Fatal(err)
		}
		lossAt := func(i int) float64 {
			e.load(x[i*784:(i+1)*784], 1)
			e.setTarget(c.Label)
			if err := e.run(); err != nil {
				t.Fatal(err)
			}
			return valueF64(e.loss)[0]
		}
		r := rand.New(rand.NewPCG(3, 4))
		const h = 1e-6
		for i := 0; i < 2; i++ {
			for pi, p := range net.params {
				w := e.wData[pi].([]float64)
				v := make([]float64, len(w))
				for j := range v {
					v[j] = r.NormFloat64()
				}
				// v is in gorgonia layout; map the reference gradient to it.
				g := grads[i][pi]
				var dot float64
				for j := range v {
					k := j
					if len(p.Shape) == 2 { // linear weight: graph [in,out], state_dict [out,in]
						in, o := j/p.Shape[0], j%p.Shape[0]
						k = o*p.Shape[1] + in
					}
					dot += g[k] * v[j]
				}
				orig := append([]float64(nil), w...)
				for j := range w {
					w[j] = orig[j] + h*v[j]
				}
				jp := lossAt(i)
				for j := range w {
					w[j] = orig[j] - h*v[j]
				}
				jm := lossAt(i)
				copy(w, orig)
				fd := (jp - jm) / (2 * h)
				if math.Abs(fd-dot) > 1e-5*math.Max(1, math.Abs(fd)) {
					t.Errorf("%v sample %d %s: ⟨∂J/∂θ, v⟩ = %.9g, finite difference %.9g", c.Act, i, p.Name, dot, fd)
				}
			}
		}
	}
}

// TestResultsIndependentOfBatchingAndWorkers: a sample's logits and purview
// features are bit-identical whatever else is in its batch and however many
// workers run.
func TestResultsIndependentOfBatchingAndWorkers(t *testing.T) {
	net, _ := NewNetwork(ArchLeNet5, 10, 2)
	const n = 150
	x := randImages(n, 9)
	c := Confound{Label: allOnes, Act: Sigmoid}
	var refL []float32
	var refG []float64
	for _, w := range []int{1, 2, 3} {
		net.SetWorkers(w)
		l, _, err := net.Forward(x, n)
		if err != nil {
			t.Fatal(err)
		}
		g := make([]float64, n*10)
		if err := net.GradNorms(x, n, c, g); err != nil {
			t.Fatal(err)
		}
		if refL == nil {
			refL, refG = l, g
			continue
		}
		if !slices.Equal(l, refL) || !slices.Equal(g, refG) {
			t.Fatalf("workers=%d changed the results", w)
		}
	}
	// The last 22 samples alone (a different batch composition and padding).
	l, _, _ := net.Forward(x[128*784:], 22)
	if !slices.Equal(l, refL[128*10:]) {
		t.Errorf("forward of a sample depends on its batch")
	}
	g := make([]float64, 22*10)
	net.GradNorms(x[128*784:], 22, c, g)
	if !slices.Equal(g, refG[128*10:]) {
		t.Errorf("grad norms of a sample depend on its batch")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	net, _ := NewNetwork(ArchLeNet5, 10, 5)
	path := filepath.Join(t.TempDir(), "lenet.safetensors")
	if err := SaveCheckpoint(path, net); err != nil {
		t.Fatal(err)
	}
	ps, meta, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["arch"] != "lenet5" || meta["classes"] != "10" {
		t.Errorf("metadata %v", meta)
	}
	want := map[string][]int{"conv1.weight": {6, 1, 5, 5}, "conv1.bias": {6}, "conv2.weight": {16, 6, 5, 5}, "conv2.bias": {16},
		"fc1.weight": {120, 400}, "fc1.bias": {120}, "fc2.weight": {84, 120}, "fc2.bias": {84}, "fc3.weight": {10, 84}, "fc3.bias": {10}}
	if len(ps) != len(want) {
		t.Fatalf("%d tensors, want %d", len(ps), len(want))
	}
	for _, p := range ps {
		if !slices.Equal(p.Shape, want[p.Name]) {
			t.Errorf("%s shape %v, want %v", p.Name, p.Shape, want[p.Name])
		}
	}
	other, _ := NewNetwork(ArchLeNet5, 10, 99)
	if err := LoadCheckpoint(path, other); err != nil {
		t.Fatal(err)
	}
	for i, p := range net.Params() {
		if q := other.Params()[i]; !slices.Equal(p.Data, q.Data) {
			t.Fatalf("%s not bit-exact after reload", p.Name)
		}
	}
	x := randImages(3, 1)
	a, _, _ := net.Forward(x, 3)
	b, _, _ := other.Forward(x, 3)
	if !slices.Equal(a, b) {
		t.Error("reloaded network computes different logits")
	}
	// Saving again gives the same bytes.
	path2 := filepath.Join(t.TempDir(), "again.safetensors")
	SaveCheckpoint(path2, other)
	if !sameFile(t, path, path2) {
		t.Error("checkpoint bytes differ for equal weights")
	}
}

func TestCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	net, _ := NewNetwork(ArchLeNet5, 10, 5)
	good := filepath.Join(dir, "good.safetensors")
	SaveCheckpoint(good, net)
	ten, _ := NewNetwork(ArchLeNet5, 12, 5) // fc3 has 12 outputs
	bad := filepath.Join(dir, "bad.safetensors")
	SaveCheckpoint(bad, ten)
	garbage := filepath.Join(dir, "garbage.safetensors")
	writeBytes(t, garbage, []byte("definitely not a checkpoint"))
	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.safetensors"), "no such file"},
		{garbage, "not a safetensors file"},
		{bad, "weights do not fit: mis-shaped 2 [fc3.weight [12 84] (want [10 84]), fc3.bias [12] (want [10])]"},
	} {
		err := LoadCheckpoint(c.path, net)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadCheckpoint(%s) = %v, want error containing %q", filepath.Base(c.path), err, c.want)
		}
	}
}
