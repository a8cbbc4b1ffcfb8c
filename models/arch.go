package models

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Arch names of the fixed architectures. The zoo's families also take
// parameters in the name (see ParseArch): "resnet34-w16", "densenet-bc-40-12",
// "wrn-40-2".
const (
	ArchLeNet5        = "lenet5"
	ArchLeNet5Dropout = "lenet5-dropout"
	ArchResNet20      = "resnet20"
	ArchResNet18      = "resnet18"
	ArchResNet34      = "resnet34"
	ArchDenseNet100   = "densenet100"
	ArchWRN2810       = "wrn-28-10"
)

// Archs lists the named architectures New knows; ParseArch accepts the
// parameterised forms of the same families as well.
func Archs() []string {
	return []string{ArchLeNet5, ArchLeNet5Dropout, ArchResNet20, ArchResNet18, ArchResNet34, ArchDenseNet100, ArchWRN2810}
}

// InputShapeOf returns the input image shape of an architecture.
func InputShapeOf(arch string) (c, h, w int, err error) {
	a, err := ParseArch(arch)
	if err != nil {
		return 0, 0, 0, err
	}
	return a.in.c, a.in.h, a.in.w, nil
}

// BatchNorm constants, PyTorch's defaults.
const (
	bnEps      = 1e-5
	bnMomentum = 0.1
)

// opKind is one layer type of a program.
type opKind uint8

const (
	opConv      opKind = iota // y = W ⊛ x (+ b): square kernel, stride, zero padding
	opBN                      // BatchNorm2d: y = γ·(x − μ)/√(σ² + ε) + β
	opReLU                    // y = max(x, 0), in place
	opMaxPool                 // 2×2 windows, stride 2
	opAdd                     // y = x + x2, in place on x (residual connection)
	opGAP                     // global average pool: C×H×W → C
	opLinear                  // y = W·flatten(x) + b
	opDropout                 // inverted dropout, in place; identity in eval mode
	opConcat                  // y = [x, x2] along channels (DenseNet)
	opAvgPool                 // 2×2 mean, stride 2 (DenseNet transitions)
	opNormalize               // y = (x − mean_c)/std_c, constants (input normalisation)
)

func (k opKind) String() string {
	return [...]string{"conv", "bn", "relu", "maxpool", "add", "gap", "linear", "dropout", "concat", "avgpool", "normalize"}[k]
}

// op is one step of a program: it reads value in (and in2 for add) and
// writes value out.
type op struct {
	kind    opKind
	name    string // module name in the state_dict ("conv1", "blocks.0.bn1")
	in, in2 int
	out     int
	k       int       // conv kernel size
	stride  int       // conv stride
	pad     int       // conv zero padding
	w, b    int       // indices into params (−1: none); BN: γ and β
	rm, rv  int       // BN: indices into buffers (running mean and variance)
	p       float64   // dropout probability
	mean    []float32 // normalize: per-channel mean and standard deviation
	std     []float32
}

// shape is the shape of one sample's value: C×H×W (linear values are C×1×1).
type shape struct{ c, h, w int }

func (s shape) size() int { return s.c * s.h * s.w }

// program is an architecture as a list of ops over numbered values: value 0
// is the input image, values are written once (in-place ops write a new
// value that shares its input's buffer), and ops run in order. Backward
// passes run the ops in reverse.
type program struct {
	ops    []op
	vals   []shape
	root   []int // value i lives in value root[i]'s buffer
	taps   []Tap
	tapVal []int // value of each tap
	feat   int   // penultimate features
	logits int
	// constant[v] says value v does not depend on any parameter (the input
	// and its normalisation): backward passes stop there unless the input
	// gradient is wanted.
	constant []bool
}

// builder assembles a program and its parameters in state_dict order,
// drawing initial weights as PyTorch's defaults do.
type builder struct {
	prog    program
	params  []Param // trainable, state_dict order
	buffers []Param // BN running statistics
	order   []stateRef
	uses    []int // consumers per value (in-place ops need a sole consumer)
	rng     *rand.Rand
	x       int // the network's input: value 0, or its normalisation
}

// stateRef places one tensor of the state_dict: a param or a buffer.
type stateRef struct {
	buffer bool
	i      int
}

func newBuilder(in shape, sp Spec) *builder {
	b := &builder{rng: rand.New(rand.NewPCG(sp.Seed, 0x9e3779b97f4a7c15))}
	b.value(in, -1)
	if sp.Mean != nil {
		m, s := make([]float32, in.c), make([]float32, in.c)
		for c := range m {
			m[c], s[c] = float32(sp.Mean[c]), float32(sp.Std[c])
		}
		b.x = b.normalize(0, m, s)
	}
	return b
}

func (b *builder) value(s shape, alias int) int {
	id := len(b.prog.vals)
	b.prog.vals = append(b.prog.vals, s)
	if alias < 0 {
		b.prog.root = append(b.prog.root, id)
	} else {
		b.prog.root = append(b.prog.root, b.prog.root[alias])
	}
	b.uses = append(b.uses, 0)
	return id
}

