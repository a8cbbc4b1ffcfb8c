package corruptions

import (
	"math"
	"math/rand/v2"
)

// Synthetic test images: MNIST-like digits (white anti-aliased strokes on
// black, 28×28 grey) and small RGB scenes (gradient sky, ground, sun, house;
// 32×32). Both are deterministic functions of the seed.

// strokeDist is the distance from (x, y) to the segment (ax, ay)–(bx, by).
func strokeDist(x, y, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((x-ax)*dx+(y-ay)*dy)/l))
	}
	px, py := ax+t*dx-x, ay+t*dy-y
	return math.Hypot(px, py)
}

// synthDigits returns n 28×28 grey images of 2–4 pen strokes (polylines and
// arcs) of width ≈ 2.6 px inside the central 20×20 box.
func synthDigits(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	const S = 28
	out := make([]float32, n*S*S)
	for k := 0; k < n; k++ {
		img := out[k*S*S : (k+1)*S*S]
		var segs [][4]float64
		// an arc (like 0, 6, 9, 2's hook)
		cx, cy := 10+8*r.Float64(), 9+10*r.Float64()
		rad := 3 + 4*r.Float64()
		a0 := r.Float64() * 2 * math.Pi
		span := math.Pi * (0.8 + 1.2*r.Float64())
		px, py := cx+rad*math.Cos(a0), cy+rad*math.Sin(a0)
		for i := 1; i <= 12; i++ {
			a := a0 + span*float64(i)/12
			qx, qy := cx+rad*math.Cos(a), cy+rad*math.Sin(a)
			segs = append(segs, [4]float64{px, py, qx, qy})
			px, py = qx, qy
		}
		// 1–3 straight strokes
		for s := 0; s < 1+r.IntN(3); s++ {
			ax, ay := 5+18*r.Float64(), 4+20*r.Float64()
			bx, by := 5+18*r.Float64(), 4+20*r.Float64()
			segs = append(segs, [4]float64{ax, ay, bx, by})
		}
		width := 1.1 + 0.5*r.Float64()
		for y := 0; y < S; y++ {
			for x := 0; x < S; x++ {
				d := math.Inf(1)
				for _, sg := range segs {
					d = math.Min(d, strokeDist(float64(x), float64(y), sg[0], sg[1], sg[2], sg[3]))
				}
				v := math.Max(0, math.Min(1, width+0.5-d)) // anti-aliased edge
				img[y*S+x] = float32(math.Round(v*255) / 255)
			}
		}
	}
	return out
}

// synthScenes returns n 32×32 RGB scenes: a vertical sky gradient, a ground
// band, a sun disc and a house (wall + roof), colours and positions random.
func synthScenes(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	const S = 32
	out := make([]float32, n*3*S*S)
	for k := 0; k < n; k++ {
		img := out[k*3*S*S : (k+1)*3*S*S]
		top := [3]float64{0.15 + 0.2*r.Float64(), 0.35 + 0.2*r.Float64(), 0.7 + 0.25*r.Float64()}
		bot := [3]float64{0.7 + 0.2*r.Float64(), 0.8 + 0.15*r.Float64(), 0.9 + 0.1*r.Float64()}
		ground := [3]float64{0.2 + 0.3*r.Float64(), 0.35 + 0.3*r.Float64(), 0.1 + 0.15*r.Float64()}
		horizon := 20 + r.IntN(6)
		sunX, sunY, sunR := 4+24*r.Float64(), 3+8*r.Float64(), 2.5+2*r.Float64()
		wall := [3]float64{0.6 + 0.35*r.Float64(), 0.2 + 0.3*r.Float64(), 0.1 + 0.2*r.Float64()}
		hx0 := 3 + r.IntN(14)
		hx1 := hx0 + 8 + r.IntN(6)
		hy0 := horizon - 7 - r.IntN(4)
		for y := 0; y < S; y++ {
			for x := 0; x < S; x++ {
				var c [3]float64
				t := float64(y) / float64(horizon)
				for i := range c {
					c[i] = top[i] + (bot[i]-top[i])*t
				}
				if y >= horizon {
					for i := range c {
						c[i] = ground[i] * (1 - 0.015*float64(y-horizon))
					}
				}
				if d := math.Hypot(float64(x)-sunX, float64(y)-sunY); d < sunR+0.5 {
					a := math.Min(1, sunR+0.5-d)
					sun := [3]float64{1, 0.9, 0.3}
					for i := range c {
						c[i] = c[i]*(1-a) + sun[i]*a
					}
				}
				if x >= hx0 && x < hx1 && y >= hy0 && y < horizon+2 {
					c = wall
					if (x-hx0)%4 == 1 && y > hy0+1 && y < hy0+4 { // windows
						c = [3]float64{0.95, 0.95, 0.7}
					}
				}
				mid := float64(hx0+hx1-1) / 2
				if y < hy0 && y >= hy0-5 && math.Abs(float64(x)-mid) <= (float64(hx1-hx0)/2+1)*(1-float64(hy0-y)/6) {
					c = [3]float64{0.35, 0.15, 0.1} // roof
				}
				for i := range c {
					img[i*S*S+y*S+x] = float32(math.Round(math.Max(0, math.Min(1, c[i]))*255) / 255)
				}
			}
		}
	}
	return out
}
