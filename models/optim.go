package models

import "math"

// Optimizers (TrainConfig.Optimizer).
const (
	OptimizerAdam = "adam"
	OptimizerSGD  = "sgd"
)

// Optimizers lists the valid TrainConfig.Optimizer values ("" means OptimizerAdam).
func Optimizers() []string { return []string{OptimizerAdam, OptimizerSGD} }

// adamUpdate takes one Adam step on the tensor w with gradient g and moments
// m1, m2 (PyTorch's torch.optim.Adam, L2 form of weight decay):
//
//	g ← g + wd·θ
//	m₁ ← β₁·m₁ + (1−β₁)·g,  m₂ ← β₂·m₂ + (1−β₂)·g²
//	θ ← θ − lr·(m₁/c₁)/(√(m₂/c₂) + ε),  c₁ = 1−β₁ᵗ, c₂ = 1−β₂ᵗ
//
// The arithmetic is float64, rounded to float32 where stored. With wd = 0 it
// is the update Train always made (cached models depend on its exact bits).
func adamUpdate(w, g, m1, m2 []float32, lr, b1, b2, eps, c1, c2, wd float64) {
	g, m1, m2 = g[:len(w)], m1[:len(w)], m2[:len(w)]
	for j := range w {
		gj := float64(g[j])
		if wd != 0 {
			gj += wd * float64(w[j])
		}
		m1[j] = float32(b1*float64(m1[j]) + (1-b1)*gj)
		m2[j] = float32(b2*float64(m2[j]) + (1-b2)*gj*gj)
		mh := float64(m1[j]) / c1
		vh := float64(m2[j]) / c2
		w[j] -= float32(lr * mh / (math.Sqrt(vh) + eps))
	}
}

// sgdUpdate takes one step of PyTorch's torch.optim.SGD (dampening 0) on w
// with gradient g:
//
//	g ← g + wd·θ
//	b ← g on the first step, μ·b + g after      (only when buf != nil, i.e. μ > 0)
//	θ ← θ − lr·(g + μ·b)  with Nesterov,  θ − lr·b  without,  θ − lr·g  when μ = 0
//
// b is kept in float32 (buf) and the value stored is the one used.
func sgdUpdate(w, g, buf []float32, lr, mu, wd float64, nesterov, first bool) {
	g = g[:len(w)]
	if buf != nil {
		buf = buf[:len(w)]
	}
	for j := range w {
		d := float64(g[j])
		if wd != 0 {
			d += wd * float64(w[j])
		}
		if buf != nil {
			if first {
				buf[j] = float32(d)
			} else {
				buf[j] = float32(mu*float64(buf[j]) + d)
			}
			if nesterov {
				d += mu * float64(buf[j])
			} else {
				d = float64(buf[j])
			}
		}
		w[j] -= float32(lr * d)
	}
}
