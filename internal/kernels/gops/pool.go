package gops

import (
	"fmt"

	"github.com/purview-lab/purview/internal/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type poolState struct {
	idx    []int32 // argmax per output, flat index into x
	idxFor *float32
}

type maxPoolOp struct {
	base
	s  kernels.PoolShape
	st *poolState
}

// MaxPool2d returns the window maxima of x [N,C,H,W] (kernel, stride and
// implicit −∞ padding given as (height, width); PyTorch's MaxPool2d in floor
// mode, pad < kernel). The gradient goes to the first maximum of each window.
func MaxPool2d(x *G.Node, kernel, stride, pad [2]int) (*G.Node, error) {
	if err := isFloat32("MaxPool2d", x); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) != 4 {
		return nil, shapeErr("MaxPool2d", "want x [N,C,H,W]", xs)
	}
	s := kernels.PoolShape{N: xs[0], C: xs[1], H: xs[2], W: xs[3], KH: kernel[0], KW: kernel[1],
		SH: stride[0], SW: stride[1], PH: pad[0], PW: pad[1]}
	if s.KH <= 0 || s.KW <= 0 || s.SH <= 0 || s.SW <= 0 || s.PH < 0 || s.PW < 0 || s.PH >= s.KH || s.PW >= s.KW || s.OutH() <= 0 || s.OutW() <= 0 {
		return nil, fmt.Errorf("gops: MaxPool2d: kernel %v, stride %v, pad %v do not fit input %v", kernel, stride, pad, xs)
	}
	op := &maxPoolOp{base: newBase("MaxPool2d", tensor.Shape{s.N, s.C, s.OutH(), s.OutW()}, x), s: s, st: &poolState{}}
	return G.ApplyOp(op, x)
}

func (op *maxPoolOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *maxPoolOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, err := inputs("MaxPool2d", vs, op.s.InSize())
	if err != nil {
		return nil, err
	}
	out, y := op.output(prealloc)
	op.forward(in[0], y)
	return out, nil
}

func (op *maxPoolOp) forward(x, y []float32) {
	if len(op.st.idx) != op.s.OutSize() {
		op.st.idx = make([]int32, op.s.OutSize())
	}
	kernels.MaxPool2dForward(op.s, x, y, op.st.idx)
	op.st.idxFor = &x[0]
}

func (op *maxPoolOp) DiffWRT(n int) []bool { return trues(n) }

func (op *maxPoolOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&maxPoolDiffOp{base: newBase("MaxPool2dGrad", in[0].Shape(), in[0], grad), fwd: op}, in[0], grad)
	return G.Nodes{dx}, err
}

// maxPoolDiffOp scatters dy to the argmaxes; x is an input so that the
// forward's argmaxes are known to belong to it.
type maxPoolDiffOp struct {
	base
	fwd *maxPoolOp
}

func (op *maxPoolDiffOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *maxPoolDiffOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	s := op.fwd.s
	in, err := inputs("MaxPool2dGrad", vs, s.InSize(), s.OutSize())
	if err != nil {
		return nil, err
	}
	if op.fwd.st.idxFor != &in[0][0] {
		op.fwd.forward(in[0], make([]float32, s.OutSize()))
	}
	out, dx := op.output(prealloc)
	kernels.MaxPool2dBackward(s, in[1], op.fwd.st.idx, dx)
	return out, nil
}
