package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// noiseStream is the second seed word of the PCG source behind the noise sets
// (the first is the caller's seed). It is fixed so that a seed alone decides
// the images.
const noiseStream = 0x6e6f697365 // "noise" in ASCII

// maxGeneratedValues bounds count·C·H·W for a generated set, so that a typo in
// a config gives an error instead of an attempt to allocate terabytes.
const maxGeneratedValues = 1 << 31

// UniformNoise returns n images of shape c×h×w whose pixels are drawn
// independently from the uniform distribution on [0,1):
//
//	x = rand.New(rand.NewPCG(seed, 0x6e6f697365)).Float32(), one draw per value
//
// in sample-major NCHW order. The same arguments give the same bytes on every
// run (math/rand/v2's PCG-DXSM source and its Float32 derivation). Labels are
// -1, Index is 0..n-1, Name is "uniform-noise". It panics if n < 0 or a side is
// not positive (caller bug).
func UniformNoise(n, c, h, w int, seed uint64) *Set {
	s := newGenerated("uniform-noise", n, c, h, w)
	r := rand.New(rand.NewPCG(seed, noiseStream))
	for i := range s.Images {
		s.Images[i] = r.Float32()
	}
	return s
}

// GaussianNoise returns n images of shape c×h×w whose pixels are drawn
// independently from N(mean, std²) and clipped to [0,1]:
//
//	x = float32(min(1, max(0, mean + std·z))),  z = rand.New(rand.NewPCG(seed, 0x6e6f697365)).NormFloat64()
//
// one draw per value in sample-major NCHW order, so the same arguments give
// the same bytes on every run. Clipping moves the mean and shrinks the standard
// deviation when mean ± 3·std leaves [0,1] (the defaults 0.5 and 0.25 clip
// about 4.6 % of the pixels). Labels are -1, Index is 0..n-1, Name is
// "gaussian-noise". It panics if n < 0, a side is not positive, mean is not
// finite or std is negative or not finite (caller bugs).
func GaussianNoise(n, c, h, w int, mean, std float64, seed uint64) *Set {
	if math.IsNaN(mean) || math.IsInf(mean, 0) || !(std >= 0) || math.IsInf(std, 0) {
		panic(fmt.Sprintf("datasets: GaussianNoise: mean %v, std %v (want finite mean, finite std ≥ 0)", mean, std))
	}
	s := newGenerated("gaussian-noise", n, c, h, w)
	r := rand.New(rand.NewPCG(seed, noiseStream))
	for i := range s.Images {
		s.Images[i] = float32(min(1, max(0, mean+std*r.NormFloat64())))
	}
	return s
}

// newGenerated allocates an unlabelled set of n images of shape c×h×w.
func newGenerated(name string, n, c, h, w int) *Set {
	if n < 0 || c <= 0 || h <= 0 || w <= 0 {
		panic(fmt.Sprintf("datasets: %s: shape %d×%d×%d×%d (want n ≥ 0 and positive sides)", name, n, c, h, w))
	}
	s := &Set{Name: name, C: c, H: h, W: w,
		Images: make([]float32, n*c*h*w), Labels: make([]int, n), Index: make([]int, n)}
	for i := range n {
		s.Labels[i] = -1
		s.Index[i] = i
	}
	return s
}

// UniformNoiseParams is the TOML table of kind "uniform-noise".
type UniformNoiseParams struct {
	Count int    `toml:"count"` // number of images; default 10000
	Seed  *int64 `toml:"seed"`  // ≥ 0; default: the experiment's seed (Request.Seed)
}

// GaussianNoiseParams is the TOML table of kind "gaussian-noise".
type GaussianNoiseParams struct {
	Count int     `toml:"count"` // number of images; default 10000
	Mean  float64 `toml:"mean"`  // default 0.5
	Std   float64 `toml:"std"`   // default 0.25
	Seed  *int64  `toml:"seed"`  // ≥ 0; default: the experiment's seed (Request.Seed)
}

// noiseSource generates a noise set of the model's input shape.
type noiseSource struct {
	kind  string
	count int
	seed  *uint64
	gen   func(n, c, h, w int, seed uint64) *Set
}

