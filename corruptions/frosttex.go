package corruptions

import (
	"math"
	"math/rand/v2"
	"sync"
)

// The original frost corruption blends crops of six photographs of frosted
// glass (frost1.png … frost6.jpg, of which the first five are used), resized
// by 0.2. We cannot ship the photos, so frost uses five procedural textures
// instead: periodic 128×128 fields grown from fixed seeds by an ice-crystal
// process (dendrites: random walks that branch at ±60°, like hexagonal ice)
// over fractal haze and fine grain. Each texture is calibrated to one photo
// at the 0.2 scale, matching its per-channel mean, the within-crop standard
// deviation of 32×32 crops and the standard deviation of crop means
// (measured with OpenCV on hendrycks/robustness' files; frost2 and frost3
// are the same image).

const frostTexSize = 128

type frostPreset struct {
	mean   [3]float64 // RGB mean of the photo at scale 0.2
	within [3]float64 // mean within-crop standard deviation (32×32 crops)
	across [3]float64 // standard deviation of 32×32 crop means
}

var frostPresets = [5]frostPreset{
	{[3]float64{0.304, 0.584, 0.650}, [3]float64{0.084, 0.052, 0.049}, [3]float64{0.066, 0.037, 0.030}}, // frost1.png
	{[3]float64{0.787, 0.805, 0.841}, [3]float64{0.070, 0.071, 0.073}, [3]float64{0.032, 0.035, 0.037}}, // frost2.png
	{[3]float64{0.787, 0.805, 0.841}, [3]float64{0.070, 0.071, 0.073}, [3]float64{0.032, 0.035, 0.037}}, // frost3.png (= frost2)
	{[3]float64{0.541, 0.601, 0.649}, [3]float64{0.100, 0.100, 0.105}, [3]float64{0.040, 0.040, 0.043}}, // frost4.jpg
	{[3]float64{0.440, 0.483, 0.528}, [3]float64{0.138, 0.137, 0.134}, [3]float64{0.067, 0.064, 0.060}}, // frost5.jpg
}

// frostTexture is one generated texture: RGB planes and the grey (Rec. 601)
// plane, each frostTexSize² values in [0,1].
type frostTexture struct {
	rgb  [3][]float32
	grey []float32
}

var (
	frostOnce sync.Once
	frostBank [5]frostTexture
)

// frostTextures returns the five textures, generated once from fixed seeds
// (they play the role of fixed files: no user seed changes them).
func frostTextures() *[5]frostTexture {
	frostOnce.Do(func() {
		for i := range frostBank {
			frostBank[i] = makeFrostTexture(uint64(i+1), frostPresets[i])
		}
	})
	return &frostBank
}

// valueNoise returns a periodic n×n field of smoothly interpolated random
// lattice values with `cells` cells per side.
func valueNoise(r *rand.Rand, n, cells int) []float64 {
	lat := make([]float64, cells*cells)
	for i := range lat {
		lat[i] = r.Float64()
	}
	out := make([]float64, n*n)
	smooth := func(t float64) float64 { return t * t * (3 - 2*t) }
	for y := 0; y < n; y++ {
		fy := float64(y) * float64(cells) / float64(n)
		y0 := int(fy)
		ty := smooth(fy - float64(y0))
		y1 := (y0 + 1) % cells
		for x := 0; x < n; x++ {
			fx := float64(x) * float64(cells) / float64(n)
			x0 := int(fx)
			tx := smooth(fx - float64(x0))
			x1 := (x0 + 1) % cells
			a := lat[y0*cells+x0] + tx*(lat[y0*cells+x1]-lat[y0*cells+x0])
			b := lat[y1*cells+x0] + tx*(lat[y1*cells+x1]-lat[y1*cells+x0])
			out[y*n+x] = a + ty*(b-a)
		}
	}
	return out
}

// standardize shifts and scales v to mean 0 and standard deviation 1.
func standardize(v []float64) {
	m, s := 0.0, 0.0
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	s = math.Sqrt(s / float64(len(v)))
	if s == 0 {
		s = 1
	}
	for i := range v {
		v[i] = (v[i] - m) / s
	}
}

