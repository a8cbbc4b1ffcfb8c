package attacks

import (
	"context"
	"fmt"
	"math"
)

func init() {
	Register("pgdl2", "projected gradient descent, L2: random start in the ε-ball, normalised-gradient steps of length α, projection onto the ball; params eps (1.0), alpha (0.2), steps (10), random_start (true)", newPGDL2)
}

// PGDL2 is projected gradient descent under L2, as torchattacks' PGDL2. With
// RandomStart, x₀ = clip_[0,1](x + ε·r·z/‖z‖₂), z ~ N(0, I), r ~ U(0,1) (a
// uniformly drawn radius, as torchattacks, not a uniform draw from the
// ball's volume); else x₀ = x. Then, with g = ∇ₓ CE(f(x_t), y),
//
//	a = x_t + α·g/(‖g‖₂ + 1e−10),   δ = (a − x)·min(1, ε/‖a − x‖₂),   x_{t+1} = clip_[0,1](x + δ),
//
// for t = 0…steps−1, in float64 and rounded to float32 after each step.
// Defaults are torchattacks': eps 1.0, alpha 0.2, steps 10, random_start true.
//
// TOML parameters: eps, alpha, steps, random_start.
type PGDL2 struct {
	Eps         float64 `toml:"eps"`
	Alpha       float64 `toml:"alpha"`
	Steps       int     `toml:"steps"`
	RandomStart bool    `toml:"random_start"`
}

func newPGDL2(params Decoder) (Attack, error) {
	a := PGDL2{Eps: 1.0, Alpha: 0.2, Steps: 10, RandomStart: true}
	if err := decodeParams("pgdl2", params, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a PGDL2) Name() string            { return "pgdl2" }
func (a PGDL2) Threat() (Norm, float64) { return L2, a.Eps }

func (a PGDL2) Validate() error {
	if err := checkParam("pgdl2", "eps", a.Eps, false); err != nil {
		return err
	}
	if err := checkParam("pgdl2", "alpha", a.Alpha, false); err != nil {
		return err
	}
	if a.Steps < 0 {
		return fmt.Errorf("attacks: pgdl2: steps = %d, want ≥ 0", a.Steps)
	}
	return nil
}

func (a PGDL2) Perturb(ctx context.Context, m Model, b *Batch) error {
	n, d := b.Len(), b.Dim()
	delta := make([]float64, d)
	if a.RandomStart {
		for i := range n {
			rng := b.Rand(i)
			var s float64
			for j := range delta {
				delta[j] = rng.NormFloat64()
				s += delta[j] * delta[j]
			}
			scale := rng.Float64() * a.Eps / math.Sqrt(s)
			x0, x := b.X[i*d:(i+1)*d], b.Adv[i*d:(i+1)*d]
			for j := range x {
				x[j] = float32(clamp64(float64(x0[j])+scale*delta[j], 0, 1))
			}
		}
	}
	return ascend(ctx, m, b, a.Steps, false, func(i int, x, g []float32) {
		x0 := b.X[i*d : (i+1)*d]
		var gn float64
		for _, v := range g {
			gn += float64(v) * float64(v)
		}
		step := a.Alpha / (math.Sqrt(gn) + 1e-10)
		var dn float64
		for j := range x {
			delta[j] = float64(x[j]) + step*float64(g[j]) - float64(x0[j])
			dn += delta[j] * delta[j]
		}
		factor := 1.0 // min(1, ε/‖δ‖), without 0/0 when ε = ‖δ‖ = 0
		if nd := math.Sqrt(dn); nd > a.Eps {
			factor = a.Eps / nd
		}
		for j := range x {
			x[j] = float32(clamp64(float64(x0[j])+delta[j]*factor, 0, 1))
		}
	})
}
