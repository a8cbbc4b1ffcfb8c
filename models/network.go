// Package models holds the classifiers the harness probes (LeNet-5, LeNet-5
// with dropout, ResNet-20): training, checkpoints in PyTorch's state_dict
// layout, and the quantities detectors need (logits, penultimate and hidden
// features, per-sample parameter-gradient norms, input gradients).
//
// Two engines run the same architecture description. The native engine
// (hand-written forward and backward passes on reused float32 buffers, matrix
// products from internal/kernels) does all the work. gorgonia graphs built
// from the same description are the autodiff reference: the batch-1
// per-sample gradients (SampleGrads) and, in tests, the logits, purview
// features, input gradients and training gradients the native engine must
// reproduce. Detectors use the Network and Inspector interfaces and never
// touch either engine.
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

// Reduce says how LayerFeatures summarises one hidden layer's activations.
type Reduce int

const (
	// Flatten keeps every activation: C·H·W values per sample (LID, KD).
	Flatten Reduce = iota
	// ChannelMean averages each channel over its spatial positions: C values per
	// sample (the Mahalanobis detector's f = spatial mean of a block's feature map).
	ChannelMean
)

// Tap is one hidden layer whose activations detectors may read: a name in the
// architecture's vocabulary (LeNet: "conv1", "conv2", "fc1", "fc2"; ResNet: "bn1"
// after its ReLU, "blocks.N" for each block's output, "avgpool" for the pooled
// features) and the shape of its output for one sample. The last tap is the
// penultimate layer (FeatureDim values).
type Tap struct {
	Name    string
	C, H, W int
}

// Dim is the number of values LayerFeatures returns per sample for r.
func (t Tap) Dim(r Reduce) int {
	if r == ChannelMean {
		return t.C
	}
	return t.C * t.H * t.W
}

// LossFunc is a scalar loss of one sample's logits, given to InputGrad. For sample i
// with logits z (length C) it returns ℓ_i(z) and writes ∂ℓ_i/∂z into g (length C,
// zeroed by the caller). It is called concurrently for different i and must not
// retain z or g.
type LossFunc func(i int, z []float32, g []float32) float64

// Inspector is what attacks and feature-space detectors (ODIN, Mahalanobis, LID,
// KD+BU) need beyond Network. Implementations are safe for concurrent use and,
// like Network, treat every sample independently (eval mode: BatchNorm uses its
// running statistics, dropout is off).
type Inspector interface {
	Network
	// Taps lists the hidden layers LayerFeatures can return, input to output.
	Taps() []Tap
	// LayerFeatures returns, for each tap named in taps (all taps if taps is nil),
	// an n×Dim(r) row-major matrix of that layer's activations.
	LayerFeatures(x []float32, n int, taps []string, r Reduce) ([][]float32, error)
	// InputGrad computes the logits z_i = f(x_i) and, into grad (len(x)),
	// ∂ℓ_i(z_i)/∂x_i for every sample, with ℓ from loss; it returns the logits (n×C)
	// and the losses ℓ_i. One forward and one backward pass per batch.
	InputGrad(x []float32, n int, loss LossFunc, grad []float32) (logits []float32, losses []float64, err error)
	// FeatureGrad is InputGrad for a loss of one tap's reduced features instead of
	// the logits (Mahalanobis input preprocessing): loss(i, f, g) receives sample
	// i's Dim(r) features f of tap and writes ∂ℓ_i/∂f into g. It returns the losses.
	FeatureGrad(x []float32, n int, tap string, r Reduce, loss LossFunc, grad []float32) (losses []float64, err error)
}

// Stochastic is implemented by networks with dropout (e.g. "lenet5-dropout"): a
// forward pass with dropout active, its masks drawn from seed, so Monte-Carlo
// dropout (Bayesian uncertainty, Feinman et al. 2017) is reproducible. Row i
// depends only on x_i, seed and i. BatchNorm stays in eval mode. A network
// whose architecture has no dropout layers returns an error.
type Stochastic interface {
	DropoutForward(x []float32, n int, seed uint64) (logits []float32, err error)
}
