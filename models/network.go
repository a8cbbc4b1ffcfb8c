// Package models holds the classifiers the harness probes: their layers on the
// gorgonia engine, training, checkpoints in PyTorch's state_dict layout, and the
// quantities detectors need (logits, penultimate features, per-sample
// parameter-gradient norms). Detectors use the Network interface and never
// touch gorgonia directly.
package models

import "fmt"

// Activation maps logits to per-class probabilities inside the confounding loss.
type Activation int

const (
	// Sigmoid treats each class independently: p_c = σ(z_c).
	Sigmoid Activation = iota
	// Softmax couples the classes: p = softmax(z) (the pytorch-ood variant).
	Softmax
)

func (a Activation) String() string {
	switch a {
	case Sigmoid:
		return "sigmoid"
	case Softmax:
		return "softmax"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation turns "sigmoid" or "softmax" into an Activation.
func ParseActivation(s string) (Activation, error) {
	switch s {
	case "sigmoid", "":
		return Sigmoid, nil
	case "softmax":
		return Softmax, nil
	}
	return 0, fmt.Errorf("unknown activation %q (want \"sigmoid\" or \"softmax\")", s)
}

// Confound is a confounding label y_c ∈ {0,1}^C with the loss
//
//	J(x) = Σ_c BCE(act(z)_c, y_c) = −Σ_c [y_c log p_c + (1−y_c) log(1−p_c)],  p = act(z), z = f(x; θ).
//
// The purview features of x are r_l(x) = ‖∂J(x)/∂θ_l‖²₂ for each parameter tensor θ_l.
type Confound struct {
	Label []float32 // length C, entries 0 or 1
	Act   Activation
}

// Param is one parameter or buffer tensor, named and laid out as PyTorch's
// state_dict() writes it (conv weight [out,in,kh,kw], linear weight [out,in]).
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// Network is a trained classifier as the detectors see it. Implementations are
// safe for concurrent use. Inputs x are n images, NCHW float32 in [0,1],
// sample-major (len(x) == n·C·H·W); all outputs are row-major, one row per sample,
// and each row depends only on its own sample.
type Network interface {
	Arch() string              // architecture name, e.g. "lenet5"
	Classes() int              // number of classes C
	InputShape() (c, h, w int) // shape of one input image
	FeatureDim() int           // width D of the penultimate features
	// Params returns the trainable tensors in state_dict order (copies).
	Params() []Param
	// GradNames names the columns of GradNorms: one per trainable tensor, in Params order.
	GradNames() []string
	// Forward returns logits (n×C) and penultimate features (n×D).
	Forward(x []float32, n int) (logits, feats []float32, err error)
	// GradNorms writes r_l(x_i) = ‖∂J(x_i)/∂θ_l‖²₂ into dst (n×P, P = len(GradNames())),
	// with J the confounding loss of c, in eval mode, without changing the weights.
	GradNorms(x []float32, n int, c Confound, dst []float64) error
}
