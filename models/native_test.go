package models

import (
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestIm2colMatchesDefinition checks im2col and its adjoint col2imAdd against
// the definitions, element by element, for the shapes the architectures use
// and a few more (stride 2, padding wider than the kernel's reach, non-square).
func TestIm2colMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		in             shape
		k, stride, pad int
	}{
		{shape{1, 28, 28}, 5, 1, 2}, {shape{6, 14, 14}, 5, 1, 0}, {shape{16, 32, 32}, 3, 1, 1},
		{shape{16, 32, 32}, 3, 2, 1}, {shape{16, 32, 32}, 1, 2, 0}, {shape{2, 7, 5}, 3, 2, 2},
		{shape{3, 6, 9}, 3, 1, 1}, {shape{2, 5, 5}, 3, 1, 3},
	} {
		oh, ow := (c.in.h+2*c.pad-c.k)/c.stride+1, (c.in.w+2*c.pad-c.k)/c.stride+1
		K, P := c.in.c*c.k*c.k, oh*ow
		img := make([]float32, c.in.size())
		for i := range img {
			img[i] = r.Float32()
		}
		cols := make([]float32, K*P)
		for i := range cols {
			cols[i] = 99 // must be overwritten
		}
		im2col(img, c.in, c.k, c.stride, c.pad, oh, ow, cols)
		// ⟨im2col(x), u⟩ = ⟨x, col2im(u)⟩ for random u checks the adjoint.
		u := make([]float32, K*P)
		for i := range u {
			u[i] = r.Float32() - 0.5
		}
		back := make([]float32, c.in.size())
		col2imAdd(slices.Clone(u), c.in, c.k, c.stride, c.pad, oh, ow, back)
		var lhs, rhs float64
		for ch := 0; ch < c.in.c; ch++ {
			for ky := 0; ky < c.k; ky++ {
				for kx := 0; kx < c.k; kx++ {
					for oy := 0; oy < oh; oy++ {
						for ox := 0; ox < ow; ox++ {
							iy, ix := oy*c.stride+ky-c.pad, ox*c.stride+kx-c.pad
							want := float32(0)
							if iy >= 0 && iy < c.in.h && ix >= 0 && ix < c.in.w {
								want = img[(ch*c.in.h+iy)*c.in.w+ix]
							}
							at := ((ch*c.k+ky)*c.k+kx)*P + oy*ow + ox
							if cols[at] != want {
								t.Fatalf("%+v: cols[c%d ky%d kx%d oy%d ox%d] = %v, want %v", c, ch, ky, kx, oy, ox, cols[at], want)
							}
							lhs += float64(cols[at]) * float64(u[at])
						}
					}
				}
			}
		}
		for i, v := range back {
			rhs += float64(img[i]) * float64(v)
		}
		if relErr(lhs, rhs) > 1e-5 {
			t.Errorf("%+v: ⟨im2col x, u⟩ = %v, ⟨x, col2im u⟩ = %v", c, lhs, rhs)
		}
	}
}

// TestReLUBitTricks: the branchless ReLU equals max(v, 0) and its backward
// passes the gradient exactly where the output is positive.
func TestReLUBitTricks(t *testing.T) {
	y := []float32{-2, -0.0, 0, 1e-40, 3.5, -1e-40, 7}
	reluForward(y)
	if want := []float32{0, 0, 0, 1e-40, 3.5, 0, 7}; !slices.Equal(y, want) {
		t.Errorf("relu = %v, want %v", y, want)
	}
	g := []float32{1, 2, 3, 4, 5, 6, 7}
	reluBackward(y, g)
	if want := []float32{0, 0, 0, 4, 5, 0, 7}; !slices.Equal(g, want) {
		t.Errorf("relu backward = %v, want %v", g, want)
	}
}

