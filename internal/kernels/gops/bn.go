package gops

import (
	"fmt"
	"math"

	"github.com/purview-lab/purview/internal/kernels"
	G "gorgonia.org/gorgonia"
)

// BNStats are one BatchNorm2d layer's running statistics and constants. A
// train-mode graph updates Mean and Var at every forward (PyTorch's rule,
// see kernels.BatchNorm2dTrain); an eval-mode graph reads them. Share one
// *BNStats between a network's train and eval graphs, and save Mean/Var as
// the layer's running_mean/running_var. Not safe for two train-mode graphs
// running at once.
type BNStats struct {
	Mean, Var []float32
	Momentum  float64 // weight of the batch statistic in the running average
	Eps       float64 // added to the variance
}

// NewBNStats returns PyTorch's initial state for c channels: mean 0,
// variance 1, momentum 0.1, eps 1e-5.
func NewBNStats(c int) *BNStats {
	st := &BNStats{Mean: make([]float32, c), Var: make([]float32, c), Momentum: 0.1, Eps: 1e-5}
	for i := range st.Var {
		st.Var[i] = 1
	}
	return st
}

// bnSave is what the forward leaves for the gradients: the statistics used
// (batch or running), as mean and 1/√(σ²+eps).
type bnSave struct{ mean, invStd []float32 }

type bnOp struct {
	base
	n, c, hw int
	train    bool
	st       *BNStats
	save     *bnSave
	in       []*G.Node
	need     need
}

func (op *bnOp) inputNodes() []*G.Node { return op.in }
func (op *bnOp) setNeed(n []bool)      { op.need = n }

// BatchNorm2d returns γ·(x−μ)/√(σ²+eps)+β per channel of x [N,C,H,W] (or
// [N,C]), with γ and β of any shape holding C values (e.g. [1,C,1,1]). With
// train it uses the batch statistics and updates st; otherwise st's running
// statistics. The mode is fixed per node (build one graph per mode); it does
// not follow G.EvalMode, and unlike G.BatchNorm nothing ever resets st.
func BatchNorm2d(x, gamma, beta *G.Node, st *BNStats, train bool) (*G.Node, error) {
	if err := isFloat32("BatchNorm2d", x, gamma, beta); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) != 4 && len(xs) != 2 {
		return nil, shapeErr("BatchNorm2d", "want x [N,C,H,W] or [N,C]", xs)
	}
	c := xs[1]
	if gamma.Shape().TotalSize() != c || beta.Shape().TotalSize() != c || st == nil || len(st.Mean) != c || len(st.Var) != c {
		return nil, fmt.Errorf("gops: BatchNorm2d: x %v wants γ, β and running statistics of %d values", xs, c)
	}
	op := &bnOp{base: newBase("BatchNorm2d", xs, x, gamma, beta), n: xs[0], c: c, hw: xs.TotalSize() / (xs[0] * c),
		train: train, st: st, save: &bnSave{mean: make([]float32, c), invStd: make([]float32, c)}, in: []*G.Node{x, gamma, beta}}
	return G.ApplyOp(op, x, gamma, beta)
}

func (op *bnOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *bnOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, err := inputs("BatchNorm2d", vs, op.n*op.c*op.hw, op.c, op.c)
	if err != nil {
		return nil, err
	}
	out, y := op.output(prealloc)
	if op.train {
		kernels.BatchNorm2dTrain(op.n, op.c, op.hw, in[0], in[1], in[2], op.st.Eps, op.st.Momentum,
			op.st.Mean, op.st.Var, y, op.save.mean, op.save.invStd)
		return out, nil
	}
	kernels.BatchNorm2dEval(op.n, op.c, op.hw, in[0], in[1], in[2], op.st.Eps, op.st.Mean, op.st.Var, y)
	for ch := range op.save.mean {
		op.save.mean[ch] = op.st.Mean[ch]
		op.save.invStd[ch] = float32(1 / math.Sqrt(float64(op.st.Var[ch])+op.st.Eps))
	}
	return out, nil
}

func (op *bnOp) DiffWRT(n int) []bool { return op.need.diffWRT(n) }

func (op *bnOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 3)
	var err error
	if op.need.wants(0) {
		if out[0], err = G.ApplyOp(&bnDiffOp{base: newBase("BatchNorm2dGradX", in[0].Shape(), in[0], in[1], grad), fwd: op}, in[0], in[1], grad); err != nil {
			return nil, err
		}
	}
	if op.need.wants(1) {
		if out[1], err = G.ApplyOp(&bnDiffOp{base: newBase("BatchNorm2dGradGamma", in[1].Shape(), in[0], grad), fwd: op, gamma: true}, in[0], grad); err != nil {
			return nil, err
		}
	}
	if op.need.wants(2) {
		if out[2], err = channelSum(grad, in[2].Shape()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bnDiffOp computes dx from (x, γ, dy), or dγ from (x, dy) when gamma.
type bnDiffOp struct {
	base
	fwd   *bnOp
	gamma bool
}

func (op *bnDiffOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *bnDiffOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	f := op.fwd
	size := f.n * f.c * f.hw
	out, d := op.output(prealloc)
	if op.gamma {
		in, err := inputs("BatchNorm2dGradGamma", vs, size, size)
		if err != nil {
			return nil, err
		}
		kernels.BatchNorm2dBackward(f.n, f.c, f.hw, in[0], in[1], nil, f.save.mean, f.save.invStd, !f.train, nil, d, nil)
		return out, nil
	}
	in, err := inputs("BatchNorm2dGradX", vs, size, f.c, size)
	if err != nil {
		return nil, err
	}
	kernels.BatchNorm2dBackward(f.n, f.c, f.hw, in[0], in[2], in[1], f.save.mean, f.save.invStd, !f.train, d, nil, nil)
	return out, nil
}
