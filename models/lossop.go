package models

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"github.com/purview-lab/purview/internal/logexp"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// lossKind selects the loss computed by lossOp.
type lossKind int

const (
	// lossCE is the mean softmax cross-entropy over the batch,
	//	J = −(1/B) Σ_i Σ_c t_ic log softmax(z_i)_c,  ∂J/∂z_i = (p_i·Σ_c t_ic − t_i)/B.
	lossCE lossKind = iota
	// lossBCESigmoid is the confounding loss with per-class sigmoids, summed over the batch,
	//	J = Σ_i Σ_c softplus(z_ic) − t_ic z_ic,  ∂J/∂z_ic = σ(z_ic) − t_ic.
	lossBCESigmoid
	// lossBCESoftmax is the confounding loss on softmax probabilities, summed over the batch,
	//	J = −Σ_i Σ_c [t_ic log p_ic + (1−t_ic) log(1−p_ic)],  p_i = softmax(z_i),
	//	∂J/∂z_ik = p_ik·Σ_c t_ic − t_ik + (1−t_ik)·p_ik/(1−p_ik) − p_ik·Σ_c (1−t_ic)·p_ic/(1−p_ic).
	lossBCESoftmax
)

func (k lossKind) String() string {
	return [...]string{"ce", "bce-sigmoid", "bce-softmax"}[k]
}

func confoundLoss(a Activation) lossKind {
	if a == Softmax {
		return lossBCESoftmax
	}
	return lossBCESigmoid
}

// lossOp computes a scalar loss of logits z (B×C) against targets t (B×C).
// It exists because gorgonia's built-in log-softmax / sigmoid compositions are
// not numerically stable for confident logits; here every log-probability is
// computed from a log-sum-exp in float64, and the gradient is the closed form.
type lossOp struct{ kind lossKind }

func (op lossOp) Arity() int { return 2 }
func (op lossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a)
}
func (op lossOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op lossOp) ReturnsPtr() bool                               { return false }
func (op lossOp) CallsExtern() bool                              { return false }
func (op lossOp) OverwritesInput() int                           { return -1 }
func (op lossOp) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "purviewLoss{%v}", op.kind) }
func (op lossOp) Hashcode() uint32                               { return hashOf(op) }
func (op lossOp) String() string                                 { return fmt.Sprintf("Loss{%v}", op.kind) }

func (op lossOp) Do(inputs ...G.Value) (G.Value, error) {
	z, t, err := lossInputs(inputs)
	if err != nil {
		return nil, err
	}
	b, c := z.Shape()[0], z.Shape()[1]
	zs, ts := elems(z), elems(t)
	var total float64
	row := make([]float64, c)
	for i := 0; i < b; i++ {
		for j := range row {
			row[j] = zs(i*c + j)
		}
		total += rowLoss(op.kind, row, func(j int) float64 { return ts(i*c + j) })
	}
	if op.kind == lossCE {
		total /= float64(b)
	}
	if z.Dtype() == tensor.Float64 {
		return G.NewF64(total), nil
	}
	return G.NewF32(float32(total)), nil
}

func (op lossOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op lossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(lossGradOp(op), inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, nil}, nil
}

// lossGradOp computes ∂J/∂z·g from (z, t, g), g the scalar upstream gradient.
type lossGradOp lossOp

func (op lossGradOp) Arity() int { return 3 }
func (op lossGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a, t)
}
func (op lossGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op lossGradOp) ReturnsPtr() bool     { return false }
func (op lossGradOp) CallsExtern() bool    { return false }
func (op lossGradOp) OverwritesInput() int { return -1 }
func (op lossGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "purviewLossGrad{%v}", op.kind)
}
func (op lossGradOp) Hashcode() uint32 { return hashOf(op) }
func (op lossGradOp) String() string   { return fmt.Sprintf("LossGrad{%v}", op.kind) }

