package gops

import (
	"fmt"

	"github.com/purview-lab/purview/internal/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convState is what a Conv2d forward leaves for its weight gradient.
type convState struct {
	keep    bool      // store the patch matrices (a weight gradient or KeepCols wants them)
	cols    []float32 // N patch matrices, C·KH·KW × OH·OW each
	colsFor *float32  // first element of the x they were made from
}

type convOp struct {
	base
	s    kernels.ConvShape
	bias bool
	cfg  config
	st   *convState
	in   []*G.Node
	need need
}

func (op *convOp) inputNodes() []*G.Node { return op.in }
func (op *convOp) setNeed(n []bool)      { op.need = n }

// Conv2d returns y = conv(x, w) + b for x [N,C,H,W] and w [K,C,KH,KW]
// (PyTorch layouts), stride and zero padding given as (height, width); b may
// be nil or any shape with K values (e.g. [K] or [1,K,1,1]). y is
// [N,K,OH,OW], OH = (H+2·pad[0]−KH)/stride[0] + 1. Gradients flow to x, w and b.
func Conv2d(x, w, b *G.Node, stride, pad [2]int, opts ...Option) (*G.Node, error) {
	if err := isFloat32("Conv2d", x, w, b); err != nil {
		return nil, err
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] {
		return nil, fmt.Errorf("gops: Conv2d: want x [N,C,H,W] and w [K,C,KH,KW], got %v and %v", xs, ws)
	}
	s := kernels.ConvShape{N: xs[0], C: xs[1], H: xs[2], W: xs[3], K: ws[0], KH: ws[2], KW: ws[3],
		SH: stride[0], SW: stride[1], PH: pad[0], PW: pad[1]}
	if s.SH <= 0 || s.SW <= 0 || s.PH < 0 || s.PW < 0 || s.OutH() <= 0 || s.OutW() <= 0 {
		return nil, fmt.Errorf("gops: Conv2d: stride %v, pad %v and kernel %dx%d do not fit input %v", stride, pad, s.KH, s.KW, xs)
	}
	in := []*G.Node{x, w}
	if b != nil {
		if b.Shape().TotalSize() != s.K {
			return nil, fmt.Errorf("gops: Conv2d: bias has shape %v, want %d values", b.Shape(), s.K)
		}
		in = append(in, b)
	}
	op := &convOp{base: newBase("Conv2d", tensor.Shape{s.N, s.K, s.OutH(), s.OutW()}, in...),
		s: s, bias: b != nil, cfg: newConfig(opts), in: in}
	op.st = &convState{keep: op.cfg.keepCols}
	return G.ApplyOp(op, in...)
}

// ConvCols returns the patch matrices that the Conv2d node n kept in its
// last forward (only when its weight gradient is part of the graph, or it was
// built with KeepCols; otherwise the forward unfolds in L2-sized blocks and
// keeps nothing) (N blocks of C·KH·KW × OH·OW, the U_i of per-sample gradient
// norms; see kernels.ConvPerSampleSqNorm) and the convolution's shape. For a
// 1×1, stride-1, unpadded convolution they are the input itself (nil here).
func ConvCols(n *G.Node) (cols []float32, s kernels.ConvShape, ok bool) {
	op, ok := n.Op().(*convOp)
	if !ok {
		return nil, kernels.ConvShape{}, false
	}
	return op.st.cols, op.s, true
}

func (op *convOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	sizes := []int{op.s.InSize(), op.s.WeightSize()}
	if op.bias {
		sizes = append(sizes, op.s.K)
	}
	in, err := inputs("Conv2d", vs, sizes...)
	if err != nil {
		return nil, err
	}
	var b []float32
	if op.bias {
		b = in[2]
	}
	out, y := op.output(prealloc)
	var cols []float32
	if !identity(op.s) && op.st.keep {
		if n := op.s.N * op.s.ColSize(); len(op.st.cols) != n {
			op.st.cols = make([]float32, n)
		}
		cols = op.st.cols
		op.st.colsFor = &in[0][0]
	}
	kernels.Conv2dForward(op.s, in[0], in[1], b, y, cols, op.cfg.workers)
	return out, nil
}

func identity(s kernels.ConvShape) bool {
	return s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PH == 0 && s.PW == 0
}

func (op *convOp) DiffWRT(n int) []bool { return op.need.diffWRT(n) }

func (op *convOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(in))
	var err error
	if op.need.wants(0) {
		if out[0], err = G.ApplyOp(&convDataOp{base: newBase("Conv2dGradX", in[0].Shape(), in[1], grad), s: op.s, cfg: op.cfg}, in[1], grad); err != nil {
			return nil, err
		}
	}
	if op.need.wants(1) {
		op.st.keep = true
		if out[1], err = G.ApplyOp(&convFilterOp{base: newBase("Conv2dGradW", in[1].Shape(), in[0], grad), s: op.s, cfg: op.cfg, st: op.st}, in[0], grad); err != nil {
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

func trues(n int) []bool { return need(nil).diffWRT(n) }

// convDataOp computes dx from (w, dy).
type convDataOp struct {
	base
	s   kernels.ConvShape
	cfg config
}

func (op *convDataOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convDataOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, err := inputs("Conv2dGradX", vs, op.s.WeightSize(), op.s.OutSize())
	if err != nil {
		return nil, err
	}
	out, dx := op.output(prealloc)
	kernels.Conv2dBackwardData(op.s, in[0], in[1], dx, op.cfg.workers)
	return out, nil
}

// convFilterOp computes dw from (x, dy) and the forward's patch matrices.
type convFilterOp struct {
	base
	s   kernels.ConvShape
	cfg config
	st  *convState
}

func (op *convFilterOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *convFilterOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, err := inputs("Conv2dGradW", vs, op.s.InSize(), op.s.OutSize())
	if err != nil {
		return nil, err
	}
	out, dw := op.output(prealloc)
	cols := in[0]
	if !identity(op.s) {
		if op.st.colsFor != &in[0][0] || len(op.st.cols) != op.s.N*op.s.ColSize() {
			// The forward did not run on this x (e.g. a graph that only asks
			// for dw): make the patch matrices here.
			op.st.cols = make([]float32, op.s.N*op.s.ColSize())
			for i := 0; i < op.s.N; i++ {
				kernels.Im2col(op.s, in[0][i*op.s.C*op.s.H*op.s.W:], op.st.cols[i*op.s.ColSize():])
			}
			op.st.colsFor = &in[0][0]
		}
		cols = op.st.cols
	}
	kernels.Conv2dBackwardFilter(op.s, cols, in[1], dw, nil, op.cfg.workers)
	return out, nil
}

// channelSumOp sums a [N,K,...] gradient over every axis but 1 into a tensor
// of the bias's shape (K values).
type channelSumOp struct {
	base
	n, k, p int
}

func channelSum(grad *G.Node, to tensor.Shape) (*G.Node, error) {
	gs := grad.Shape()
	if len(gs) < 2 || gs[1] != to.TotalSize() {
		return nil, fmt.Errorf("gops: bias gradient: gradient %v does not match bias %v", gs, to)
	}
	op := &channelSumOp{base: newBase("ChannelSum", to, grad), n: gs[0], k: gs[1], p: gs.TotalSize() / (gs[0] * gs[1])}
	return G.ApplyOp(op, grad)
}

func (op *channelSumOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }

func (op *channelSumOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	in, err := inputs("ChannelSum", vs, op.n*op.k*op.p)
	if err != nil {
		return nil, err
	}
	out, d := op.output(prealloc)
	g := in[0]
	for c := 0; c < op.k; c++ {
		var s float64
		for i := 0; i < op.n; i++ {
			for _, v := range g[(i*op.k+c)*op.p : (i*op.k+c+1)*op.p] {
				s += float64(v)
			}
		}
		d[c] = float32(s)
	}
	return out, nil
}