func (b *builder) use(v int) { b.uses[v]++ }

// uniform draws a tensor U(−bound, bound) in float32.
func (b *builder) uniform(n int, bound float64) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32((b.rng.Float64()*2 - 1) * bound)
	}
	return d
}

func (b *builder) param(name string, shape []int, data []float32) int {
	b.params = append(b.params, Param{Name: name, Shape: shape, Data: data})
	b.order = append(b.order, stateRef{i: len(b.params) - 1})
	return len(b.params) - 1
}

func (b *builder) buffer(name string, shape []int, data []float32) int {
	b.buffers = append(b.buffers, Param{Name: name, Shape: shape, Data: data})
	b.order = append(b.order, stateRef{buffer: true, i: len(b.buffers) - 1})
	return len(b.buffers) - 1
}

// conv adds a k×k convolution to cout channels. Weights and bias are drawn
// U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5, PyTorch's default).
func (b *builder) conv(name string, in, cout, k, stride, pad int, bias bool) int {
	s := b.prog.vals[in]
	fan := s.c * k * k
	bound := 1 / math.Sqrt(float64(fan))
	o := op{kind: opConv, name: name, in: in, k: k, stride: stride, pad: pad, b: -1}
	o.w = b.param(name+".weight", []int{cout, s.c, k, k}, b.uniform(cout*fan, bound))
	if bias {
		o.b = b.param(name+".bias", []int{cout}, b.uniform(cout, bound))
	}
	oh, ow := (s.h+2*pad-k)/stride+1, (s.w+2*pad-k)/stride+1
	b.use(in)
	o.out = b.value(shape{cout, oh, ow}, -1)
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

// bn adds a BatchNorm2d with γ = 1, β = 0, running mean 0 and variance 1.
func (b *builder) bn(name string, in int) int {
	c := b.prog.vals[in].c
	ones := func() []float32 {
		d := make([]float32, c)
		for i := range d {
			d[i] = 1
		}
		return d
	}
	o := op{kind: opBN, name: name, in: in}
	o.w = b.param(name+".weight", []int{c}, ones())
	o.b = b.param(name+".bias", []int{c}, make([]float32, c))
	o.rm = b.buffer(name+".running_mean", []int{c}, make([]float32, c))
	o.rv = b.buffer(name+".running_var", []int{c}, ones())
	b.use(in)
	o.out = b.value(b.prog.vals[in], -1)
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

// inPlace adds an op that overwrites its input's buffer.
func (b *builder) inPlace(o op) int {
	b.use(o.in)
	o.out = b.value(b.prog.vals[o.in], o.in)
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

func (b *builder) relu(in int) int { return b.inPlace(op{kind: opReLU, in: in}) }

func (b *builder) dropout(in int, p float64) int {
	return b.inPlace(op{kind: opDropout, in: in, p: p})
}

func (b *builder) add(in, in2 int) int {
	b.use(in2)
	return b.inPlace(op{kind: opAdd, in: in, in2: in2})
}

func (b *builder) maxpool(in int) int {
	s := b.prog.vals[in]
	b.use(in)
	o := op{kind: opMaxPool, in: in, out: b.value(shape{s.c, s.h / 2, s.w / 2}, -1)}
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

func (b *builder) gap(in int) int {
	b.use(in)
	o := op{kind: opGAP, in: in, out: b.value(shape{b.prog.vals[in].c, 1, 1}, -1)}
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

// linear adds a fully connected layer on the flattened input, weights and
// bias U(−1/√fan_in, 1/√fan_in).
func (b *builder) linear(name string, in, out int) int {
	fan := b.prog.vals[in].size()
	bound := 1 / math.Sqrt(float64(fan))
	o := op{kind: opLinear, name: name, in: in}
	o.w = b.param(name+".weight", []int{out, fan}, b.uniform(out*fan, bound))
	o.b = b.param(name+".bias", []int{out}, b.uniform(out, bound))
	b.use(in)
	o.out = b.value(shape{out, 1, 1}, -1)
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

// concat adds y = [x, x2] along channels (same height and width).
func (b *builder) concat(in, in2 int) int {
	s, s2 := b.prog.vals[in], b.prog.vals[in2]
	if s.h != s2.h || s.w != s2.w {
		panic(fmt.Sprintf("models: concat of %v and %v", s, s2))
	}
	b.use(in)
	b.use(in2)
	o := op{kind: opConcat, in: in, in2: in2, out: b.value(shape{s.c + s2.c, s.h, s.w}, -1)}
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

// avgpool adds a 2×2 mean pool with stride 2 (F.avg_pool2d(x, 2)).
func (b *builder) avgpool(in int) int {
	s := b.prog.vals[in]
	b.use(in)
	o := op{kind: opAvgPool, in: in, out: b.value(shape{s.c, s.h / 2, s.w / 2}, -1)}
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

// normalize adds y = (x − mean_c)/std_c with constants, as torchvision's
// Normalize transform, so published weights see the inputs they were
// trained on while the harness keeps images in [0,1].
func (b *builder) normalize(in int, mean, std []float32) int {
	b.use(in)
	o := op{kind: opNormalize, in: in, mean: mean, std: std, out: b.value(b.prog.vals[in], -1)}
	b.prog.ops = append(b.prog.ops, o)
	return o.out
}

func (b *builder) tap(name string, v int) {
	s := b.prog.vals[v]
	b.prog.taps = append(b.prog.taps, Tap{Name: name, C: s.c, H: s.h, W: s.w})
	b.prog.tapVal = append(b.prog.tapVal, v)
}

// finish checks that every in-place op is its input's sole consumer (so the
// overwritten value is needed by nobody else) and returns the program.
func (b *builder) finish(logits int) program {
	for _, o := range b.prog.ops {
		switch o.kind {
		case opReLU, opDropout, opAdd:
			if b.uses[o.in] != 1 {
				panic(fmt.Sprintf("models: in-place %v on value %d with %d consumers", o.kind, o.in, b.uses[o.in]))
			}
		}
	}
	// A tapped value must survive the pass: no in-place op may overwrite it.
	for ti, v := range b.prog.tapVal {
		for _, o := range b.prog.ops {
			// (Dropout is exempt: it is the identity in the passes that read taps.)
			if (o.kind == opReLU || o.kind == opAdd) && o.in == v {
				panic(fmt.Sprintf("models: tap %s is overwritten by an in-place %v", b.prog.taps[ti].Name, o.kind))
			}
		}
	}
	b.prog.constant = make([]bool, len(b.prog.vals))
	b.prog.constant[0] = true
	for _, o := range b.prog.ops {
		if o.kind == opNormalize && b.prog.constant[o.in] {
			b.prog.constant[o.out] = true
		}
	}
	b.prog.logits = logits
	b.prog.feat = b.prog.tapVal[len(b.prog.tapVal)-1]
	return b.prog
}

// lenet5 is LeNet-5 as in design.md §4: conv1 5×5×6 pad 2 → ReLU → maxpool 2 →
// conv2 5×5×16 → ReLU → maxpool 2 → fc1 400→120 → ReLU → fc2 120→84 → ReLU →
// fc3 84→C, with dropout p after the ReLUs of fc1 and fc2 when p > 0. Taps:
// the outputs of conv1, conv2 (after pooling), fc1 and fc2 (after ReLU).
func lenet5(sp Spec, p float64) *builder {
	b := newBuilder(shape{1, 28, 28}, sp)
	h := b.maxpool(b.relu(b.conv("conv1", b.x, 6, 5, 1, 2, true)))
	b.tap("conv1", h)
	h = b.maxpool(b.relu(b.conv("conv2", h, 16, 5, 1, 0, true)))
	b.tap("conv2", h)
	for _, fc := range []struct {
		name string
		out  int
	}{{"fc1", 120}, {"fc2", 84}} {
		h = b.relu(b.linear(fc.name, h, fc.out))
		b.tap(fc.name, h)
		if p > 0 {
			h = b.dropout(h, p)
		}
	}
	b.finish(b.linear("fc3", h, sp.Classes))
	return b
}

// resnet20 is He et al.'s CIFAR ResNet-20 with the module names of
// torch_ref.py: conv1 3×3×16 → bn1 → ReLU → 9 basic blocks (16, 32, 64
// channels; the first block of stages 2 and 3 has stride 2 and a 1×1 conv + BN
// projection shortcut) → global average pool → fc 64→C. Block N computes
// ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x)). Taps: "bn1" (after its
// ReLU), "blocks.0" … "blocks.8" (block outputs) and "avgpool" (the pooled
// 64 features, the penultimate layer).
func resnet20(sp Spec) *builder {
	b := newBuilder(shape{3, 32, 32}, sp)
	h := b.relu(b.bn("bn1", b.conv("conv1", b.x, 16, 3, 1, 1, false)))
	b.tap("bn1", h)
	cin, n := 16, 0
	for stage, width := range []int{16, 32, 64} {
		for i := 0; i < 3; i++ {
			stride := 1
			if i == 0 && stage > 0 {
				stride = 2
			}
			name := fmt.Sprintf("blocks.%d", n)
			y := b.relu(b.bn(name+".bn1", b.conv(name+".conv1", h, width, 3, stride, 1, false)))
			y = b.bn(name+".bn2", b.conv(name+".conv2", y, width, 3, 1, 1, false))
			sc := h
			if stride != 1 || cin != width {
				sc = b.bn(name+".shortcut.1", b.conv(name+".shortcut.0", h, width, 1, stride, 0, false))
			}
			h = b.relu(b.add(y, sc))
			b.tap(name, h)
			cin = width
			n++
		}
	}
	h = b.gap(h)
	b.tap("avgpool", h)
	b.finish(b.linear("fc", h, sp.Classes))
	return b
}