func (op lossGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("models: loss gradient wants 3 inputs, got %d", len(inputs))
	}
	z, t, err := lossInputs(inputs[:2])
	if err != nil {
		return nil, err
	}
	var g float64
	switch s := inputs[2].(type) {
	case *G.F32:
		g = float64(*s)
	case *G.F64:
		g = float64(*s)
	default:
		return nil, fmt.Errorf("models: loss gradient: upstream gradient is %T, want a scalar", inputs[2])
	}
	b, c := z.Shape()[0], z.Shape()[1]
	out := tensor.New(tensor.Of(z.Dtype()), tensor.WithShape(b, c))
	zs, ts := elems(z), elems(t)
	row, tr, d := make([]float64, c), make([]float64, c), make([]float64, c)
	scale := g
	if op.kind == lossCE {
		scale /= float64(b)
	}
	for i := 0; i < b; i++ {
		for j := 0; j < c; j++ {
			row[j], tr[j] = zs(i*c+j), ts(i*c+j)
		}
		rowGrad(lossKind(op.kind), row, tr, d)
		for j := 0; j < c; j++ {
			out.SetAt(castTo(z.Dtype(), d[j]*scale), i, j)
		}
	}
	return out, nil
}

func castTo(dt tensor.Dtype, v float64) any {
	if dt == tensor.Float64 {
		return v
	}
	return float32(v)
}

func lossInputs(inputs []G.Value) (z, t tensor.Tensor, err error) {
	if len(inputs) != 2 {
		return nil, nil, fmt.Errorf("models: loss wants 2 inputs, got %d", len(inputs))
	}
	z, ok1 := inputs[0].(tensor.Tensor)
	t, ok2 := inputs[1].(tensor.Tensor)
	if !ok1 || !ok2 || z.Shape().Dims() != 2 || !z.Shape().Eq(t.Shape()) {
		return nil, nil, fmt.Errorf("models: loss wants two B×C tensors, got %v and %v", inputs[0].Shape(), inputs[1].Shape())
	}
	return z, t, nil
}

// elems returns an accessor of a float32 or float64 tensor's backing data as float64.
func elems(t tensor.Tensor) func(int) float64 {
	switch d := t.Data().(type) {
	case []float32:
		return func(i int) float64 { return float64(d[i]) }
	case []float64:
		return func(i int) float64 { return d[i] }
	}
	panic(fmt.Sprintf("models: unsupported dtype %v", t.Dtype()))
}

// log1mSoftmax returns log(1 − softmax(z)_k) = log Σ_{j≠k} e^{z_j} − lse.
func log1mSoftmax(z []float64, k int, lse float64) float64 {
	m := math.Inf(-1)
	for j, v := range z {
		if j != k {
			m = math.Max(m, v)
		}
	}
	if math.IsInf(m, -1) {
		return math.Inf(-1)
	}
	var s float64
	for j, v := range z {
		if j != k {
			s += math.Exp(v - m)
		}
	}
	return m + math.Log(s) - lse
}

// rowLoss is the loss of one sample (before the batch mean of lossCE).
func rowLoss(k lossKind, z []float64, t func(int) float64) float64 {
	var l float64
	switch k {
	case lossCE:
		lse := logexp.LogSumExp(z, 1)
		for j, v := range z {
			if tj := t(j); tj != 0 {
				l -= tj * (v - lse)
			}
		}
	case lossBCESigmoid:
		for j, v := range z {
			l += logexp.Softplus(v) - t(j)*v
		}
	case lossBCESoftmax:
		lse := logexp.LogSumExp(z, 1)
		for j, v := range z {
			tj := t(j)
			if tj != 0 {
				l -= tj * (v - lse)
			}
			if tj != 1 {
				l -= (1 - tj) * log1mSoftmax(z, j, lse)
			}
		}
	}
	return l
}

// rowGrad writes ∂rowLoss/∂z into d (see the lossKind formulas).
func rowGrad(k lossKind, z, t, d []float64) {
	switch k {
	case lossCE, lossBCESoftmax:
		lse := logexp.LogSumExp(z, 1)
		var st, sr float64
		for j, v := range z {
			st += t[j]
			if k == lossBCESoftmax && t[j] != 1 {
				// p/(1−p) with 1−p from the log-domain complement, exact for confident logits.
				sr += (1 - t[j]) * math.Exp(v-lse-log1mSoftmax(z, j, lse))
			}
		}
		for j, v := range z {
			p := math.Exp(v - lse)
			d[j] = p*st - t[j]
			if k == lossBCESoftmax {
				if t[j] != 1 {
					d[j] += (1 - t[j]) * math.Exp(v-lse-log1mSoftmax(z, j, lse))
				}
				d[j] -= p * sr
			}
		}
	case lossBCESigmoid:
		for j, v := range z {
			d[j] = logexp.Sigmoid(v) - t[j]
		}
	}
}

func hashOf(s fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, s.String())
	return h.Sum32()
}
