package attacks

import (
	"context"
	"fmt"
	"math"
)

func init() {
	Register("bim", "basic iterative method / I-FGSM (Kurakin et al. 2017): steps of α·sign(∇ₓCE), clipped to the L∞ ε-ball and [0,1]; params eps (8/255), alpha (2/255), steps (10), early_stop (false; true = BIM-A)", newBIM)
}

// BIM is the basic iterative method, or I-FGSM (Kurakin, Goodfellow, Bengio,
// ICLR 2017 workshop): from x₀ = x,
//
//	x_{t+1} = clip_[max(x−ε,0), min(x+ε,1)](x_t + α·sign(∇ₓ CE(f(x_t), y))),
//
// for t = 0…steps−1, in float32 (torchattacks' BIM; no random start). With
// EarlyStop a sample stops at the first iterate x_t the model misclassifies:
// Feinman et al.'s BIM-A (without it, the last iterate: BIM-B).
//
// Defaults are torchattacks': eps 8/255, alpha 2/255, steps 10. Steps = 0
// means torchattacks' rule steps = ⌊min(255·ε + 4, 1.25·255·ε)⌋.
//
// TOML parameters: eps, alpha, steps, early_stop.
type BIM struct {
	Eps       float64 `toml:"eps"`
	Alpha     float64 `toml:"alpha"`
	Steps     int     `toml:"steps"`
	EarlyStop bool    `toml:"early_stop"`
}

func newBIM(params Decoder) (Attack, error) {
	a := BIM{Eps: 8.0 / 255, Alpha: 2.0 / 255, Steps: 10}
	if err := decodeParams("bim", params, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a BIM) Name() string            { return "bim" }
func (a BIM) Threat() (Norm, float64) { return Linf, a.Eps }

func (a BIM) Validate() error {
	if err := checkParam("bim", "eps", a.Eps, false); err != nil {
		return err
	}
	if err := checkParam("bim", "alpha", a.Alpha, false); err != nil {
		return err
	}
	if a.Steps < 0 {
		return fmt.Errorf("attacks: bim: steps = %d, want ≥ 0 (0 = torchattacks' rule from eps)", a.Steps)
	}
	return nil
}

// NumSteps returns the number of iterations BIM runs: Steps, or torchattacks'
// rule ⌊min(255·ε + 4, 1.25·255·ε)⌋ when Steps is 0.
func (a BIM) NumSteps() int {
	if a.Steps > 0 {
		return a.Steps
	}
	return int(math.Min(a.Eps*255+4, 1.25*a.Eps*255))
}

func (a BIM) Perturb(ctx context.Context, m Model, b *Batch) error {
	d := b.Dim()
	eps, alpha := float32(a.Eps), float32(a.Alpha)
	return ascend(ctx, m, b, a.NumSteps(), a.EarlyStop, func(i int, x, g []float32) {
		x0 := b.X[i*d : (i+1)*d]
		for j := range x {
			lo, hi := max(x0[j]-eps, 0), min(x0[j]+eps, 1)
			x[j] = clamp32(x[j]+alpha*sign(g[j]), lo, hi)
		}
	})
}
