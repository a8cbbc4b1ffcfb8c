package models

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// rowLossFunc is LossFunc in float64: the form the gorgonia reference graphs
// call, so that they can be checked against finite differences in float64.
type rowLossFunc func(i int, z, g []float64) float64

// callbackState is what a callbackLossOp reads and writes during one run: the
// loss function, which rows of the batch are real samples, and the per-row
// losses and gradients it computes. It belongs to one engine.
type callbackState struct {
	fn     rowLossFunc
	lo, m  int       // global index of row 0; rows ≥ m are padding
	losses []float64 // batch
	grad   []float64 // batch×width: ∂ℓ_i/∂(op input row i)
	z, g   []float64 // one row of scratch
}

// callbackLossOp is the scalar Σ_{i<m} ℓ_i(z_i) of a B×W matrix z, with ℓ_i
// supplied by the caller. Its Do stores each row's gradient; its symbolic
// gradient returns that stored gradient scaled by the upstream scalar, so one
// backward pass through the graph gives ∂ℓ_i/∂x_i for every sample at once.
// Padding rows contribute neither loss nor gradient.
type callbackLossOp struct{ st *callbackState }

func (op callbackLossOp) Arity() int { return 1 }
func (op callbackLossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 2, Of: a}, a)
}
func (op callbackLossOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op callbackLossOp) ReturnsPtr() bool      { return false }
func (op callbackLossOp) CallsExtern() bool     { return false }
func (op callbackLossOp) OverwritesInput() int  { return -1 }
func (op callbackLossOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "purviewCallbackLoss{%p}", op.st) }
func (op callbackLossOp) Hashcode() uint32      { return hashOf(op) }
func (op callbackLossOp) String() string        { return fmt.Sprintf("CallbackLoss{%p}", op.st) }

func (op callbackLossOp) Do(inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("models: callback loss wants 1 input, got %d", len(inputs))
	}
	z, ok := inputs[0].(tensor.Tensor)
	if !ok || z.Shape().Dims() != 2 {
		return nil, fmt.Errorf("models: callback loss wants a B×W matrix, got %v", inputs[0].Shape())
	}
	st := op.st
	b, w := z.Shape()[0], z.Shape()[1]
	if len(st.grad) != b*w {
		st.grad, st.losses = make([]float64, b*w), make([]float64, b)
		st.z, st.g = make([]float64, w), make([]float64, w)
	}
	zs := elems(z)
	var total float64
	for i := 0; i < b; i++ {
		gi := st.grad[i*w : (i+1)*w]
		if i >= st.m {
			clear(gi)
			st.losses[i] = 0
			continue
		}
		for j := range st.z {
			st.z[j] = zs(i*w + j)
		}
		clear(st.g)
		st.losses[i] = st.fn(st.lo+i, st.z, st.g)
		copy(gi, st.g)
		total += st.losses[i]
	}
	if z.Dtype() == tensor.Float64 {
		return G.NewF64(total), nil
	}
	return G.NewF32(float32(total)), nil
}

func (op callbackLossOp) DiffWRT(int) []bool { return []bool{true} }

func (op callbackLossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(callbackGradOp(op), inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz}, nil
}

// callbackGradOp returns the gradient stored by the forward callbackLossOp
// times the upstream scalar g; its inputs are (z, g).
type callbackGradOp callbackLossOp

func (op callbackGradOp) Arity() int { return 2 }
func (op callbackGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, a, t)
}
func (op callbackGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op callbackGradOp) ReturnsPtr() bool      { return false }
func (op callbackGradOp) CallsExtern() bool     { return false }
func (op callbackGradOp) OverwritesInput() int  { return -1 }
func (op callbackGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "purviewCallbackGrad{%p}", op.st) }
func (op callbackGradOp) Hashcode() uint32      { return hashOf(op) }
func (op callbackGradOp) String() string        { return fmt.Sprintf("CallbackGrad{%p}", op.st) }