// makeFrostTexture grows one texture.
func makeFrostTexture(seed uint64, p frostPreset) frostTexture {
	const n = frostTexSize
	r := rand.New(rand.NewPCG(seed, 0x46524F5354)) // "FROST"
	// Low-frequency haze: fractal value noise (cells 2..16, amplitude halving).
	haze := make([]float64, n*n)
	amp := 1.0
	for cells := 2; cells <= 16; cells *= 2 {
		v := valueNoise(r, n, cells)
		for i := range haze {
			haze[i] += amp * v[i]
		}
		amp *= 0.5
	}
	standardize(haze)

	// Ice crystals: dendrites seeded preferentially where the haze is bright.
	ice := make([]float64, n*n)
	splat := func(x, y, v float64) { // bilinear deposit with wrap-around
		x0, y0 := math.Floor(x), math.Floor(y)
		fx, fy := x-x0, y-y0
		ix, iy := int(x0), int(y0)
		for _, d := range [4]struct {
			dx, dy int
			w      float64
		}{{0, 0, (1 - fx) * (1 - fy)}, {1, 0, fx * (1 - fy)}, {0, 1, (1 - fx) * fy}, {1, 1, fx * fy}} {
			xx := ((ix+d.dx)%n + n) % n
			yy := ((iy+d.dy)%n + n) % n
			ice[yy*n+xx] += v * d.w
		}
	}
	var grow func(x, y, theta, length, inten float64, depth int)
	grow = func(x, y, theta, length, inten float64, depth int) {
		const step = 0.5
		for t := 0.0; t < length; t += step {
			splat(x, y, inten)
			theta += 0.08 * r.NormFloat64()
			x += step * math.Cos(theta)
			y += step * math.Sin(theta)
			if depth < 2 && r.Float64() < 0.06 {
				side := math.Pi / 3
				if r.Uint64()&1 == 0 {
					side = -side
				}
				grow(x, y, theta+side, 0.45*(length-t), 0.8*inten, depth+1)
			}
		}
	}
	for placed := 0; placed < n*n/24; {
		x, y := r.Float64()*n, r.Float64()*n
		hv := haze[int(y)*n+int(x)]
		if r.Float64() > 0.25+0.25*(hv+1) { // denser where the haze is bright
			continue
		}
		placed++
		grow(x, y, r.Float64()*2*math.Pi, 3+9*r.Float64(), 0.4+0.6*r.Float64(), 0)
	}
	for i := range ice {
		ice[i] = math.Min(ice[i], 1.5) // crystals saturate where they cross
	}
	// Fine grain.
	for i := range ice {
		ice[i] += 0.25 * r.NormFloat64()
	}
	// Slight periodic blur to anti-alias (σ ≈ 0.5 px, 3 taps).
	blur := func(v []float64) []float64 {
		k := [3]float64{0.1065, 0.787, 0.1065}
		tmp := make([]float64, n*n)
		out := make([]float64, n*n)
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				tmp[y*n+x] = k[0]*v[y*n+(x+n-1)%n] + k[1]*v[y*n+x] + k[2]*v[y*n+(x+1)%n]
			}
		}
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				out[y*n+x] = k[0]*tmp[((y+n-1)%n)*n+x] + k[1]*tmp[y*n+x] + k[2]*tmp[((y+1)%n)*n+x]
			}
		}
		return out
	}
	ice = blur(ice)
	// Remove the 32-px-scale mean of the detail layer so it only carries
	// within-crop contrast, then standardise both layers.
	standardize(ice)
	standardize(haze)

	// The haze also varies inside a 32×32 crop; give the detail layer only the
	// remaining within-crop variance: b² = within² − (across·f)², f the mean
	// within-crop standard deviation of the standardised haze.
	f := meanCropStd(haze, n, 32)
	var t frostTexture
	for c := range 3 {
		b := math.Sqrt(math.Max(p.within[c]*p.within[c]-p.across[c]*p.across[c]*f*f, 0))
		t.rgb[c] = make([]float32, n*n)
		for i := range t.rgb[c] {
			v := p.mean[c] + p.across[c]*haze[i] + b*ice[i]
			t.rgb[c][i] = float32(clip01f(v))
		}
	}
	t.grey = make([]float32, n*n)
	for i := range t.grey {
		t.grey[i] = luma601(t.rgb[0][i], t.rgb[1][i], t.rgb[2][i])
	}
	return t
}

// meanCropStd is the mean standard deviation inside crop×crop windows of the
// periodic n×n field v (windows every crop/2 pixels).
func meanCropStd(v []float64, n, crop int) float64 {
	total, cnt := 0.0, 0
	for oy := 0; oy < n; oy += crop / 2 {
		for ox := 0; ox < n; ox += crop / 2 {
			m, q := 0.0, 0.0
			for y := 0; y < crop; y++ {
				for x := 0; x < crop; x++ {
					u := v[((oy+y)%n)*n+(ox+x)%n]
					m += u
					q += u * u
				}
			}
			k := float64(crop * crop)
			m /= k
			total += math.Sqrt(math.Max(q/k-m*m, 0))
			cnt++
		}
	}
	return total / float64(cnt)
}
