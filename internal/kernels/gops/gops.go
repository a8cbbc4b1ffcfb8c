// Package gops wraps package kernels' float32 passes as gorgonia v0.9.18 ops
// with symbolic gradients, so graphs built with gorgonia (G.Grad, TapeMachine,
// solvers) run on the fast kernels instead of gorgonia's built-ins:
//
//	Conv2d        y = conv(x, w) + b, w [K,C,KH,KW] as PyTorch; replaces G.Conv2d (+ BroadcastAdd)
//	MaxPool2d     replaces G.MaxPool2D (same argmax rule: first maximum)
//	BatchNorm2d   replaces G.BatchNorm; running statistics live in a *BNStats
//	GlobalAvgPool [N,C,H,W] → [N,C]; G.GlobalAveragePool2D has no gradient
//	ReLU          replaces G.Rectify
//	Linear        y = x·Wᵀ + b, w [out,in] as PyTorch; replaces G.Mul + BroadcastAdd
//	Grad          G.Grad that skips gradients nobody asked for (see Grad)
//	ConvCols      a Conv2d node's patch matrices, for kernels.ConvPerSampleSqNorm
//
// Options: Workers(n) sets an op's goroutines (default GOMAXPROCS; use 1 when
// several graphs run in parallel); KeepCols() keeps a Conv2d's patch matrices
// even without a weight gradient.
//
// Every op is float32 only (a float64 graph gets an error; keep gorgonia's
// built-ins for float64 reference graphs). Each op instance keeps its output
// buffer and reuses it on the next run, so a compiled graph reaches a steady
// state without large allocations; a value read from a node after RunAll is
// valid until the next run (use G.Read to keep a copy, as with any gorgonia
// register). Each call creates a new op with a unique hash, so gorgonia never
// merges two nodes.
//
// Ops hold per-run state (a convolution's patch matrices, pooling argmaxes,
// the batch statistics used) that their gradient ops read, so a graph must
// run its forward before its backward in one RunAll, as the TapeMachine does;
// one graph must not run on two goroutines at once (gorgonia's rule anyway).
package gops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Option configures an op.
type Option func(*config)

type config struct {
	workers  int
	keepCols bool
}

// Workers sets how many goroutines an op's kernels use (default 0 =
// GOMAXPROCS). Use 1 when several graphs already run in parallel.
func Workers(n int) Option { return func(c *config) { c.workers = n } }

// KeepCols makes a Conv2d keep every image's patch matrix after its forward
// even when no weight gradient is built, for ConvCols.
func KeepCols() Option { return func(c *config) { c.keepCols = true } }

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

var opID atomic.Uint64

// base implements the bookkeeping half of G.Op for every op here.
type base struct {
	name string
	id   uint64
	dims []int // dims of each input, then of the output
	outS tensor.Shape
	out  *tensor.Dense // reused output buffer
}

func newBase(name string, outShape tensor.Shape, in ...*G.Node) base {
	b := base{name: name, id: opID.Add(1), outS: outShape.Clone()}
	for _, n := range in {
		b.dims = append(b.dims, n.Dims())
	}
	b.dims = append(b.dims, len(outShape))
	return b
}

func (b *base) Arity() int { return len(b.dims) - 1 }
func (b *base) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, len(b.dims))
	for i, d := range b.dims {
		ts[i] = G.TensorType{Dims: d, Of: a}
		if d == 0 {
			ts[i] = a
		}
	}
	return hm.NewFnType(ts...)
}
func (b *base) InferShape(...G.DimSizer) (tensor.Shape, error) { return b.outS.Clone(), nil }
func (b *base) ReturnsPtr() bool                               { return false }
func (b *base) CallsExtern() bool                              { return false }
func (b *base) OverwritesInput() int                           { return -1 }
func (b *base) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "gops.%s#%d", b.name, b.id) }
func (b *base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}
func (b *base) String() string { return fmt.Sprintf("gops.%s%v", b.name, []int(b.outS)) }

// output returns the op's output tensor: prealloc if it fits, else the op's
// own buffer (allocated on first use).
func (b *base) output(prealloc G.Value) (*tensor.Dense, []float32) {
	if p, ok := prealloc.(*tensor.Dense); ok && p.Dtype() == tensor.Float32 && p.Shape().Eq(b.outS) && !p.IsView() {
		return p, p.Data().([]float32)
	}
	if b.out == nil || !b.out.Shape().Eq(b.outS) {
		b.out = tensor.New(tensor.WithShape(b.outS...), tensor.Of(tensor.Float32))
	}
	return b.out, b.out.Data().([]float32)
}

// f32 returns the float32 backing of an input value of the given size.
func f32(op string, v G.Value, size int) ([]float32, error) {
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("gops: %s: input is %T, want a tensor", op, v)
	}
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("gops: %s: input dtype %v, want float32", op, t.Dtype())
	}
	if len(d) != size || t.Shape().TotalSize() != size {
		return nil, fmt.Errorf("gops: %s: input has %d values (shape %v), want %d", op, len(d), t.Shape(), size)
	}
	return d, nil
}

// inputs unpacks n float32 inputs of the given sizes.
func inputs(op string, vs []G.Value, sizes ...int) ([][]float32, error) {
	if len(vs) != len(sizes) {
		return nil, fmt.Errorf("gops: %s: got %d inputs, want %d", op, len(vs), len(sizes))
	}
	out := make([][]float32, len(vs))
	for i, v := range vs {
		d, err := f32(op, v, sizes[i])
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func shapeErr(op string, what string, got tensor.Shape) error {
	return fmt.Errorf("gops: %s: %s, got shape %v", op, what, got)
}

func isFloat32(op string, nodes ...*G.Node) error {
	for _, n := range nodes {
		if n != nil && n.Dtype() != tensor.Float32 {
			return fmt.Errorf("gops: %s: node %v is %v, want float32", op, n.Name(), n.Dtype())
		}
	}
	return nil
}
