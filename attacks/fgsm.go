package attacks

import "context"

func init() {
	Register("fgsm", "fast gradient sign method (Goodfellow et al. 2015): x' = clip(x + ε·sign(∇ₓCE)); param eps (8/255)", newFGSM)
}

// FGSM is the fast gradient sign method (Goodfellow, Shlens, Szegedy, ICLR 2015):
//
//	x' = clip_[0,1](x + ε·sign(∇ₓ CE(f(x), y))),
//
// with sign(0) = 0 as torch.sign, computed in float32. The default ε = 8/255
// is torchattacks'.
//
// TOML parameters: eps.
type FGSM struct {
	Eps float64 `toml:"eps"`
}

func newFGSM(params Decoder) (Attack, error) {
	a := FGSM{Eps: 8.0 / 255}
	if err := decodeParams("fgsm", params, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a FGSM) Name() string            { return "fgsm" }
func (a FGSM) Threat() (Norm, float64) { return Linf, a.Eps }
func (a FGSM) Validate() error         { return checkParam("fgsm", "eps", a.Eps, false) }
func (a FGSM) Perturb(ctx context.Context, m Model, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, d, y := b.Len(), b.Dim(), b.Y
	_, grad, err := newGradRunner(m, b).run(b.X, all(n), func(_, i int, z, g []float32) float64 { return crossEntropy(z, y[i], g) })
	if err != nil {
		return err
	}
	eps := float32(a.Eps)
	for j := range n * d {
		b.Adv[j] = clamp32(b.X[j]+eps*sign(grad[j]), 0, 1)
	}
	return nil
}
