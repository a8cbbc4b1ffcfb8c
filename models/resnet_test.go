package models

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/purview-lab/purview/datasets"
	"gorgonia.org/tensor"
)

// randInput returns n random images of net's input shape.
func randInput(net *Sequential, n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*net.c*net.h*net.w)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

// randomizeBN moves every BatchNorm away from the identity (γ ∈ [0.5,1.5],
// β ∈ [−0.2,0.2], running mean ∈ [−0.1,0.1], running variance ∈ [0.5,1.5]) so
// that tests exercise all four of its tensors.
func randomizeBN(t *testing.T, net *Sequential, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	sd := net.StateDict()
	for _, p := range sd {
		lo, hi := 0.0, 0.0
		switch {
		case net.isBN(p.Name, ".weight"), net.isBN(p.Name, ".running_var"):
			lo, hi = 0.5, 1.5
		case net.isBN(p.Name, ".bias"):
			lo, hi = -0.2, 0.2
		case net.isBN(p.Name, ".running_mean"):
			lo, hi = -0.1, 0.1
		default:
			continue
		}
		for i := range p.Data {
			p.Data[i] = float32(lo + (hi-lo)*r.Float64())
		}
	}
	if err := net.SetParams(sd); err != nil {
		t.Fatal(err)
	}
}

// isBN reports whether name is the given tensor of a BatchNorm op.
func (s *Sequential) isBN(name, suffix string) bool {
	for _, o := range s.prog.ops {
		if o.kind == opBN && name == o.name+suffix {
			return true
		}
	}
	return false
}

// relDiff is ‖a − b‖/‖b‖.
func relDiff(a []float32, b []float64) float64 {
	var num, den float64
	for i := range b {
		d := float64(a[i]) - b[i]
		num, den = num+d*d, den+b[i]*b[i]
	}
	return math.Sqrt(num / den)
}

func newResNet(t *testing.T, seed uint64) *Sequential {
	t.Helper()
	net, err := NewNetwork(ArchResNet20, 10, seed)
	if err != nil {
		t.Fatal(err)
	}
	randomizeBN(t, net, seed)
	return net
}

