package attacks

import (
	"context"
	"fmt"
	"math"
)

func init() {
	Register("cw", "Carlini–Wagner L2 (2017): Adam in tanh space on ‖x'−x‖² + c·max(Z_y − max_{j≠y} Z_j, −κ), binary search over c; params c (1), kappa (0), steps (50), lr (0.01), binary_search_steps (5), abort_early (true)", newCW)
}

// CW is the Carlini–Wagner L2 attack (Carlini & Wagner, IEEE S&P 2017),
// untargeted. In the variable w with x' = ½(tanh(w) + 1) ∈ [0,1] it minimises
// per sample
//
//	‖x' − x‖₂² + c·max(Z_y(x') − max_{j≠y} Z_j(x'), −κ)
//
// with Adam (PyTorch semantics: β₁ 0.9, β₂ 0.999, ε 1e−8, bias-corrected), from
// w₀ = atanh(0.999999·(2x − 1)) (Carlini's scaling, which keeps w finite at
// pixels 0 and 1; torchattacks starts at ±∞ there, which freezes those
// pixels). At every step, before the Adam update, x' is recorded as the
// sample's adversarial example if it succeeds — max_{j≠y} Z_j > Z_y + κ, as
// Carlini's and cleverhans' code decide it — and its L2 distance is the
// smallest so far. A sample that never succeeds keeps x' = x.
//
// Binary search over c (absent from torchattacks; the schedule of Carlini's
// and cleverhans' code): each of BinarySearchSteps rounds restarts Adam from
// w₀ with the sample's current c. After a round in which the sample
// succeeded at least once, upper = min(upper, c) and c = (lower + upper)/2;
// otherwise lower = max(lower, c) and c = (lower + upper)/2, or c·10 while no
// upper bound is known (upper ≥ 1e9). BinarySearchSteps = 1 is torchattacks'
// CW (fixed c).
//
// Early abort (AbortEarly): every max(⌊steps/10⌋, 1) steps, a sample whose
// objective rose since the previous check stops for the round, torchattacks'
// rule applied per sample instead of to the batch sum, so that a sample's
// result does not depend on its batch.
//
// Defaults: torchattacks' c 1 (the initial constant), kappa 0, steps 50, lr
// 0.01; binary_search_steps 5 is cleverhans' (ART uses 10, Foolbox 9, both
// with initial constants 0.01 and 0.001 instead of 1).
//
// Adam moves each w_j by about lr per step, so the defaults move a pixel by
// at most ≈ 0.25 from 0.5, and hardly at all from 0 or 1, where w₀ ≈ ±7.25
// and tanh is flat. On MNIST, whose pixels are mostly exactly 0 or 1, they
// fooled 13 % of 500 correctly classified test digits of a LeNet-5 (97.8 %
// accurate); steps 100 and lr 0.1 fooled 100 % (mean L2 1.50, DeepFool's
// 1.60). Carlini's own code runs 10,000 steps.
//
// TOML parameters: c, kappa, steps, lr, binary_search_steps, abort_early.
type CW struct {
	C                 float64 `toml:"c"`
	Kappa             float64 `toml:"kappa"`
	Steps             int     `toml:"steps"`
	LR                float64 `toml:"lr"`
	BinarySearchSteps int     `toml:"binary_search_steps"`
	AbortEarly        bool    `toml:"abort_early"`
}

