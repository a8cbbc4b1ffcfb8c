package models

import (
	"fmt"
	"slices"
)

// Sequential is a CNN described by a program: a list of layers (convolution,
// BatchNorm, ReLU, max-pool, residual add, global average pool, linear,
// dropout) over numbered values — LeNet-5 and ResNet-20 today. Its
// parameters and BatchNorm running statistics are held in PyTorch's
// state_dict layout. Work runs on the native engine (engines pooled per
// batch size, buffers reused); gorgonia graphs built from the same program
// are the autodiff reference the engine is tested against.
//
// Methods are safe for concurrent use, except Train, SetParams and
// SetWorkers, which must not overlap with anything else.
type Sequential struct {
	arch    string
	classes int
	c, h, w int
	prog    program
	params  []Param    // trainable, state_dict order
	buffers []Param    // BN running mean and variance
	order   []stateRef // params and buffers in state_dict order

	workers int
	pool    enginePool // gorgonia reference graphs
	native  nativePool
}

// NewNetwork returns a network of the named architecture with weights drawn as
// PyTorch's default initialisation does (convolution and linear weights and
// biases U(−1/√fan_in, 1/√fan_in); BatchNorm γ = 1, β = 0, running mean 0,
// variance 1), from a PCG source seeded with seed.
func NewNetwork(arch string, classes int, seed uint64) (*Sequential, error) {
	if _, _, _, err := InputShapeOf(arch); err != nil {
		return nil, err
	}
	if classes < 2 {
		return nil, fmt.Errorf("models: %s needs at least 2 classes, got %d", arch, classes)
	}
	var b *builder
	switch arch {
	case ArchLeNet5:
		b = lenet5(classes, 0, seed)
	case ArchLeNet5Dropout:
		b = lenet5(classes, 0.5, seed)
	case ArchResNet20:
		b = resnet20(classes, seed)
	}
	in := b.prog.vals[0]
	s := &Sequential{arch: arch, classes: classes, c: in.c, h: in.h, w: in.w, prog: b.prog,
		params: b.params, buffers: b.buffers, order: b.order, workers: 1}
	s.pool.net = s
	s.native.net = s
	return s, nil
}

// SetWorkers sets how many batches are computed in parallel (≥ 1), and how
// many goroutines a training step's matrix products use. Results do not
// depend on it.
func (s *Sequential) SetWorkers(n int) {
	if n < 1 {
		n = 1
	}
	s.workers = n
}

func (s *Sequential) Arch() string              { return s.arch }
func (s *Sequential) Classes() int              { return s.classes }
func (s *Sequential) InputShape() (c, h, w int) { return s.c, s.h, s.w }
func (s *Sequential) FeatureDim() int           { return s.prog.vals[s.prog.feat].size() }

func copyParams(ps []Param) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		out[i] = Param{Name: p.Name, Shape: slices.Clone(p.Shape), Data: slices.Clone(p.Data)}
	}
	return out
}

// Params returns copies of the trainable tensors in state_dict order.
func (s *Sequential) Params() []Param { return copyParams(s.params) }

// StateDict returns copies of every tensor a checkpoint holds, in PyTorch's
// state_dict order: the trainable tensors and the BatchNorm running
// statistics (running_mean, running_var; num_batches_tracked is not kept).
func (s *Sequential) StateDict() []Param {
	out := make([]Param, len(s.order))
	for i, r := range s.order {
		p := s.params
		if r.buffer {
			p = s.buffers
		}
		out[i] = copyParams(p[r.i : r.i+1])[0]
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

// SetParams replaces the weights with ps, which must hold every tensor of
// StateDict by name with its exact shape (trainable tensors and BatchNorm
// running statistics), and nothing else. Missing, mis-shaped and unexpected
// tensors are reported together. Cached engines are dropped.
func (s *Sequential) SetParams(ps []Param) error {
	byName := map[string]Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	all := append(slices.Clone(s.params), s.buffers...)
	var missing, bad []string
	for _, want := range all {
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
		if !slices.ContainsFunc(all, func(p Param) bool { return p.Name == name }) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	if len(missing) > 0 || len(bad) > 0 || len(extra) > 0 {
		return fmt.Errorf("models: %s weights do not fit: missing %v, mis-shaped %v, unexpected %v", s.arch, missing, bad, extra)
	}
	for _, p := range all {
		copy(p.Data, byName[p.Name].Data)
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
