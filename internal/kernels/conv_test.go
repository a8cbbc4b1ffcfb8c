package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var convCases = []ConvShape{
	{N: 2, C: 4, H: 7, W: 6, K: 5, KH: 3, KW: 2, SH: 1, SW: 1, PH: 0, PW: 1},   // backward data by flipped filters
	{N: 2, C: 1, H: 28, W: 28, K: 6, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2}, // LeNet conv1
	{N: 3, C: 6, H: 14, W: 14, K: 16, KH: 5, KW: 5, SH: 1, SW: 1},              // LeNet conv2
	{N: 2, C: 3, H: 9, W: 9, K: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},   // ResNet downsampling
	{N: 2, C: 4, H: 8, W: 6, K: 5, KH: 1, KW: 1, SH: 2, SW: 2},                 // projection shortcut
	{N: 2, C: 5, H: 7, W: 7, K: 3, KH: 1, KW: 1, SH: 1, SW: 1},                 // identity cols
	{N: 1, C: 2, H: 7, W: 10, K: 3, KH: 2, KW: 4, SH: 3, SW: 2, PH: 1, PW: 3},  // odd everything
	{N: 2, C: 16, H: 4, W: 4, K: 32, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}, // Gram-form norms: p = 16 < 2·k·kc/(k+kc)
}

func TestIm2colCol2imAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range convCases {
		img := randSlice(rng, s.C*s.H*s.W)
		cols := make([]float32, s.ColSize())
		Im2col(s, img, cols)
		// Against the definition.
		oh, ow := s.OutH(), s.OutW()
		for c := 0; c < s.C; c++ {
			for ky := 0; ky < s.KH; ky++ {
				for kx := 0; kx < s.KW; kx++ {
					for oy := 0; oy < oh; oy++ {
						for ox := 0; ox < ow; ox++ {
							iy, ix := oy*s.SH+ky-s.PH, ox*s.SW+kx-s.PW
							var want float32
							if iy >= 0 && iy < s.H && ix >= 0 && ix < s.W {
								want = img[(c*s.H+iy)*s.W+ix]
							}
							if got := cols[(((c*s.KH+ky)*s.KW+kx)*oh+oy)*ow+ox]; got != want {
								t.Fatalf("%+v: cols[c%d ky%d kx%d oy%d ox%d] = %v, want %v", s, c, ky, kx, oy, ox, got, want)
							}
						}
					}
				}
			}
		}
		// Col2im is the adjoint: <Im2col(x), u> = <x, Col2im(u)>.
		u := randSlice(rng, s.ColSize())
		back := randSlice(rng, len(img)) // garbage must be overwritten
		Col2im(s, u, back)
		lhs, rhs := dot64(cols, u), dot64(img, back)
		if d := lhs - rhs; d*d > 1e-8*(lhs*lhs+1) {
			t.Fatalf("%+v: <Im2col x, u> = %v, <x, Col2im u> = %v", s, lhs, rhs)
		}
	}
}

func TestConv2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range convCases {
		name := fmt.Sprintf("%+v", s)
		x, w, b := randSlice(rng, s.InSize()), randSlice(rng, s.WeightSize()), randSlice(rng, s.K)
		y := make([]float32, s.OutSize())
		cols := make([]float32, s.N*s.ColSize())
		Conv2dForward(s, x, w, b, y, cols, 2)
		closeTo(t, name+" forward", y, conv64(s, f64(x), f64(w), f64(b)), 1e-4)
		y2 := make([]float32, s.OutSize())
		Conv2dForward(s, x, w, nil, y2, nil, 1)
		closeTo(t, name+" forward no bias", y2, conv64(s, f64(x), f64(w), nil), 1e-4)
		// Row-blocked forward (no patch matrices kept), one output row per block.
		old := blockedColBytes
		blockedColBytes = 1
		Conv2dForward(s, x, w, b, y2, nil, 2)
		blockedColBytes = old
		for i := range y {
			if y2[i] != y[i] {
				t.Fatalf("%s: row-blocked forward [%d] = %v, whole-image %v", name, i, y2[i], y[i])
			}
		}

		// Gradients of L = Σ r·y.
		r := randSlice(rng, s.OutSize())
		dx := make([]float32, s.InSize())
		dw := make([]float32, s.WeightSize())
		db := make([]float32, s.K)
		Conv2dBackwardData(s, w, r, dx, 3)
		if s.identityCols() {
			cols = x
		}
		Conv2dBackwardFilter(s, cols, r, dw, db, 2)
		x64, w64, b64, r64 := f64(x), f64(w), f64(b), f64(r)
		fdCheck(t, name+" dx", x64, dx, func(v []float64) []float64 { return conv64(s, v, w64, b64) }, r64, rng, 12)
		fdCheck(t, name+" dw", w64, dw, func(v []float64) []float64 { return conv64(s, x64, v, b64) }, r64, rng, 12)
		fdCheck(t, name+" db", b64, db, func(v []float64) []float64 { return conv64(s, x64, w64, v) }, r64, rng, 12)

		// Bit-identical whatever the workers.
		dw1 := make([]float32, len(dw))
		Conv2dBackwardFilter(s, cols, r, dw1, nil, 1)
		for i := range dw {
			if dw[i] != dw1[i] {
				t.Fatalf("%s: dw[%d] differs between 1 and 2 workers", name, i)
			}
		}
	}
}

func TestConvPerSampleSqNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, s := range convCases {
		k, kc, p := s.K, s.ColRows(), s.OutH()*s.OutW()
		delta := randSlice(rng, s.N*k*p)
		cols := randSlice(rng, s.N*kc*p)
		dst, dstB := make([]float64, s.N), make([]float64, s.N)
		ConvPerSampleSqNorm(s.N, k, kc, p, delta, cols, dst, dstB, 2)
		for i := 0; i < s.N; i++ {
			var want, wantB float64
			for o := 0; o < k; o++ {
				var sb float64
				for q := 0; q < p; q++ {
					sb += float64(delta[(i*k+o)*p+q])
				}
				wantB += sb * sb
				for j := 0; j < kc; j++ {
					var g float64
					for q := 0; q < p; q++ {
						g += float64(delta[(i*k+o)*p+q]) * float64(cols[(i*kc+j)*p+q])
					}
					want += g * g
				}
			}
			if d := dst[i] - want; d*d > 1e-10*want*want {
				t.Fatalf("%+v sample %d: ‖δUᵀ‖² = %v, want %v", s, i, dst[i], want)
			}
			if d := dstB[i] - wantB; d*d > 1e-10*wantB*wantB {
				t.Fatalf("%+v sample %d: bias norm %v, want %v", s, i, dstB[i], wantB)
			}
		}
	}
}
