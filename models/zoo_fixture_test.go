package models

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// zooFixtures are the narrow members of each zoo family whose PyTorch
// outputs scripts/zoo_fixtures.py committed under testdata/zoo: the
// state_dict PyTorch wrote (num_batches_tracked included, BatchNorm moved off
// the identity) and, for 4 random images normalised with the Mahalanobis
// code's CIFAR-10 mean and std, the logits, every tap, the per-parameter
// purview norms of a sigmoid (all-ones) and a softmax ([1,1,0,…]) confounding
// label, and the input gradient of the summed sigmoid loss.
var zooFixtures = []string{"resnet18-w4", "resnet34-w4", "densenet-bc-22-4", "wrn-16-1"}

// zooTol is the agreement asked of every quantity: 1e-4 relative.
const zooTol = 1e-4

// TestZooMatchesPyTorch: each fixture's weights load through LoadWeights and
// every output equals PyTorch's within zooTol, relative to the tensor's norm
// (logits, taps, input gradient) or per element (each purview norm).
func TestZooMatchesPyTorch(t *testing.T) {
	for _, arch := range zooFixtures {
		t.Run(arch, func(t *testing.T) {
			dir := filepath.Join("testdata", "zoo")
			net, used, err := LoadWeights(filepath.Join(dir, arch+".safetensors"), Spec{Arch: arch, Mean: cifarMean, Std: cifarStd}, NameMapAuto)
			if err != nil {
				t.Fatal(err)
			}
			if used != NameMapNone || net.Classes() != 10 {
				t.Errorf("name map %q, %d classes", used, net.Classes())
			}
			ps, meta, err := ReadCheckpoint(filepath.Join(dir, arch+".expect.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Param{}
			for _, p := range ps {
				want[p.Name] = p
			}
			var names []string
			if err := json.Unmarshal([]byte(meta["params"]), &names); err != nil || !slices.Equal(names, net.GradNames()) {
				t.Fatalf("PyTorch's parameters %v (%v), ours %v", names, err, net.GradNames())
			}
			x := want["input"].Data
			n := want["input"].Shape[0]
			logits, _, err := net.Forward(x, n)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got []float32, ref []float32) {
				t.Helper()
				if len(got) != len(ref) {
					t.Fatalf("%s: %d values, PyTorch %d", what, len(got), len(ref))
				}
				var num, den float64
				for i := range ref {
					d := float64(got[i]) - float64(ref[i])
					num, den = num+d*d, den+float64(ref[i])*float64(ref[i])
				}
				if r := math.Sqrt(num / den); !(r <= zooTol) {
					t.Errorf("%s differs from PyTorch by %.2g (relative)", what, r)
				}
			}
			check("logits", logits, want["logits"].Data)
			lf, err := net.LayerFeatures(x, n, nil, Flatten)
			if err != nil {
				t.Fatal(err)
			}
			for i, tp := range net.Taps() {
				ref, ok := want["tap."+tp.Name]
				if !ok {
					t.Errorf("no PyTorch tap %s", tp.Name)
					continue
				}
				check("tap "+tp.Name, lf[i], ref.Data)
			}
			np := len(names)
			for _, c := range []struct {
				key string
				c   Confound
			}{
				{"norms.sigmoid", Confound{Label: allOnes, Act: Sigmoid}},
				{"norms.softmax", Confound{Label: []float32{1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, Act: Softmax}},
			} {
				got := make([]float64, n*np)
				if err := net.GradNorms(x, n, c.c, got); err != nil {
					t.Fatal(err)
				}
				worst, at := 0.0, 0
				for i, r := range want[c.key].Data {
					if e := relErr(got[i], float64(r)); e > worst {
						worst, at = e, i
					}
				}
				if !(worst <= zooTol) {
					t.Errorf("%s: sample %d %s: %g, PyTorch %g (rel err %.2g)", c.key, at/np, names[at%np], got[at], want[c.key].Data[at], worst)
				}
			}
			grad := make([]float32, len(x))
			loss := func(i int, z, g []float32) float64 {
				// Σ_c BCE(σ(z_c), 1) = Σ_c softplus(−z_c); ∂/∂z_c = σ(z_c) − 1.
				var l float64
				for j, v := range z {
					s := 1 / (1 + math.Exp(-float64(v)))
					g[j] = float32(s - 1)
					l += math.Log1p(math.Exp(-float64(v)))
				}
				return l
			}
			if _, _, err := net.InputGrad(x, n, loss, grad); err != nil {
				t.Fatal(err)
			}
			check("input gradient", grad, want["input_grad.sigmoid"].Data)
		})
	}
}

// TestZooStateDicts: the full-size architectures have PyTorch's tensors —
// names, shapes, order — and parameter counts, as scripts/zoo_fixtures.py
// listed them from the reference code (testdata/zoo/shapes.json).
func TestZooStateDicts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "zoo", "shapes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]struct {
		Params      int
		Penultimate int
		StateDict   [][]json.RawMessage `json:"state_dict"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	for _, arch := range append([]string{ArchResNet18, ArchResNet34, ArchDenseNet100, ArchWRN2810}, zooFixtures...) {
		r, ok := ref[arch]
		if !ok {
			t.Errorf("shapes.json has no %s", arch)
			continue
		}
		net, err := NewNetwork(arch, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		sd := net.StateDict()
		if len(sd) != len(r.StateDict) {
			t.Errorf("%s: %d tensors, PyTorch %d", arch, len(sd), len(r.StateDict))
			continue
		}
		for i, e := range r.StateDict {
			var name string
			var shape []int
			if json.Unmarshal(e[0], &name) != nil || json.Unmarshal(e[1], &shape) != nil {
				t.Fatalf("shapes.json: bad entry %s", e)
			}
			if sd[i].Name != name || !slices.Equal(sd[i].Shape, shape) {
				t.Errorf("%s tensor %d: %s %v, PyTorch %s %v", arch, i, sd[i].Name, sd[i].Shape, name, shape)
			}
		}
		count := 0
		for _, p := range net.Params() {
			count += len(p.Data)
		}
		if count != r.Params || net.FeatureDim() != r.Penultimate {
			t.Errorf("%s: %d parameters and %d features, PyTorch %d and %d", arch, count, net.FeatureDim(), r.Params, r.Penultimate)
		}
	}
}