// TestResNetStateDict pins the tensor names, shapes and order to PyTorch's
// ResNet20 in torch_ref.py, and the trainable element count to the
// hand-computed 272,474 (269,722 for the convolutions, BN and fc of ResNet-20,
// plus 2,752 for the two 1×1 projection shortcuts with their BN).
func TestResNetStateDict(t *testing.T) {
	net, _ := NewNetwork(ArchResNet20, 10, 1)
	var want []string
	bn := func(p string) {
		want = append(want, p+".weight", p+".bias", p+".running_mean", p+".running_var")
	}
	want = append(want, "conv1.weight")
	bn("bn1")
	for n := 0; n < 9; n++ {
		b := fmt.Sprintf("blocks.%d", n)
		want = append(want, b+".conv1.weight")
		bn(b + ".bn1")
		want = append(want, b+".conv2.weight")
		bn(b + ".bn2")
		if n == 3 || n == 6 {
			want = append(want, b+".shortcut.0.weight")
			bn(b + ".shortcut.1")
		}
	}
	want = append(want, "fc.weight", "fc.bias")
	sd := net.StateDict()
	var got []string
	for _, p := range sd {
		got = append(got, p.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("state_dict names\n got %v\nwant %v", got, want)
	}
	shapes := map[string][]int{"conv1.weight": {16, 3, 3, 3}, "blocks.3.conv1.weight": {32, 16, 3, 3},
		"blocks.3.shortcut.0.weight": {32, 16, 1, 1}, "blocks.6.shortcut.1.running_var": {64}, "fc.weight": {10, 64}}
	total := 0
	for _, p := range net.Params() {
		total += len(p.Data)
	}
	for _, p := range sd {
		if w, ok := shapes[p.Name]; ok && !slices.Equal(p.Shape, w) {
			t.Errorf("%s shape %v, want %v", p.Name, p.Shape, w)
		}
	}
	if total != 272474 || len(net.GradNames()) != 65 {
		t.Errorf("%d trainable values in %d tensors, want 272474 in 65", total, len(net.GradNames()))
	}
	if net.FeatureDim() != 64 {
		t.Errorf("feature dim %d", net.FeatureDim())
	}
	taps := net.Taps()
	if len(taps) != 11 || taps[0] != (Tap{"bn1", 16, 32, 32}) || taps[4] != (Tap{"blocks.3", 32, 16, 16}) || taps[10] != (Tap{"avgpool", 64, 1, 1}) {
		t.Errorf("taps %v", taps)
	}
}

// TestResNetReferenceFiniteDifferences validates the gorgonia reference graph
// itself (eval-mode BatchNorm as an affine map, global average pooling by
// reshape + mean): the gradient of all parameters along one random direction
// against central differences, in float64.
func TestResNetReferenceFiniteDifferences(t *testing.T) {
	net := newResNet(t, 31)
	x := randInput(net, 1, 32)
	c := Confound{Label: allOnes, Act: Sigmoid}
	grads, err := net.SampleGrads(x, 1, c)
	if err != nil {
		t.Fatal(err)
	}
	e, err := net.build(engineKey{batch: 1, dtype: tensor.Float64, mode: modeGrads, kind: confoundLoss(c.Act)})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var dot float64
	vs := make([][]float64, len(net.params))
	for pi, p := range net.params {
		w := e.wData[pi].([]float64)
		vs[pi] = make([]float64, len(w))
		for j := range w {
			vs[pi][j] = r.NormFloat64()
			k := j
			if len(p.Shape) == 2 {
				in, o := j/p.Shape[0], j%p.Shape[0]
				k = o*p.Shape[1] + in
			}
			dot += grads[0][pi][k] * vs[pi][j]
		}
	}
	// h = 1e-7: with all 272k weights moving, h = 1e-6 already flips a ReLU
	// somewhere (the difference quotient converges for h ≤ 1e-7).
	const h = 1e-7
	lossAt := func(sign float64) float64 {
		for pi := range net.params {
			w := e.wData[pi].([]float64)
			orig := castData(net.params[pi].Data, net.params[pi].Shape[0], len(net.params[pi].Shape) == 2, tensor.Float64).([]float64)
			for j := range w {
				w[j] = orig[j] + sign*h*vs[pi][j]
			}
		}
		e.load(x, 1)
		e.setTarget(c.Label)
		if err := e.run(); err != nil {
			t.Fatal(err)
		}
		return valueF64(e.loss)[0]
	}
	fd := (lossAt(1) - lossAt(-1)) / (2 * h)
	if math.Abs(fd-dot) > 1e-6*math.Abs(fd)+1e-9 {
		t.Errorf("⟨∂J/∂θ, v⟩ = %.10g, finite difference %.10g", dot, fd)
	}
	fdCheck(t, net, engineKey{batch: 1, dtype: tensor.Float64, mode: modeInputGrad}, ceLoss([]int{4}, 10), x)
	fdCheck(t, net, engineKey{batch: 1, dtype: tensor.Float64, mode: modeFeatureGrad, tap: "blocks.4", reduce: ChannelMean}, quadLoss, x)
}

// TestResNetMatchesReference: the native engine's logits, taps, purview
// features, input and feature gradients equal gorgonia's float64 autodiff
// (batch-1 graphs for the purview features) within float32 rounding.
func TestResNetMatchesReference(t *testing.T) {
	matchReference(t, newResNet(t, 33), 34, []tapReduce{{"blocks.4", ChannelMean}, {"bn1", Flatten}, {"avgpool", Flatten}})
}

type tapReduce struct {
	name string
	r    Reduce
}

// matchReference compares every native output of net on two random images
// drawn with seed with the gorgonia reference: logits and taps (forward),
// purview features for a sigmoid and a softmax confounding label (batch-1
// autodiff), the input gradient of a cross-entropy, and the input gradient
// of a quadratic loss on each of featTaps.
func matchReference(t *testing.T, net *Sequential, seed uint64, featTaps []tapReduce) {
	t.Helper()
	const n = 2
	x := randInput(net, n, seed)
	logits, feats, err := net.Forward(x, n)
	if err != nil {
		t.Fatal(err)
	}
	e, err := net.build(engineKey{batch: n, dtype: tensor.Float64, mode: modeForward})
	if err != nil {
		t.Fatal(err)
	}
	e.load(x, n)
	if err := e.run(); err != nil {
		t.Fatal(err)
	}
	if d := relDiff(logits, valueF64(e.logits)); d > 1e-5 {
		t.Errorf("logits differ from the reference by %.2g", d)
	}
	lf, err := net.LayerFeatures(x, n, nil, Flatten)
	if err != nil {
		t.Fatal(err)
	}
	for i, tp := range net.Taps() {
		if d := relDiff(lf[i], valueF64(e.taps[i])); d > 1e-5 {
			t.Errorf("tap %s differs from the reference by %.2g", tp.Name, d)
		}
	}
	if !slices.Equal(lf[len(lf)-1], feats) {
		t.Error("last tap differs from Forward's features")
	}

	np := len(net.GradNames())
	confounds := []Confound{{Label: allOnes, Act: Sigmoid}, {Label: []float32{1, 0, 0, 1, 0, 0, 0, 1, 0, 0}, Act: Softmax}}
	for _, c := range confounds {
		got := make([]float64, n*np)
		if err := net.GradNorms(x, n, c, got); err != nil {
			t.Fatal(err)
		}
		ref, err := net.SampleGrads(x, n, c)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			for j, g := range ref[i] {
				var want float64
				for _, v := range g {
					want += v * v
				}
				if e := relErr(got[i*np+j], want); e > 1e-4 {
					t.Errorf("%v sample %d %s: batched %g, batch-1 reference %g (rel err %.2g)", c.Act, i, net.GradNames()[j], got[i*np+j], want, e)
				}
			}
		}
	}

	labels := []int{2, 7}
	grad := make([]float32, len(x))
	if _, _, err := net.InputGrad(x, n, float32Loss(ceLoss(labels, 10)), grad); err != nil {
		t.Fatal(err)
	}
	_, ref, _, err := net.gradRef(x, n, tensor.Float64, "", Flatten, func() rowLossFunc { return ceLoss(labels, 10) })
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff(grad, ref); d > 1e-4 {
		t.Errorf("InputGrad differs from the reference by %.2g", d)
	}
	for _, tap := range featTaps {
		if _, err := net.FeatureGrad(x, n, tap.name, tap.r, float32Loss(quadLoss), grad); err != nil {
			t.Fatal(err)
		}
		_, ref, _, err := net.gradRef(x, n, tensor.Float64, tap.name, tap.r, func() rowLossFunc { return quadLoss })
		if err != nil {
			t.Fatal(err)
		}
		if d := relDiff(grad, ref); d > 1e-4 {
			t.Errorf("FeatureGrad %s differs from the reference by %.2g", tap.name, d)
		}
	}
}