func (op callbackGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("models: callback gradient wants 2 inputs, got %d", len(inputs))
	}
	z, ok := inputs[0].(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("models: callback gradient: input is %T", inputs[0])
	}
	var g float64
	switch s := inputs[1].(type) {
	case *G.F32:
		g = float64(*s)
	case *G.F64:
		g = float64(*s)
	default:
		return nil, fmt.Errorf("models: callback gradient: upstream gradient is %T, want a scalar", inputs[1])
	}
	b, w := z.Shape()[0], z.Shape()[1]
	if len(op.st.grad) != b*w {
		return nil, fmt.Errorf("models: callback gradient before its loss ran")
	}
	if z.Dtype() == tensor.Float64 {
		d := make([]float64, b*w)
		for i, v := range op.st.grad {
			d[i] = v * g
		}
		return tensor.New(tensor.WithShape(b, w), tensor.WithBacking(d)), nil
	}
	d := make([]float32, b*w)
	for i, v := range op.st.grad {
		d[i] = float32(v * g)
	}
	return tensor.New(tensor.WithShape(b, w), tensor.WithBacking(d)), nil
}

// finishInputGrad completes a modeInputGrad graph (loss of the logits h) or a
// modeFeatureGrad graph (loss of tap, reduced as e.reduce): it attaches the
// callback loss and differentiates it with respect to the input x.
func (s *Sequential) finishInputGrad(e *engine, logits, tap *G.Node) (*engine, error) {
	z := logits
	if e.mode == modeInputGrad {
		G.Read(logits, &e.logits)
	} else {
		if tap == nil {
			return nil, fmt.Errorf("models: %s has no tap %q", s.arch, e.tap)
		}
		var err error
		z = tap
		if z.Dims() == 4 {
			sh := z.Shape()
			b, c, hw := sh[0], sh[1], sh[2]*sh[3]
			if e.reduce == ChannelMean {
				// Reshape + single-axis Mean: gorgonia's Mean over axes (2,3)
				// has a wrong gradient (reference/gorgonia.md §1.1).
				if z, err = G.Reshape(z, tensor.Shape{b, c, hw}); err == nil {
					z, err = G.Mean(z, 2)
				}
			} else {
				z, err = G.Reshape(z, tensor.Shape{b, c * hw})
			}
			if err != nil {
				return nil, fmt.Errorf("models: reduce tap %s: %w", e.tap, err)
			}
		}
	}
	e.cb = &callbackState{}
	cost, err := G.ApplyOp(callbackLossOp{e.cb}, z)
	if err != nil {
		return nil, fmt.Errorf("models: callback loss: %w", err)
	}
	gs, err := G.Grad(cost, e.x)
	if err != nil {
		return nil, fmt.Errorf("models: input gradient: %w", err)
	}
	G.Read(gs[0], &e.xGrad)
	e.vm = G.NewTapeMachine(e.g)
	return e, nil
}

// gradRef is the gorgonia reference of InputGrad (tap == "") and FeatureGrad,
// on graphs of dtype dt. Each batch gets its own loss from mk, so a stateful adapter is
// never shared between workers.
func (s *Sequential) gradRef(x []float32, n int, dt tensor.Dtype, tap string, r Reduce, mk func() rowLossFunc) (logits, grad, losses []float64, err error) {
	if err := s.checkInput(x, n); err != nil {
		return nil, nil, nil, err
	}
	dim := s.c * s.h * s.w
	grad, losses = make([]float64, len(x)), make([]float64, n)
	// A reference needs no fixed batch (rows are independent in eval mode);
	// small ones keep float64 ResNet graphs affordable in tests.
	bs := min(s.gradBatch(), max(n, 1))
	key := engineKey{batch: bs, dtype: dt, mode: modeInputGrad}
	if tap != "" {
		key.mode, key.tap, key.reduce = modeFeatureGrad, tap, r
	} else {
		logits = make([]float64, n*s.classes)
	}
	c := s.classes
	err = s.eachBatch(n, bs, key, func(e *engine, lo, hi int) error {
		e.load(x[lo*dim:hi*dim], hi-lo)
		e.cb.fn, e.cb.lo, e.cb.m = mk(), lo, hi-lo
		if err := e.run(); err != nil {
			return err
		}
		copy(losses[lo:hi], e.cb.losses[:hi-lo])
		copy(grad[lo*dim:hi*dim], valueF64(e.xGrad)[:(hi-lo)*dim])
		if logits != nil {
			copy(logits[lo*c:hi*c], valueF64(e.logits)[:(hi-lo)*c])
		}
		return nil
	})
	return logits, grad, losses, err
}
