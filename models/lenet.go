package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// layer is one parameterised layer of a sequential CNN. Convolutions are
// followed by ReLU and 2×2 max-pooling when pool is set; linear layers by ReLU
// unless they are the last.
type layer struct {
	name        string
	conv        bool
	in, out     int // channels (conv) or features (linear)
	k, pad      int // conv kernel size and padding (stride 1)
	pool        bool
	relu        bool
	inH, inW    int // conv input spatial size
	outH, outW  int // conv output spatial size (before pooling)
	penultimate bool
}

func (l layer) weightShape() []int {
	if l.conv {
		return []int{l.out, l.in, l.k, l.k}
	}
	return []int{l.out, l.in}
}

func (l layer) fanIn() int {
	if l.conv {
		return l.in * l.k * l.k
	}
	return l.in
}

// lenetLayers is LeNet-5 exactly as in design.md §4:
// conv1 5×5×6 pad 2 → ReLU → maxpool 2 → conv2 5×5×16 → ReLU → maxpool 2 →
// fc1 400→120 → ReLU → fc2 120→84 → ReLU → fc3 84→10.
func lenetLayers(classes int) []layer {
	return []layer{
		{name: "conv1", conv: true, in: 1, out: 6, k: 5, pad: 2, pool: true, relu: true, inH: 28, inW: 28, outH: 28, outW: 28},
		{name: "conv2", conv: true, in: 6, out: 16, k: 5, pad: 0, pool: true, relu: true, inH: 14, inW: 14, outH: 10, outW: 10},
		{name: "fc1", in: 400, out: 120, relu: true},
		{name: "fc2", in: 120, out: 84, relu: true, penultimate: true},
		{name: "fc3", in: 84, out: classes},
	}
}

// Arch names.
const ArchLeNet5 = "lenet5"

// Archs lists the architectures NewNetwork knows.
func Archs() []string { return []string{ArchLeNet5} }

// Sequential is a small CNN of conv and linear layers (LeNet-5 today) on the
// gorgonia engine. Its parameters are held in PyTorch's state_dict layout; the
// gorgonia graphs are built from them per batch size and mode, pooled, and reused.
type Sequential struct {
	arch    string
	classes int
	c, h, w int
	layers  []layer
	params  []Param // weight, bias per layer, state_dict order

	workers int
	pool    enginePool
}

// NewNetwork returns a network of the named architecture with weights drawn as
// PyTorch's default initialisation does (weights and biases U(−1/√fan_in,
// 1/√fan_in)), from a PCG source seeded with seed.
func NewNetwork(arch string, classes int, seed uint64) (*Sequential, error) {
	switch arch {
	case ArchLeNet5:
	default:
		return nil, fmt.Errorf("models: unknown architecture %q (known: %v)", arch, Archs())
	}
	if classes < 2 {
		return nil, fmt.Errorf("models: %s needs at least 2 classes, got %d", arch, classes)
	}
	s := &Sequential{arch: arch, classes: classes, c: 1, h: 28, w: 28, layers: lenetLayers(classes), workers: 1}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, l := range s.layers {
		bound := 1 / math.Sqrt(float64(l.fanIn()))
		ws := l.weightShape()
		w := make([]float32, prod(ws))
		for i := range w {
			w[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		b := make([]float32, l.out)
		for i := range b {
			b[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		s.params = append(s.params, Param{Name: l.name + ".weight", Shape: ws, Data: w}, Param{Name: l.name + ".bias", Shape: []int{l.out}, Data: b})
	}
	s.pool.net = s
	return s, nil
}

// SetWorkers sets how many batches are computed in parallel (≥ 1). Results do
// not depend on it.
func (s *Sequential) SetWorkers(n int) {
	if n < 1 {
		n = 1
	}
	s.workers = n
}

func (s *Sequential) Arch() string              { return s.arch }
func (s *Sequential) Classes() int              { return s.classes }
func (s *Sequential) InputShape() (c, h, w int) { return s.c, s.h, s.w }

func (s *Sequential) FeatureDim() int {
	for _, l := range s.layers {
		if l.penultimate {
			return l.out
		}
	}
	return 0
}

// Params returns copies of the trainable tensors in state_dict order.
func (s *Sequential) Params() []Param {
	out := make([]Param, len(s.params))
	for i, p := range s.params {
		out[i] = Param{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), p.Data...)}
	}
	return out
}

// GradNames names the purview feature columns, one per trainable tensor.
func (s *Sequential) GradNames() []string {
	out := make([]string, len(s.params))
	for i, p := range s.params {
		out[i] = p.Name
	}
	return out
}

// SetParams replaces the weights with ps, which must hold every trainable
// tensor of the architecture by name with its exact shape, and nothing else.
// Missing, mis-shaped and unexpected tensors are reported together. Cached
// engines are dropped.
func (s *Sequential) SetParams(ps []Param) error {
	byName := map[string]Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	var missing, bad []string
	for _, want := range s.params {
		p, ok := byName[want.Name]
		if !ok {
			missing = append(missing, want.Name)
			continue
		}
		if !slices.Equal(p.Shape, want.Shape) || len(p.Data) != prod(want.Shape) {
			bad = append(bad, fmt.Sprintf("%s %v (want %v)", want.Name, p.Shape, want.Shape))
		}
	}
	var extra []string
	for name := range byName {
		if !slices.ContainsFunc(s.params, func(p Param) bool { return p.Name == name }) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	if len(missing) > 0 || len(bad) > 0 || len(extra) > 0 {
		return fmt.Errorf("models: %s weights do not fit: missing %v, mis-shaped %v, unexpected %v", s.arch, missing, bad, extra)
	}
	for i := range s.params {
		copy(s.params[i].Data, byName[s.params[i].Name].Data)
	}
	s.pool.reset()
	return nil
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

// InputShapeOf returns the input image shape of an architecture.
func InputShapeOf(arch string) (c, h, w int, err error) {
	switch arch {
	case ArchLeNet5:
		return 1, 28, 28, nil
	}
	return 0, 0, 0, fmt.Errorf("models: unknown architecture %q (known: %v)", arch, Archs())
}