// float32Loss wraps a float64 row loss as a LossFunc.
func float32Loss(f rowLossFunc) LossFunc {
	return func(i int, z, g []float32) float64 {
		z64, g64 := make([]float64, len(z)), make([]float64, len(z))
		for j, v := range z {
			z64[j] = float64(v)
		}
		l := f(i, z64, g64)
		for j, v := range g64 {
			g[j] = float32(v)
		}
		return l
	}
}

// TestResNetTrainGradients: a training step's gradients (BatchNorm on batch
// statistics) equal gorgonia's BatchNorm graph, and the running statistics
// move as PyTorch's do: μ_run ← 0.9·μ_run + 0.1·mean, σ²_run ← 0.9·σ²_run +
// 0.1·var·N/(N−1).
func TestResNetTrainGradients(t *testing.T) {
	net := newResNet(t, 35)
	const bs = 4
	x := randInput(net, bs, 36)
	labels := []int{1, 5, 9, 0}
	ref, _ := net.build(engineKey{batch: bs, dtype: tensor.Float64, mode: modeGrads, kind: lossCE, train: true})
	ref.load(x, bs)
	tgt := make([]float32, bs*10)
	for k, l := range labels {
		tgt[k*10+l] = 1
	}
	copy(ref.tBuf.([]float64), castData(tgt, 1, false, tensor.Float64).([]float64))
	if err := ref.run(); err != nil {
		t.Fatal(err)
	}
	rm0, rv0 := slices.Clone(net.buffers[0].Data), slices.Clone(net.buffers[1].Data)
	tr := net.newTrainer(bs, TrainConfig{})
	copy(tr.e.vals[0], x)
	copy(tr.labels, labels)
	loss, _ := tr.gradients()
	if relErr(loss, valueF64(ref.loss)[0]) > 1e-5 {
		t.Errorf("loss %v, reference %v", loss, valueF64(ref.loss)[0])
	}
	for pi, p := range net.params {
		want := net.stateGrad(pi, valueF64(ref.grads[pi]))
		if d := relDiff(tr.e.pgrad[pi], want); d > 1e-3 {
			t.Errorf("∂J/∂%s differs from the reference by %.2g", p.Name, d)
		}
	}
	// bn1 normalises conv1's output (value 1).
	z, HW := tr.e.vals[1], 32*32
	for c := 0; c < 16; c++ {
		var s, ss float64
		for b := 0; b < bs; b++ {
			for _, v := range z[(b*16+c)*HW:][:HW] {
				s += float64(v)
			}
		}
		N := float64(bs * HW)
		mu := s / N
		for b := 0; b < bs; b++ {
			for _, v := range z[(b*16+c)*HW:][:HW] {
				ss += (float64(v) - mu) * (float64(v) - mu)
			}
		}
		wm, wv := 0.9*float64(rm0[c])+0.1*mu, 0.9*float64(rv0[c])+0.1*ss/(N-1)
		if relErr(float64(net.buffers[0].Data[c]), wm) > 1e-5 || relErr(float64(net.buffers[1].Data[c]), wv) > 1e-5 {
			t.Errorf("bn1 channel %d: running mean, var %v, %v; want %v, %v", c, net.buffers[0].Data[c], net.buffers[1].Data[c], wm, wv)
		}
	}
}