// TestResNetIndependentOfWorkers: ResNet-20's logits and purview features do
// not depend on the worker count or on the other samples of a batch.
func TestResNetIndependentOfWorkers(t *testing.T) {
	net, _ := NewNetwork(ArchResNet20, 10, 12)
	const n = 40 // two batches, the second padded
	x := randInput(net, n, 13)
	c := Confound{Label: allOnes, Act: Sigmoid}
	var refL []float32
	var refG []float64
	for _, w := range []int{1, 2} {
		net.SetWorkers(w)
		l, _, err := net.Forward(x, n)
		if err != nil {
			t.Fatal(err)
		}
		g := make([]float64, n*65)
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
	g := make([]float64, 8*65)
	net.GradNorms(x[32*3072:], 8, c, g)
	if !slices.Equal(g, refG[32*65:]) {
		t.Error("grad norms of a sample depend on its batch")
	}
}

// TestDropoutMatchesReference: with the same masks, the native engine's
// dropout forward equals gorgonia's graph, and a lenet5-dropout training
// step's gradients equal gorgonia's.
func TestDropoutMatchesReference(t *testing.T) {
	net, _ := NewNetwork(ArchLeNet5Dropout, 10, 41)
	const n = 3
	x := randImages(n, 42)
	got, err := net.DropoutForward(x, n, 7)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := net.build(engineKey{batch: n, dtype: tensor.Float64, mode: modeForward, train: true})
	ref.load(x, n)
	for k := 0; k < n; k++ {
		ref.fillMasks(k, sampleRNG(7, k))
	}
	if err := ref.run(); err != nil {
		t.Fatal(err)
	}
	if d := relDiff(got, valueF64(ref.logits)); d > 1e-5 {
		t.Errorf("DropoutForward differs from the reference by %.2g", d)
	}

	const bs = 4
	xb := randImages(bs, 43)
	labels := []int{3, 1, 4, 1}
	cfg := TrainConfig{Seed: 9}
	tr := net.newTrainer(bs, cfg)
	copy(tr.e.vals[0], xb)
	copy(tr.labels, labels)
	loss, _ := tr.gradients()
	g, _ := net.build(engineKey{batch: bs, dtype: tensor.Float64, mode: modeGrads, kind: lossCE, train: true})
	g.load(xb, bs)
	tg := g.tBuf.([]float64)
	drop := rand.New(rand.NewPCG(cfg.Seed, 0xd209)) // the trainer's mask source
	for k, l := range labels {
		tg[k*10+l] = 1
		g.fillMasks(k, drop)
	}
	if err := g.run(); err != nil {
		t.Fatal(err)
	}
	if relErr(loss, valueF64(g.loss)[0]) > 1e-5 {
		t.Errorf("loss %v, reference %v", loss, valueF64(g.loss)[0])
	}
	for pi, p := range net.params {
		if d := relDiff(tr.e.pgrad[pi], net.stateGrad(pi, valueF64(g.grads[pi]))); d > 1e-4 {
			t.Errorf("∂J/∂%s differs from the reference by %.2g", p.Name, d)
		}
	}
}

// TestArchsBuild: every architecture builds, runs every public method on
// two samples and reports consistent sizes.
func TestArchsBuild(t *testing.T) {
	// The full-size zoo networks are represented by narrow members of their
	// families (TestZooStateDicts checks the full sizes' tensors).
	narrow := map[string]string{ArchResNet18: "resnet18-w2", ArchResNet34: "resnet34-w2", ArchDenseNet100: "densenet-bc-16-2", ArchWRN2810: "wrn-10-1"}
	for _, arch := range Archs() {
		if n, ok := narrow[arch]; ok {
			arch = n
		}
		net, err := NewNetwork(arch, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		c, h, w, err := InputShapeOf(arch)
		if err != nil || c != net.c || h != net.h || w != net.w {
			t.Errorf("%s: InputShapeOf = %d,%d,%d,%v", arch, c, h, w, err)
		}
		x := randInput(net, 2, 5)
		l, f, err := net.Forward(x, 2)
		if err != nil || len(l) != 20 || len(f) != 2*net.FeatureDim() {
			t.Errorf("%s: Forward %d logits, %d features, %v", arch, len(l), len(f), err)
		}
		if _, _, err := net.Forward(x[1:], 2); err == nil {
			t.Errorf("%s: short input accepted", arch)
		}
		if _, err := net.Train(context.Background(), nil, nil, TrainConfig{}, io.Discard); err == nil {
			t.Errorf("%s: empty training config accepted", arch)
		}
	}
	for _, c := range []struct{ arch, want string }{
		{"vgg", `models: architecture "vgg": unknown (known: lenet5, lenet5-dropout, resnet20, resnet18, resnet34, densenet100, wrn-28-10, or resnet18-wN, resnet34-wN, densenet-bc-D-K, wrn-D-W)`},
		{"resnet18-w0", "want resnet18-wN with a positive width N"},
		{"resnet34-w08", "want resnet18-wN"},
		{"densenet-bc-99-12", "D ≡ 4 (mod 6)"},
		{"densenet-bc-100", "want densenet-bc-D-K"},
		{"wrn-28", "want wrn-D-W"},
		{"wrn-4-1", "depth D ≥ 10"},
	} {
		if _, err := NewNetwork(c.arch, 10, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewNetwork(%q) = %v, want an error containing %q", c.arch, err, c.want)
		}
	}
}
