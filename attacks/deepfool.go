package attacks

import (
	"context"
	"fmt"
	"math"
	"slices"
)

func init() {
	Register("deepfool", "DeepFool, L2 (Moosavi-Dezfooli et al. 2016): repeated linearised steps to the nearest class boundary; params steps (50), overshoot (0.02), candidates (10; 0 = all classes), step_scale (1)", newDeepFool)
}

// DeepFool is the L2 DeepFool attack (Moosavi-Dezfooli, Fawzi, Frossard, CVPR
// 2016), in the formulation of the authors' code and Foolbox's
// L2DeepFoolAttack. The candidate classes of sample i are the Candidates − 1
// classes other than y with the largest clean logits (all classes if
// Candidates is 0 or ≥ C). Starting from x₀ = x and p = 0, while x_t is
// classified as y and t < steps, for every candidate k with
// ℓ_k = Z_k(x_t) − Z_y(x_t) and g_k = ∇ₓℓ_k (one InputGrad call per
// candidate),
//
//	k* = argmin_k |ℓ_k| / (‖g_k‖₂ + 1e−8),
//	p ← p + s·(|ℓ_k*|/(‖g_k*‖₂ + 1e−8) + 1e−4)·g_k*/(‖g_k*‖₂ + 1e−8),
//	x_{t+1} = clip_[0,1](x + (1 + overshoot)·p),
//
// with s = StepScale (1 in DeepFool). A sample stops at the first iterate the
// model misclassifies; the others end at x_steps. torchattacks' DeepFool
// differs in applying the overshoot to each step, x_{t+1} = clip(x_t +
// (1 + overshoot)·r_t), and in always using every class.
//
// StepScale ≠ 1 reproduces Lee et al.'s (2018, Mahalanobis) DeepFool, whose
// "adv_noise" scales every step (see the deepfool-mahalanobis presets).
//
// Defaults: steps 50 and overshoot 0.02 (torchattacks and Foolbox),
// candidates 10 (Foolbox; torchattacks uses all classes).
//
// TOML parameters: steps, overshoot, candidates, step_scale.
type DeepFool struct {
	Steps      int     `toml:"steps"`
	Overshoot  float64 `toml:"overshoot"`
	Candidates int     `toml:"candidates"`
	StepScale  float64 `toml:"step_scale"`
}

func newDeepFool(params Decoder) (Attack, error) {
	a := DeepFool{Steps: 50, Overshoot: 0.02, Candidates: 10, StepScale: 1}
	if err := decodeParams("deepfool", params, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a DeepFool) Name() string            { return "deepfool" }
func (a DeepFool) Threat() (Norm, float64) { return Unbounded, 0 }

func (a DeepFool) Validate() error {
	if a.Steps < 0 {
		return fmt.Errorf("attacks: deepfool: steps = %d, want ≥ 0", a.Steps)
	}
	if err := checkParam("deepfool", "overshoot", a.Overshoot, false); err != nil {
		return err
	}
	if a.Candidates < 0 || a.Candidates == 1 {
		return fmt.Errorf("attacks: deepfool: candidates = %d, want 0 (all classes) or ≥ 2", a.Candidates)
	}
	return checkParam("deepfool", "step_scale", a.StepScale, true)
}

func (a DeepFool) Perturb(ctx context.Context, m Model, b *Batch) error {
	n, d, nc, y := b.Len(), b.Dim(), m.Classes(), b.Y
	nk := a.Candidates
	if nk == 0 || nk > nc {
		nk = nc
	}
	nk-- // candidates other than y

	// Candidate classes from the clean logits, largest first (ties: lower class first).
	clean, _, err := m.Forward(b.X, n)
	if err != nil {
		return err
	}
	if len(clean) != n*nc {
		return fmt.Errorf("model returned %d logits for %d samples of %d classes", len(clean), n, nc)
	}
	cand := make([]int, n*nk)
	order := make([]int, nc)
	for i := range n {
		z := clean[i*nc : (i+1)*nc]
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(p, q int) int {
			switch {
			case z[p] > z[q]:
				return -1
			case z[p] < z[q]:
				return 1
			}
			return 0
		})
		k := 0
		for _, j := range order {
			if j != y[i] && k < nk {
				cand[i*nk+k] = j
				k++
			}
		}
	}

	p := make([]float64, n*d)      // accumulated perturbation
	best := make([]float32, n*d)   // gradient of the closest boundary so far
	bestDist := make([]float64, n) // its linearised distance
	bestNorm := make([]float64, n) // ‖g‖₂ of that gradient
	r := newGradRunner(m, b)
	active := all(n)
	for range a.Steps {
		if len(active) == 0 {
			break
		}
		for kk := range nk {
			if len(active) == 0 {
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			logits, grad, err := r.run(b.Adv, active, func(_, i int, z, g []float32) float64 {
				k := cand[i*nk+kk]
				g[k], g[y[i]] = 1, -1
				return float64(z[k]) - float64(z[y[i]])
			})
			if err != nil {
				return err
			}
			next := active[:0]
			for k, i := range active {
				z := logits[k*nc : (k+1)*nc]
				if kk == 0 && argmax(z) != y[i] {
					continue // already adversarial: x_t is final
				}
				g := grad[k*d : (k+1)*d]
				var s float64
				for _, v := range g {
					s += float64(v) * float64(v)
				}
				norm := math.Sqrt(s)
				c := cand[i*nk+kk]
				dist := math.Abs(float64(z[c])-float64(z[y[i]])) / (norm + 1e-8)
				if kk == 0 || dist < bestDist[i] {
					bestDist[i], bestNorm[i] = dist, norm
					copy(best[i*d:(i+1)*d], g)
				}
				next = append(next, i)
			}
			active = next
		}
		for _, i := range active {
			step := a.StepScale * (bestDist[i] + 1e-4) / (bestNorm[i] + 1e-8)
			for j := i * d; j < (i+1)*d; j++ {
				p[j] += step * float64(best[j])
				b.Adv[j] = float32(clamp64(float64(b.X[j])+(1+a.Overshoot)*p[j], 0, 1))
			}
		}
	}
	return nil
}