// TestResNetTrainAndCheckpoint: training is bit-identical for 1 and 2 worker
// threads, moves the running statistics, and a checkpoint carries them.
func TestResNetTrainAndCheckpoint(t *testing.T) {
	set := &datasets.Set{Name: "rand", C: 3, H: 32, W: 32, Labels: make([]int, 64), Index: make([]int, 64)}
	for i := range set.Labels {
		set.Labels[i], set.Index[i] = i%10, i
	}
	cfg := TrainConfig{Epochs: 1, BatchSize: 32, LearningRate: 1e-3, Seed: 3}
	var nets []*Sequential
	for _, w := range []int{1, 2} {
		net, _ := NewNetwork(ArchResNet20, 10, 7)
		set.Images = randInput(net, 64, 8)
		net.SetWorkers(w)
		if _, err := net.Train(context.Background(), set, nil, cfg, io.Discard); err != nil {
			t.Fatal(err)
		}
		nets = append(nets, net)
	}
	a, b := nets[0].StateDict(), nets[1].StateDict()
	for i := range a {
		if !slices.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("%s differs between 1 and 2 workers", a[i].Name)
		}
	}
	if nets[0].buffers[0].Data[0] == 0 {
		t.Error("running mean did not move")
	}
	path := filepath.Join(t.TempDir(), "resnet.safetensors")
	if err := SaveCheckpoint(path, nets[0]); err != nil {
		t.Fatal(err)
	}
	other, _ := NewNetwork(ArchResNet20, 10, 99)
	if err := LoadCheckpoint(path, other); err != nil {
		t.Fatal(err)
	}
	x := randInput(other, 3, 9)
	la, _, _ := nets[0].Forward(x, 3)
	lb, _, _ := other.Forward(x, 3)
	if !slices.Equal(la, lb) {
		t.Error("reloaded ResNet computes different logits")
	}
	ps, _, _ := ReadCheckpoint(path)
	if len(ps) != 107 {
		t.Errorf("checkpoint holds %d tensors, want 65 trainable + 42 running statistics", len(ps))
	}
}
