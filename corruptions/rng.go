package corruptions

import (
	"math"
	"math/rand/v2"
)

// golden is 2^64/φ, the increment ImageSeed adds per image index.
const golden = 0x9E3779B97F4A7C15

// ImageSeed returns the seed under which Apply reproduces image index of an
// ApplySet call made with seed: ApplySet(..., seed, ...)[i] equals
// Apply(..., ImageSeed(seed, i), ...) on image i.
func ImageSeed(seed uint64, index int) uint64 { return seed + uint64(index)*golden }

// splitmix64 is the SplitMix64 finaliser, used to spread seeds.
func splitmix64(x uint64) uint64 {
	x += golden
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// fnv1a hashes a corruption name.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// newRNG returns the PCG stream of one image: a function of (seed, name,
// severity) only, so results never depend on scheduling.
func newRNG(seed uint64, name string, severity int) *rand.Rand {
	k1 := splitmix64(seed ^ fnv1a(name))
	k2 := splitmix64(k1 ^ uint64(severity)*0xD1B54A32D192ED03)
	return rand.New(rand.NewPCG(k1, k2))
}

// uniform draws from U[lo, hi), as numpy.random.uniform.
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// randint draws an integer from [lo, hi) (numpy.random.randint semantics:
// high exclusive).
func randint(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo) }

// randSign returns −1 or +1 with equal probability (np.random.choice([-1, 1])).
func randSign(r *rand.Rand) float64 {
	if r.Uint64()&1 == 0 {
		return -1
	}
	return 1
}

// poisson draws from Poisson(lam) with numpy's algorithms: multiplication of
// uniforms for lam < 10, Hörmann's PTRS transformed rejection for lam ≥ 10.
func poisson(r *rand.Rand, lam float64) float64 {
	if lam <= 0 {
		return 0
	}
	if lam < 10 {
		enlam := math.Exp(-lam)
		x := 0.0
		prod := 1.0
		for {
			prod *= r.Float64()
			if prod > enlam {
				x++
			} else {
				return x
			}
		}
	}
	slam := math.Sqrt(lam)
	loglam := math.Log(lam)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invalpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lam + 0.43)
		if us >= 0.07 && v <= vr {
			return k
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invalpha)-math.Log(a/(us*us)+b) <= -lam+k*loglam-lg {
			return k
		}
	}
}
