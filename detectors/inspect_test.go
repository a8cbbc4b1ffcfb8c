package detectors

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/models"
)

// The probe serves layer features, dropout logits, inputs and labels of an
// Inspector, caches each (tap, reduction) and seed once, and slices all of
// them in subsets.
func TestProbeInspectorQuantities(t *testing.T) {
	net := &tanhNet{drop: 0.5}
	in, _ := tanhSet(6, 0, 1)
	p := NewSetProbe(net, in)
	f, err := p.LayerFeatures("t1", models.ChannelMean)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		a := tnForward([2]float64{float64(in.Images[2*i]), float64(in.Images[2*i+1])}, noMask)
		want := []float64{float64(float32((a.t1[0] + a.t1[1]) / 2)), float64(float32((a.t1[2] + a.t1[3]) / 2))}
		if !slices.Equal(f.Row(i), want) {
			t.Errorf("t1 channel means of sample %d = %v, want %v", i, f.Row(i), want)
		}
	}
	if f.Rows != 6 || f.Cols != 2 {
		t.Errorf("t1 channel means are %d×%d, want 6×2", f.Rows, f.Cols)
	}
	sub := p.Subset([]int{4, 1})
	fs, _ := sub.LayerFeatures("t1", models.ChannelMean)
	if !slices.Equal(fs.Data, append(slices.Clone(f.Row(4)), f.Row(1)...)) {
		t.Errorf("subset features %v", fs.Data)
	}
	ff, _ := sub.LayerFeatures("t1", models.Flatten)
	if ff.Cols != 4 {
		t.Errorf("flattened t1 has %d columns, want 4", ff.Cols)
	}
	if c := net.layerCalls.Load(); c != 2 {
		t.Errorf("LayerFeatures called %d times, want 2 (one per reduction)", c)
	}
	x, n, err := sub.Inputs()
	if err != nil || n != 2 || !slices.Equal(x, append(slices.Clone(in.Image(4)), in.Image(1)...)) {
		t.Errorf("subset inputs %v, %d, %v", x, n, err)
	}
	if l := sub.Labels(); !slices.Equal(l, []int{0, 1}) {
		t.Errorf("subset labels %v, want [0 1]", l)
	}
	if l := NewProbe(net, in.Images, 6).Labels(); l != nil {
		t.Errorf("NewProbe labels %v, want nil", l)
	}
	if sub.Model() != models.Network(net) {
		t.Error("Model is not the probe's network")
	}
	// Dropout logits depend on the row in the full probe, not in the subset.
	d7, err := p.DropoutLogits(7)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := sub.DropoutLogits(7)
	if !slices.Equal(ds.Data, append(slices.Clone(d7.Row(4)), d7.Row(1)...)) {
		t.Errorf("subset dropout logits %v differ from the full probe's rows", ds.Data)
	}
	d8, _ := p.DropoutLogits(8)
	if slices.Equal(d7.Data, d8.Data) {
		t.Error("seeds 7 and 8 gave the same dropout logits")
	}
}