func newCW(params Decoder) (Attack, error) {
	a := CW{C: 1, Kappa: 0, Steps: 50, LR: 0.01, BinarySearchSteps: 5, AbortEarly: true}
	if err := decodeParams("cw", params, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a CW) Name() string            { return "cw" }
func (a CW) Threat() (Norm, float64) { return Unbounded, 0 }

func (a CW) Validate() error {
	if err := checkParam("cw", "c", a.C, true); err != nil {
		return err
	}
	if err := checkParam("cw", "kappa", a.Kappa, false); err != nil {
		return err
	}
	if err := checkParam("cw", "lr", a.LR, true); err != nil {
		return err
	}
	if a.Steps < 1 {
		return fmt.Errorf("attacks: cw: steps = %d, want ≥ 1", a.Steps)
	}
	if a.BinarySearchSteps < 1 {
		return fmt.Errorf("attacks: cw: binary_search_steps = %d, want ≥ 1", a.BinarySearchSteps)
	}
	return nil
}

// Adam's constants (PyTorch's defaults, as torchattacks uses them).
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

func (a CW) Perturb(ctx context.Context, m Model, b *Batch) error {
	n, d, nc, y := b.Len(), b.Dim(), m.Classes(), b.Y
	kappa := a.Kappa

	w0 := make([]float64, n*d)
	for j, v := range b.X {
		w0[j] = math.Atanh(0.999999 * (2*float64(v) - 1))
	}
	c := make([]float64, n)
	lower, upper := make([]float64, n), make([]float64, n)
	bestL2 := make([]float64, n)
	for i := range n {
		c[i], upper[i], bestL2[i] = a.C, 1e10, math.Inf(1)
	}

	w, mom, vel := make([]float64, n*d), make([]float64, n*d), make([]float64, n*d)
	th := make([]float64, n*d)   // tanh(w) of the current iterate
	xa := make([]float32, n*d)   // the current iterate x' in float32, as the model sees it
	prev := make([]float64, n)   // objective at the previous abort check
	succeeded := make([]bool, n) // success at least once in this round
	r := newGradRunner(m, b)
	every := max(a.Steps/10, 1)

	for range a.BinarySearchSteps {
		copy(w, w0)
		clear(mom)
		clear(vel)
		for i := range n {
			prev[i], succeeded[i] = math.Inf(1), false
		}
		active := all(n)
		for step := range a.Steps {
			if len(active) == 0 {
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			for _, i := range active {
				for j := i * d; j < (i+1)*d; j++ {
					th[j] = math.Tanh(w[j])
					xa[j] = float32((th[j] + 1) / 2)
				}
			}
			logits, grad, err := r.run(xa, active, func(_, i int, z, g []float32) float64 {
				f, k := cwMargin(z, y[i])
				if f <= -kappa {
					return -c[i] * kappa
				}
				g[y[i]] += float32(c[i])
				g[k] -= float32(c[i])
				return c[i] * f
			})
			if err != nil {
				return err
			}
			t := float64(step + 1)
			bc1, bc2 := 1-math.Pow(adamBeta1, t), 1-math.Pow(adamBeta2, t)
			next := active[:0]
			for k, i := range active {
				z := logits[k*nc : (k+1)*nc]
				rows := i * d
				_, l2 := Distances(b.X[rows:rows+d], xa[rows:rows+d])
				l2sq := l2 * l2
				f, _ := cwMargin(z, y[i])
				cost := l2sq + c[i]*math.Max(f, -kappa)
				if cwSuccess(z, y[i], kappa) {
					succeeded[i] = true
					if l2sq < bestL2[i] {
						bestL2[i] = l2sq
						copy(b.Adv[rows:rows+d], xa[rows:rows+d])
					}
				}
				// Adam step on w: ∂cost/∂x' = 2(x' − x) + c·∂f/∂x', ∂x'/∂w = ½(1 − tanh²w).
				gk := grad[k*d : (k+1)*d]
				for j := range d {
					p := rows + j
					xp := (th[p] + 1) / 2
					gw := (2*(xp-float64(b.X[p])) + float64(gk[j])) * 0.5 * (1 - th[p]*th[p])
					mom[p] = adamBeta1*mom[p] + (1-adamBeta1)*gw
					vel[p] = adamBeta2*vel[p] + (1-adamBeta2)*gw*gw
					w[p] -= a.LR * (mom[p] / bc1) / (math.Sqrt(vel[p]/bc2) + adamEps)
				}
				if a.AbortEarly && step%every == 0 {
					if cost > prev[i] {
						continue
					}
					prev[i] = cost
				}
				next = append(next, i)
			}
			active = next
		}
		for i := range n {
			if succeeded[i] {
				upper[i] = math.Min(upper[i], c[i])
				if upper[i] < 1e9 {
					c[i] = (lower[i] + upper[i]) / 2
				}
			} else {
				lower[i] = math.Max(lower[i], c[i])
				if upper[i] < 1e9 {
					c[i] = (lower[i] + upper[i]) / 2
				} else {
					c[i] *= 10
				}
			}
		}
	}
	return nil
}

// cwMargin returns f = Z_y − max_{j≠y} Z_j and the arg-max k of the other
// classes (the first on ties).
func cwMargin(z []float32, y int) (f float64, k int) {
	k = -1
	for j, v := range z {
		if j != y && (k < 0 || v > z[k]) {
			k = j
		}
	}
	return float64(z[y]) - float64(z[k]), k
}

// cwSuccess reports whether logits z are an untargeted success with
// confidence κ: some class j ≠ y has Z_j > Z_y + κ (Carlini's compare).
func cwSuccess(z []float32, y int, kappa float64) bool {
	f, _ := cwMargin(z, y)
	return f < -kappa
}
