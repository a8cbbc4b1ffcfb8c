package models

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// ceLoss is the float64 cross-entropy of sample i against label labels[i].
func ceLoss(labels []int, classes int) rowLossFunc {
	return func(i int, z, g []float64) float64 {
		t := make([]float64, classes)
		t[labels[i]] = 1
		rowGrad(lossCE, z, t, g)
		return rowLoss(lossCE, z, func(j int) float64 { return t[j] })
	}
}

// quadLoss is ℓ(f) = Σ_j (a_j f_j + ½ f_j²), a_j = sin(j+i): a smooth loss of features.
func quadLoss(i int, f, g []float64) float64 {
	var l float64
	for j, v := range f {
		a := math.Sin(float64(j + i))
		l += a*v + 0.5*v*v
		g[j] = a + v
	}
	return l
}

// fdCheck compares the input gradient of a float64 modeInputGrad / modeFeatureGrad
// engine with central differences of its losses along random directions.
func fdCheck(t *testing.T, net *Sequential, key engineKey, loss rowLossFunc, x []float32) {
	t.Helper()
	n := key.batch
	e, err := net.build(key)
	if err != nil {
		t.Fatal(err)
	}
	dim := net.c * net.h * net.w
	xb := e.xBuf.([]float64)
	for i, v := range x {
		xb[i] = float64(v)
	}
	x0 := slices.Clone(xb)
	e.cb.fn, e.cb.lo, e.cb.m = loss, 0, n
	if err := e.run(); err != nil {
		t.Fatal(err)
	}
	grad := slices.Clone(valueF64(e.xGrad))
	losses := func() []float64 {
		if err := e.run(); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(e.cb.losses)
	}
	r := rand.New(rand.NewPCG(8, 9))
	const h = 1e-6
	v := make([]float64, len(xb))
	for trial := 0; trial < 3; trial++ {
		for j := range v {
			v[j] = r.NormFloat64()
		}
		for j := range xb {
			xb[j] = x0[j] + h*v[j]
		}
		lp := losses()
		for j := range xb {
			xb[j] = x0[j] - h*v[j]
		}
		lm := losses()
		copy(xb, x0)
		for i := 0; i < n; i++ {
			var dot float64
			for j := i * dim; j < (i+1)*dim; j++ {
				dot += grad[j] * v[j]
			}
			fd := (lp[i] - lm[i]) / (2 * h)
			if math.Abs(fd-dot) > 1e-6*math.Abs(fd)+1e-9 { // FD noise ≈ 1e-10
				t.Errorf("%v tap %q sample %d: ⟨∂ℓ/∂x, v⟩ = %.10g, finite difference %.10g", key.mode, key.tap, i, dot, fd)
			}
		}
	}
}

func TestInputGradFiniteDifferences(t *testing.T) {
	net, _ := NewNetwork(ArchLeNet5, 10, 21)
	x := randImages(3, 22)
	fdCheck(t, net, engineKey{batch: 3, dtype: tensor.Float64, mode: modeInputGrad}, ceLoss([]int{3, 0, 7}, 10), x)
}

func TestFeatureGradFiniteDifferences(t *testing.T) {
	net, _ := NewNetwork(ArchLeNet5, 10, 23)
	x := randImages(2, 24)
	for _, c := range []struct {
		tap string
		r   Reduce
	}{{"conv1", ChannelMean}, {"conv2", Flatten}, {"fc2", Flatten}} {
		fdCheck(t, net, engineKey{batch: 2, dtype: tensor.Float64, mode: modeFeatureGrad, tap: c.tap, reduce: c.r}, quadLoss, x)
	}
}

// TestInputGradPublic: the float32 InputGrad, batched and padded over two
// workers, returns Forward's logits, the losses of its callback and the
// gradient of the float64 reference graphs.
func TestInputGradPublic(t *testing.T) {
	net, _ := NewNetwork(ArchLeNet5, 10, 25)
	net.SetWorkers(2)
	const n = 70 // three batches of GradBatch = 32, the last padded
	x := randImages(n, 26)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = (3 * i) % 10
	}
	loss := func(i int, z, g []float32) float64 {
		z64, g64 := make([]float64, len(z)), make([]float64, len(z))
		for j, v := range z {
			z64[j] = float64(v)
		}
		l := ceLoss(labels, 10)(i, z64, g64)
		for j, v := range g64 {
			g[j] = float32(v)
		}
		return l
	}
	grad := make([]float32, len(x))
	logits, losses, err := net.InputGrad(x, n, loss, grad)
	if err != nil {
		t.Fatal(err)
	}
	fl, _, _ := net.Forward(x, n)
	for i := range fl {
		if math.Abs(float64(fl[i]-logits[i])) > 1e-5 {
			t.Fatalf("logit %d: InputGrad %v, Forward %v", i, logits[i], fl[i])
		}
	}
	_, ref, refLoss, err := net.gradRef(x, n, tensor.Float64, "", Flatten, func() rowLossFunc { return ceLoss(labels, 10) })
	if err != nil {
		t.Fatal(err)
	}
	var num, den float64
	for i := range ref {
		d := float64(grad[i]) - ref[i]
		num, den = num+d*d, den+ref[i]*ref[i]
	}
	if math.Sqrt(num/den) > 1e-4 || den == 0 {
		t.Errorf("InputGrad relative error %.3g against the float64 graph", math.Sqrt(num/den))
	}
	for i := range losses {
		if relErr(losses[i], refLoss[i]) > 1e-4 {
			t.Fatalf("loss %d: %v, reference %v", i, losses[i], refLoss[i])
		}
	}
}

