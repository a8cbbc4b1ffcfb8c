// Package logexp holds the log/exp functions the detectors and losses share,
// computed so that confident logits (|z| in the hundreds or thousands) give
// finite results.
package logexp

import "math"

// LogSumExp returns log Σ_j exp(z_j/t), computed as m + log Σ_j exp(z_j/t − m)
// with m = max_j z_j/t. It returns −Inf for an empty z. t must be > 0.
func LogSumExp(z []float64, t float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v/t)
	}
	if math.IsInf(m, -1) {
		return m
	}
	var s float64
	for _, v := range z {
		s += math.Exp(v/t - m)
	}
	return m + math.Log(s)
}

// Softplus returns log(1 + e^x) without overflow.
func Softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// Sigmoid returns 1/(1 + e^−x) without overflow.
func Sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