func TestProbeInspectorErrors(t *testing.T) {
	cases := []struct {
		name    string
		call    func() error
		wantErr string
	}{
		{"not an inspector", func() error {
			_, err := NewProbe(&fakeNet{}, fakeImages, 4).LayerFeatures("conv1", models.Flatten)
			return err
		}, "model fake does not expose its hidden layers"},
		{"unknown tap", func() error {
			_, err := NewProbe(&tanhNet{}, []float32{0, 0}, 1).LayerFeatures("fc9", models.Flatten)
			return err
		}, `model tanh has no layer "fc9" (layers: t1, t2)`},
		{"not stochastic", func() error {
			_, err := NewProbe(&fakeNet{}, fakeImages, 4).DropoutLogits(1)
			return err
		}, "model fake has no dropout forward pass"},
		{"inputs of a bad probe", func() error {
			_, _, err := NewProbe(&tanhNet{}, []float32{0, 0, 0}, 1).Inputs()
			return err
		}, "3 values for 1 images"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// sign(0) counts as +1 (the reference's grad ≥ 0); the step is float32.
func TestSignStep(t *testing.T) {
	x := []float32{0.5, 0.5, 0.5, 0}
	g := []float32{2, -1e-30, 0, float32(math.Copysign(0, -1))}
	got, err := signStep("odin", x, g, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0.25, 0.75, 0.25, -0.25}; !slices.Equal(got, want) {
		t.Errorf("signStep = %v, want %v", got, want)
	}
	_, err = signStep("odin", x, []float32{0, float32(math.NaN()), 0, 0}, 0.1)
	if err == nil || err.Error() != "detectors: odin: input gradient entry 1 is NaN" {
		t.Errorf("NaN gradient: error = %v", err)
	}
}

// ODIN with ε = 0 is −max softmax(z/T) of the logits. Hand values (Python
// math): z = [1, 0, −1], T = 1: −e/(e+1+1/e) = −0.6652409557748219; T = 2:
// −1/(1+e^−0.5+e^−1) = −0.506480391055654; T = 1000:
// −1/(1+e^−0.001+e^−0.002) = −0.3336667221666528.
func TestODINNoPerturbation(t *testing.T) {
	z := [][]float64{{1, 0, -1}, {-1, 0, 1}, {1000, 0, -1000}}
	for _, c := range []struct {
		T    float64
		want []float64
	}{
		{1, []float64{-0.6652409557748219, -0.6652409557748219, -1}},
		{2, []float64{-0.506480391055654, -0.506480391055654, -1}},
		{1000, []float64{-0.3336667221666528, -0.3336667221666528, -1 / (1 + math.Exp(-1) + math.Exp(-2))}},
	} {
		got, err := ODIN{T: c.T}.Score(newFakeProbe(z, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if !allClose(got, c.want, 1e-14) {
			t.Errorf("T = %v: scores %v, want %v", c.T, got, c.want)
		}
	}
}

// odinLossAt is −log softmax(z(x)/T)_y of the tanh net, in float64.
func odinLossAt(x [2]float64, y int, T float64) float64 {
	a := tnForward(x, noMask)
	q := make([]float64, 2)
	softmaxTo(q, a.z[:], T)
	return -math.Log(q[y])
}

// With ε > 0 the network's second forward pass receives exactly
// x − ε·sign(∇ₓ ℓ), ℓ = −log S_ŷ(x;T), the gradient sign checked against
// central finite differences of ℓ; the score is −max softmax at x̃.
func TestODINPerturbation(t *testing.T) {
	in, anom := tanhSet(4, 2, 3)
	x := append(slices.Clone(in.Images), anom.Images...)
	const n = 6
	for _, T := range []float64{1, 2, 1000} {
		for _, eps := range []float64{0.0014, 0.05} {
			net := &tanhNet{}
			got, err := ODIN{T: T, Eps: eps}.Score(NewProbe(net, x, n))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(x))
			for i := range n {
				xi := [2]float64{float64(x[2*i]), float64(x[2*i+1])}
				a0 := tnForward(xi, noMask)
				y := argmax([]float64{float64(float32(a0.z[0])), float64(float32(a0.z[1]))})
				for j := range 2 {
					const h = 1e-5
					xp, xm := xi, xi
					xp[j] += h
					xm[j] -= h
					g := (odinLossAt(xp, y, T) - odinLossAt(xm, y, T)) / (2 * h)
					if math.Abs(g) < 1e-9 {
						t.Fatalf("T=%v sample %d: gradient %v too small to have a sure sign", T, i, g)
					}
					want[2*i+j] = float32(xi[j] - eps*math.Copysign(1, g))
				}
			}
			if !slices.Equal(net.lastForward, want) {
				t.Errorf("T=%v ε=%v: perturbed input %v, want %v", T, eps, net.lastForward, want)
			}
			for i := range n {
				a := tnForward([2]float64{float64(want[2*i]), float64(want[2*i+1])}, noMask)
				w := negMaxSoftmax([]float64{float64(float32(a.z[0])), float64(float32(a.z[1]))}, T)
				if !closeTo(got[i], w, 1e-12) {
					t.Errorf("T=%v ε=%v sample %d: score %v, want %v", T, eps, i, got[i], w)
				}
			}
		}
	}
}

func TestODINErrors(t *testing.T) {
	_, err := ODIN{T: 1000, Eps: 0.0014}.Score(NewProbe(&fakeNet{}, fakeImages, 4))
	if err == nil || !strings.HasPrefix(err.Error(), "detectors: odin: model fake does not expose hidden layers") {
		t.Errorf("plain Network: error = %v", err)
	}
	_, err = ODIN{T: 0, Eps: 0}.Score(newFakeProbe([][]float64{{1, 2}}, nil, nil))
	if err == nil || !strings.Contains(err.Error(), "temperature") {
		t.Errorf("T = 0: error = %v", err)
	}
	got, err := ODIN{T: 1000, Eps: 0.0014}.Score(NewProbe(&tanhNet{}, nil, 0))
	if err != nil || len(got) != 0 {
		t.Errorf("empty probe: %v, %v", got, err)
	}
}

// labelledSet wraps literal 1×1×2 images with labels.
func labelledSet(images []float32, labels []int) *datasets.Set {
	s := &datasets.Set{Name: "lit", C: 1, H: 1, W: 2, Images: images, Labels: labels}
	for i := range labels {
		s.Index = append(s.Index, i)
	}
	return s
}