func TestLayerFeatures(t *testing.T) {
	net, _ := NewNetwork(ArchLeNet5, 10, 27)
	const n = 5
	x := randImages(n, 28)
	taps := net.Taps()
	if got := tapNames(taps); !slices.Equal(got, []string{"conv1", "conv2", "fc1", "fc2"}) {
		t.Fatalf("taps %v", got)
	}
	if taps[0] != (Tap{"conv1", 6, 14, 14}) || taps[1] != (Tap{"conv2", 16, 5, 5}) || taps[3].Dim(Flatten) != net.FeatureDim() {
		t.Errorf("tap shapes %v", taps)
	}
	flat, err := net.LayerFeatures(x, n, nil, Flatten)
	if err != nil {
		t.Fatal(err)
	}
	mean, err := net.LayerFeatures(x, n, []string{"conv1", "conv2", "fc2"}, ChannelMean)
	if err != nil {
		t.Fatal(err)
	}
	_, feats, _ := net.Forward(x, n)
	if !slices.Equal(flat[3], feats) {
		t.Error("last tap differs from Forward's penultimate features")
	}
	if !slices.Equal(mean[2], feats) {
		t.Error("ChannelMean of a linear tap is not the identity")
	}
	for k, ti := range []int{0, 1} {
		tp := taps[ti]
		hw := tp.H * tp.W
		for i := 0; i < n; i++ {
			for c := 0; c < tp.C; c++ {
				var s float64
				for _, v := range flat[ti][i*tp.Dim(Flatten)+c*hw:][:hw] {
					s += float64(v)
				}
				if got, want := float64(mean[k][i*tp.C+c]), s/float64(hw); math.Abs(got-want) > 1e-6 {
					t.Errorf("%s sample %d channel %d: ChannelMean %v, mean of Flatten %v", tp.Name, i, c, got, want)
				}
			}
		}
	}
	if _, err := net.LayerFeatures(x, n, []string{"fc3"}, Flatten); err == nil {
		t.Error("unknown tap accepted")
	}
}

func TestDropoutForward(t *testing.T) {
	net, err := NewNetwork(ArchLeNet5Dropout, 10, 29)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := NewNetwork(ArchLeNet5, 10, 29)
	const n = 150
	x := randImages(n, 30)
	a, err := net.DropoutForward(x, n, 1)
	if err != nil {
		t.Fatal(err)
	}
	net.SetWorkers(2)
	b, _ := net.DropoutForward(x, n, 1)
	if !slices.Equal(a, b) {
		t.Error("DropoutForward depends on the worker count")
	}
	p, _ := net.DropoutForward(x[:131*784], 131, 1)
	if !slices.Equal(p, a[:131*10]) {
		t.Error("DropoutForward rows depend on the batch composition")
	}
	c, _ := net.DropoutForward(x, n, 2)
	ev, _, _ := net.Forward(x, n)
	pl, _, _ := plain.Forward(x, n)
	if !net.HasDropout() || plain.HasDropout() {
		t.Error("HasDropout wrong")
	}
	if _, err := plain.DropoutForward(x, n, 1); err == nil {
		t.Error("lenet5 (no dropout layers) gave a dropout forward pass")
	}
	if !slices.Equal(ev, pl) {
		t.Error("eval forward of lenet5-dropout differs from lenet5 with the same weights")
	}
	differ := func(u, v []float32) bool { return !slices.Equal(u, v) }
	if !differ(a, c) || !differ(a, ev) {
		t.Error("dropout masks have no effect or do not depend on the seed")
	}
	// The masks: about half the units dropped, the rest scaled by 1/(1−p) = 2.
	e, _ := net.build(engineKey{batch: 4, dtype: tensor.Float32, mode: modeForward, train: true})
	if len(e.masks) != 2 {
		t.Fatalf("%d dropout layers, want 2", len(e.masks))
	}
	for k := 0; k < 4; k++ {
		e.fillMasks(k, sampleRNG(3, k))
	}
	for _, mk := range e.masks {
		zeros := 0
		for _, v := range mk.buf.([]float32) {
			if v == 0 {
				zeros++
			} else if v != 2 {
				t.Fatalf("mask value %v, want 0 or 2", v)
			}
		}
		if f := float64(zeros) / float64(4*mk.width); f < 0.4 || f > 0.6 {
			t.Errorf("dropped fraction %.2f, want ≈ 0.5", f)
		}
	}
}

// TestTrainDropout: training lenet5-dropout is deterministic and the masks
// change the result compared with lenet5 from the same start.
func TestTrainDropout(t *testing.T) {
	set := randSet(128)
	cfg := TrainConfig{Epochs: 1, BatchSize: 64, LearningRate: 1e-3, Seed: 5}
	run := func(arch string) []Param {
		net, _ := NewNetwork(arch, 10, 5)
		if _, err := net.Train(context.Background(), set, nil, cfg, io.Discard); err != nil {
			t.Fatal(err)
		}
		return net.Params()
	}
	a, b, c := run(ArchLeNet5Dropout), run(ArchLeNet5Dropout), run(ArchLeNet5)
	if !slices.Equal(a[4].Data, b[4].Data) {
		t.Error("dropout training is not deterministic")
	}
	if slices.Equal(a[4].Data, c[4].Data) {
		t.Error("dropout had no effect on training")
	}
}
