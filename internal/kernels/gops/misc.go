package gops

import (
	"fmt"

	"github.com/purview-lab/purview/internal/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type gapOp struct {
	base
	n, c, hw int
	diff     bool // the gradient: dy [N,C] → dx [N,C,H,W]
}

// GlobalAvgPool returns the per-channel mean of x [N,C,H,W] as [N,C].
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	if err := isFloat32("GlobalAvgPool", x); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) != 4 {
		return nil, shapeErr("GlobalAvgPool", "want x [N,C,H,W]", xs)
	}
	op := &gapOp{base: newBase("GlobalAvgPool", tensor.Shape{xs[0], xs[1]}, x), n: xs[0], c: xs[1], hw: xs[2] * xs[3]}
	return G.ApplyOp(op, x)
}

func (op *gapOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *gapOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	size := op.n * op.c * op.hw
	if op.diff {
		size = op.n * op.c
	}
	in, err := inputs(op.name, vs, size)
	if err != nil {
		return nil, err
	}
	out, d := op.output(prealloc)
	if op.diff {
		kernels.GlobalAvgPoolBackward(op.n, op.c, op.hw, in[0], d)
	} else {
		kernels.GlobalAvgPoolForward(op.n, op.c, op.hw, in[0], d)
	}
	return out, nil
}

func (op *gapOp) DiffWRT(n int) []bool { return trues(n) }

func (op *gapOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&gapOp{base: newBase("GlobalAvgPoolGrad", in[0].Shape(), grad), n: op.n, c: op.c, hw: op.hw, diff: true}, grad)
	return G.Nodes{dx}, err
}

type reluOp struct {
	base
	size int
	diff bool // the gradient: (y, dy) → dx
}

// ReLU returns max(x, 0); its gradient is 0 where the output is 0 (PyTorch).
func ReLU(x *G.Node) (*G.Node, error) {
	if err := isFloat32("ReLU", x); err != nil {
		return nil, err
	}
	return G.ApplyOp(&reluOp{base: newBase("ReLU", x.Shape(), x), size: x.Shape().TotalSize()}, x)
}

func (op *reluOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *reluOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	if op.diff {
		in, err := inputs("ReLUGrad", vs, op.size, op.size)
		if err != nil {
			return nil, err
		}
		out, d := op.output(prealloc)
		kernels.ReLUBackward(in[0], in[1], d)
		return out, nil
	}
	in, err := inputs("ReLU", vs, op.size)
	if err != nil {
		return nil, err
	}
	out, d := op.output(prealloc)
	kernels.ReLUForward(in[0], d)
	return out, nil
}

func (op *reluOp) DiffWRT(n int) []bool { return trues(n) }

func (op *reluOp) SymDiff(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&reluOp{base: newBase("ReLUGrad", in[0].Shape(), output, grad), size: op.size, diff: true}, output, grad)
	return G.Nodes{dx}, err
}

// linKind selects what a linearOp computes.
type linKind int

const (
	linForward linKind = iota // (x, w[, b]) → y
	linGradX                  // (w, dy) → dx
	linGradW                  // (x, dy) → dw
)

type linearOp struct {
	base
	n, in, out int
	bias       bool
	kind       linKind
	cfg        config
	inputs     []*G.Node
	need       need
}

func (op *linearOp) inputNodes() []*G.Node { return op.inputs }
func (op *linearOp) setNeed(n []bool)      { op.need = n }

// Linear returns y = x·Wᵀ + b for x [N, ...] (flattened to N×in), w
// [out,in] (PyTorch layout) and b nil or any shape with out values; y is
// [N,out].
func Linear(x, w, b *G.Node, opts ...Option) (*G.Node, error) {
	if err := isFloat32("Linear", x, w, b); err != nil {
		return nil, err
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 2 || len(ws) != 2 || xs.TotalSize()/xs[0] != ws[1] {
		return nil, fmt.Errorf("gops: Linear: want x [N, in...] and w [out,in], got %v and %v", xs, ws)
	}
	in := []*G.Node{x, w}
	if b != nil {
		if b.Shape().TotalSize() != ws[0] {
			return nil, fmt.Errorf("gops: Linear: bias has shape %v, want %d values", b.Shape(), ws[0])
		}
		in = append(in, b)
	}
	op := &linearOp{base: newBase("Linear", tensor.Shape{xs[0], ws[0]}, in...), n: xs[0], in: ws[1], out: ws[0],
		bias: b != nil, cfg: newConfig(opts), inputs: in}
	return G.ApplyOp(op, in...)
}

func (op *linearOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *linearOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	nx, nw, ny := op.n*op.in, op.out*op.in, op.n*op.out
	var sizes []int
	switch op.kind {
	case linForward:
		sizes = []int{nx, nw}
		if op.bias {
			sizes = append(sizes, op.out)
		}
	case linGradX:
		sizes = []int{nw, ny}
	case linGradW:
		sizes = []int{nx, ny}
	}
	in, err := inputs(op.name, vs, sizes...)
	if err != nil {
		return nil, err
	}
	out, d := op.output(prealloc)
	switch op.kind {
	case linForward:
		var b []float32
		if op.bias {
			b = in[2]
		}
		kernels.LinearForward(op.n, op.in, op.out, in[0], in[1], b, d, op.cfg.workers)
	case linGradX:
		kernels.LinearBackward(op.n, op.in, op.out, nil, in[0], in[1], d, nil, nil, op.cfg.workers)
	case linGradW:
		kernels.LinearBackward(op.n, op.in, op.out, in[0], nil, in[1], nil, d, nil, op.cfg.workers)
	}
	return out, nil
}

func (op *linearOp) DiffWRT(n int) []bool { return op.need.diffWRT(n) }

func (op *linearOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	mk := func(name string, kind linKind, shape tensor.Shape, a *G.Node) (*G.Node, error) {
		return G.ApplyOp(&linearOp{base: newBase(name, shape, a, grad), n: op.n, in: op.in, out: op.out, kind: kind, cfg: op.cfg}, a, grad)
	}
	out := make(G.Nodes, len(in))
	var err error
	if op.need.wants(0) {
		if out[0], err = mk("LinearGradX", linGradX, in[0].Shape(), in[1]); err != nil {
			return nil, err
		}
	}
	if op.need.wants(1) {
		if out[1], err = mk("LinearGradW", linGradW, in[1].Shape(), in[0]); err != nil {
			return nil, err
		}
	}
	if op.bias && op.need.wants(2) {
		if out[2], err = channelSum(grad, in[2].Shape()); err != nil {
			return nil, err
		}
	}
	return out, nil
}
