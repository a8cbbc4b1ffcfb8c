package corruptions

import (
	"math/rand/v2"
)

// CIFAR-10-C noise parameters (make_cifar_c.py).
var (
	gaussianNoiseSigma = [Severities]float64{0.04, 0.06, 0.08, 0.09, 0.10}
	shotNoiseLambda    = [Severities]float64{500, 250, 100, 75, 50}
	impulseNoiseAmount = [Severities]float64{0.01, 0.02, 0.03, 0.05, 0.07}
	speckleNoiseSigma  = [Severities]float64{0.06, 0.10, 0.12, 0.16, 0.20}
)

// gaussian_noise: clip(x + N(0, σ²)), an independent draw per value (per
// channel of RGB images).
var gaussianNoise = Corruption{
	Name: "gaussian_noise", Group: "noise", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"σ=0.04", "σ=0.06", "σ=0.08", "σ=0.09", "σ=0.10"},
	Summary: "additive Gaussian noise: clip(x + N(0, σ²))",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		sd := gaussianNoiseSigma[sev-1]
		for i, v := range src.pix {
			dst[i] = clip01(v + float32(sd*r.NormFloat64()))
		}
	},
}

// shot_noise: clip(Poisson(x·λ)/λ), so the noise variance is x/λ.
var shotNoise = Corruption{
	Name: "shot_noise", Group: "noise", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"λ=500", "λ=250", "λ=100", "λ=75", "λ=50"},
	Summary: "Poisson (shot) noise: clip(Poisson(x·λ)/λ)",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		lam := shotNoiseLambda[sev-1]
		for i, v := range src.pix {
			dst[i] = clip01(float32(poisson(r, float64(v)*lam) / lam))
		}
	},
}

// impulse_noise: skimage random_noise(mode='s&p', amount=a): each value
// independently is replaced with probability a, by 1 or 0 with equal odds.
var impulseNoise = Corruption{
	Name: "impulse_noise", Group: "noise", Random: true, Source: SourceCIFAR10C, Benchmark: true,
	Params:  [Severities]string{"amount=0.01", "amount=0.02", "amount=0.03", "amount=0.05", "amount=0.07"},
	Summary: "salt-and-pepper noise: a fraction `amount` of values set to 0 or 1",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		a := impulseNoiseAmount[sev-1]
		for i, v := range src.pix {
			u := r.Float64()
			switch {
			case u < a/2:
				dst[i] = 1
			case u < a:
				dst[i] = 0
			default:
				dst[i] = clip01(v)
			}
		}
	},
}

// speckle_noise: clip(x + x·N(0, σ²)).
var speckleNoise = Corruption{
	Name: "speckle_noise", Group: "noise", Random: true, Source: SourceCIFAR10C,
	Params:  [Severities]string{"σ=0.06", "σ=0.10", "σ=0.12", "σ=0.16", "σ=0.20"},
	Summary: "multiplicative noise: clip(x + x·N(0, σ²))",
	fn: func(sev int, src image3, dst []float32, r *rand.Rand, _ *scratch) {
		sd := speckleNoiseSigma[sev-1]
		for i, v := range src.pix {
			dst[i] = clip01(v + v*float32(sd*r.NormFloat64()))
		}
	},
}