func (s *noiseSource) Kind() string          { return s.kind }
func (s *noiseSource) Splits() []string      { return []string{} }
func (s *noiseSource) Where() (string, bool) { return "generated", true }

// Load generates Count images of shape req.C×req.H×req.W, seeded by the params
// seed if one was given, else req.Seed. req.Split is ignored.
func (s *noiseSource) Load(req Request) (*Set, error) {
	if req.C <= 0 || req.H <= 0 || req.W <= 0 {
		return nil, fmt.Errorf("datasets: %s: request has no input shape (C, H, W = %d, %d, %d; want positive sizes)", s.kind, req.C, req.H, req.W)
	}
	if v := int64(s.count) * int64(req.C) * int64(req.H) * int64(req.W); v > maxGeneratedValues || req.C > maxGeneratedValues ||
		req.H > maxGeneratedValues || req.W > maxGeneratedValues {
		return nil, fmt.Errorf("datasets: %s: %d images of %d×%d×%d exceed %d values", s.kind, s.count, req.C, req.H, req.W, maxGeneratedValues)
	}
	seed := req.Seed
	if s.seed != nil {
		seed = *s.seed
	}
	return s.gen(s.count, req.C, req.H, req.W, seed), nil
}

func checkCount(kind string, n int) error {
	if n <= 0 {
		return fmt.Errorf("datasets: %s: count = %d (want > 0)", kind, n)
	}
	return nil
}

// seedParam checks an optional seed key: TOML integers are signed, and a
// negative seed would silently wrap around as uint64.
func seedParam(kind string, s *int64) (*uint64, error) {
	if s == nil {
		return nil, nil
	}
	if *s < 0 {
		return nil, fmt.Errorf("datasets: %s: seed = %d (want ≥ 0)", kind, *s)
	}
	u := uint64(*s)
	return &u, nil
}

func init() {
	Register("uniform-noise",
		"Images of i.i.d. U[0,1) pixels in the model's input shape, labels -1; no splits. "+
			"Params: count (default 10000), seed (default: the experiment's seed).",
		func(params Decoder) (Source, error) {
			p := UniformNoiseParams{Count: 10000}
			if err := decodeParams("uniform-noise", params, &p); err != nil {
				return nil, err
			}
			if err := checkCount("uniform-noise", p.Count); err != nil {
				return nil, err
			}
			seed, err := seedParam("uniform-noise", p.Seed)
			if err != nil {
				return nil, err
			}
			return &noiseSource{kind: "uniform-noise", count: p.Count, seed: seed, gen: UniformNoise}, nil
		})
	Register("gaussian-noise",
		"Images of i.i.d. N(mean, std²) pixels clipped to [0,1], in the model's input shape, labels -1; no splits. "+
			"Params: count (default 10000), mean (default 0.5), std (default 0.25), seed (default: the experiment's seed).",
		func(params Decoder) (Source, error) {
			p := GaussianNoiseParams{Count: 10000, Mean: 0.5, Std: 0.25}
			if err := decodeParams("gaussian-noise", params, &p); err != nil {
				return nil, err
			}
			if err := checkCount("gaussian-noise", p.Count); err != nil {
				return nil, err
			}
			if math.IsNaN(p.Mean) || math.IsInf(p.Mean, 0) {
				return nil, fmt.Errorf("datasets: gaussian-noise: mean = %v (want a finite number)", p.Mean)
			}
			if !(p.Std >= 0) || math.IsInf(p.Std, 0) {
				return nil, fmt.Errorf("datasets: gaussian-noise: std = %v (want a finite number ≥ 0)", p.Std)
			}
			seed, err := seedParam("gaussian-noise", p.Seed)
			if err != nil {
				return nil, err
			}
			mean, std := p.Mean, p.Std
			gen := func(n, c, h, w int, seed uint64) *Set { return GaussianNoise(n, c, h, w, mean, std, seed) }
			return &noiseSource{kind: "gaussian-noise", count: p.Count, seed: seed, gen: gen}, nil
		})
}
