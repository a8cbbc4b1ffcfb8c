package attacks

import (
	"fmt"
	"math"
)

// NoisyLike returns the noisy control images of an adversarial set (Feinman
// et al. 2017; Ma et al. 2018): for each of the n images x_i of shape C×H×W,
//
//	x̃_i = clip_[0,1](x_i + ‖x'_i − x_i‖₂ · z_i/‖z_i‖₂),   z_i ~ N(0, I),
//
// Gaussian noise with the L2 norm of the adversarial perturbation x'_i − x_i
// (adv holds the x'_i). Clipping to [0,1] can only move pixels towards x_i,
// so ‖x̃_i − x_i‖₂ is at most, and typically slightly less than, the
// adversarial norm; images with no perturbation are returned unchanged.
// Sample i draws from a PCG stream seeded with (seed, i), as the attacks'
// random starts. It panics if len(x) or len(adv) ≠ n·C·H·W.
func NoisyLike(x, adv []float32, n, c, h, w int, seed uint64) []float32 {
	d := c * h * w
	if len(x) != n*d || len(adv) != n*d {
		panic(fmt.Sprintf("attacks: NoisyLike: len(x) = %d, len(adv) = %d, want n·C·H·W = %d", len(x), len(adv), n*d))
	}
	out := make([]float32, n*d)
	z := make([]float64, d)
	for i := range n {
		xi, ai, oi := x[i*d:(i+1)*d], adv[i*d:(i+1)*d], out[i*d:(i+1)*d]
		_, r := Distances(xi, ai)
		if r == 0 {
			copy(oi, xi)
			continue
		}
		rng := sampleRand(seed, i)
		var s float64
		for j := range z {
			z[j] = rng.NormFloat64()
			s += z[j] * z[j]
		}
		scale := r / math.Sqrt(s)
		for j := range oi {
			oi[j] = float32(clamp64(float64(xi[j])+scale*z[j], 0, 1))
		}
	}
	return out
}
