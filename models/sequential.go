package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
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

	mean, std []float64 // input normalisation (nil: none)

	workers int
	pool    enginePool // gorgonia reference graphs
	packs   packCache  // convolution filters packed for the SGEMM kernel
	native  nativePool
}

// Spec says which network New builds.
type Spec struct {
	Arch    string // a name of Archs, or a parameterised form (ParseArch)
	Classes int    // ≥ 2
	Seed    uint64 // initial weights
	// Mean and Std, when set (one value per input channel, Std > 0), make the
	// network's first layer y = (x − Mean_c)/Std_c, torchvision's Normalize:
	// published weights expect normalised inputs while the harness's images
	// stay in [0,1]. Gradients with respect to the input pass through it.
	Mean, Std []float64
}

// NewNetwork returns a network of the named architecture without input
// normalisation; see New.
func NewNetwork(arch string, classes int, seed uint64) (*Sequential, error) {
	return New(Spec{Arch: arch, Classes: classes, Seed: seed})
}

// New returns the network sp describes, with weights drawn as PyTorch's
// default initialisation does (convolution and linear weights and biases
// U(−1/√fan_in, 1/√fan_in); BatchNorm γ = 1, β = 0, running mean 0,
// variance 1) from a PCG source seeded with sp.Seed.
func New(sp Spec) (*Sequential, error) {
	a, err := ParseArch(sp.Arch)
	if err != nil {
		return nil, err
	}
	if sp.Classes < 2 {
		return nil, fmt.Errorf("models: %s needs at least 2 classes, got %d", sp.Arch, sp.Classes)
	}
	if sp.Mean != nil || sp.Std != nil {
		if len(sp.Mean) != a.in.c || len(sp.Std) != a.in.c {
			return nil, fmt.Errorf("models: %s input normalisation needs %d means and %d standard deviations, got %d and %d", sp.Arch, a.in.c, a.in.c, len(sp.Mean), len(sp.Std))
		}
		for c, v := range sp.Std {
			if !(v > 0) || math.IsInf(v, 0) || math.IsNaN(sp.Mean[c]) || math.IsInf(sp.Mean[c], 0) {
				return nil, fmt.Errorf("models: %s input normalisation: channel %d has mean %v and std %v, want finite values and std > 0", sp.Arch, c, sp.Mean[c], v)
			}
		}
	}
	b := a.build(sp)
	in := b.prog.vals[0]
	s := &Sequential{arch: sp.Arch, classes: sp.Classes, c: in.c, h: in.h, w: in.w, prog: b.prog,
		params: b.params, buffers: b.buffers, order: b.order, workers: 1,
		mean: slices.Clone(sp.Mean), std: slices.Clone(sp.Std)}
	s.pool.net = s
	s.native.net = s
	return s, nil
}

// Normalization returns the input normalisation's per-channel mean and
// standard deviation, nil when the network has none.
func (s *Sequential) Normalization() (mean, std []float64) {
	return slices.Clone(s.mean), slices.Clone(s.std)
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
	if _, err := s.fit(ps); err != nil {
		return fmt.Errorf("models: %s weights do not fit: %w", s.arch, err)
	}
	copyInto(s, ps)
	return nil
}

// fit checks that ps holds exactly the tensors of StateDict with their
// shapes. It returns the number of problems and an error listing them.
func (s *Sequential) fit(ps []Param) (int, error) {
	byName := map[string]Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	all := s.stateTensors()
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
	n := len(missing) + len(bad) + len(extra)
	if n == 0 {
		return 0, nil
	}
	var parts []string
	for _, c := range []struct {
		what  string
		names []string
	}{{"missing", missing}, {"mis-shaped", bad}, {"unexpected", extra}} {
		if len(c.names) > 0 {
			parts = append(parts, c.what+" "+listSome(c.names))
		}
	}
	return n, errors.New(strings.Join(parts, "; "))
}

// listSome formats a list of names: its length and the first few.
func listSome(v []string) string {
	const show = 6
	if len(v) <= show {
		return fmt.Sprintf("%d [%s]", len(v), strings.Join(v, ", "))
	}
	return fmt.Sprintf("%d [%s, … %d more]", len(v), strings.Join(v[:show], ", "), len(v)-show)
}

// weightsChanged drops everything derived from the weights.
func (s *Sequential) weightsChanged() {
	s.pool.reset()
	s.packs.drop()
}

// stateTensors returns the weights and buffers themselves (not copies) in
// state_dict order.
func (s *Sequential) stateTensors() []Param {
	out := make([]Param, len(s.order))
	for i, r := range s.order {
		if r.buffer {
			out[i] = s.buffers[r.i]
		} else {
			out[i] = s.params[r.i]
		}
	}
	return out
}

// copyInto copies the tensors of ps (which fit s) into s's weights.
func copyInto(s *Sequential, ps []Param) {
	byName := map[string]Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	for _, p := range s.stateTensors() {
		copy(p.Data, byName[p.Name].Data)
	}
	s.weightsChanged()
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}
