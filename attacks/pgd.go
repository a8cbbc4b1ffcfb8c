package attacks

import (
	"context"
	"fmt"
)

func init() {
	Register("pgd", "projected gradient descent, L∞ (Madry et al. 2018): uniform random start in the ε-ball, steps of α·sign(∇ₓCE), projection; params eps (8/255), alpha (2/255), steps (10), random_start (true)", newPGD)
}

// PGD is projected gradient descent under L∞ (Madry et al., ICLR 2018), as
// torchattacks' PGD: with RandomStart, x₀ = clip_[0,1](x + u), u_j ~ U(−ε, ε)
// (sample i's draws from its own PCG stream, see Batch.Rand); else x₀ = x. Then
//
//	δ = clip_[−ε,ε](x_t + α·sign(∇ₓ CE(f(x_t), y)) − x),   x_{t+1} = clip_[0,1](x + δ),
//
// for t = 0…steps−1, in float32. Defaults are torchattacks': eps 8/255,
// alpha 2/255, steps 10, random_start true.
//
// TOML parameters: eps, alpha, steps, random_start.
type PGD struct {
	Eps         float64 `toml:"eps"`
	Alpha       float64 `toml:"alpha"`
	Steps       int     `toml:"steps"`
	RandomStart bool    `toml:"random_start"`
}

func newPGD(params Decoder) (Attack, error) {
	a := PGD{Eps: 8.0 / 255, Alpha: 2.0 / 255, Steps: 10, RandomStart: true}
	if err := decodeParams("pgd", params, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a PGD) Name() string            { return "pgd" }
func (a PGD) Threat() (Norm, float64) { return Linf, a.Eps }

func (a PGD) Validate() error {
	if err := checkParam("pgd", "eps", a.Eps, false); err != nil {
		return err
	}
	if err := checkParam("pgd", "alpha", a.Alpha, false); err != nil {
		return err
	}
	if a.Steps < 0 {
		return fmt.Errorf("attacks: pgd: steps = %d, want ≥ 0", a.Steps)
	}
	return nil
}

func (a PGD) Perturb(ctx context.Context, m Model, b *Batch) error {
	n, d := b.Len(), b.Dim()
	eps, alpha := float32(a.Eps), float32(a.Alpha)
	if a.RandomStart {
		for i := range n {
			rng := b.Rand(i)
			x0, x := b.X[i*d:(i+1)*d], b.Adv[i*d:(i+1)*d]
			for j := range x {
				u := float32((2*rng.Float64() - 1) * a.Eps)
				x[j] = clamp32(x0[j]+u, 0, 1)
			}
		}
	}
	return ascend(ctx, m, b, a.Steps, false, func(i int, x, g []float32) {
		x0 := b.X[i*d : (i+1)*d]
		for j := range x {
			delta := clamp32(x[j]+alpha*sign(g[j])-x0[j], -eps, eps)
			x[j] = clamp32(x0[j]+delta, 0, 1)
		}
	})
}
