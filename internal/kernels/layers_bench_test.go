package kernels

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkLayers times the non-GEMM passes at LeNet/ResNet-20 sizes.
func BenchmarkLayers(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	conv1 := ConvShape{N: 64, C: 1, H: 28, W: 28, K: 6, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2}
	res := ConvShape{N: 32, C: 16, H: 32, W: 32, K: 16, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	for _, s := range []struct {
		name string
		s    ConvShape
	}{{"lenet-conv1-b64", conv1}, {"resnet-s1-b32", res}} {
		x := randSlice(rng, s.s.InSize())
		cols := make([]float32, s.s.ColSize()*s.s.N)
		b.Run("im2col/"+s.name, func(b *testing.B) {
			for range b.N {
				for i := 0; i < s.s.N; i++ {
					Im2col(s.s, x[i*s.s.C*s.s.H*s.s.W:], cols[i*s.s.ColSize():])
				}
			}
		})
		b.Run("col2im/"+s.name, func(b *testing.B) {
			for range b.N {
				for i := 0; i < s.s.N; i++ {
					Col2im(s.s, cols[i*s.s.ColSize():], x[i*s.s.C*s.s.H*s.s.W:])
				}
			}
		})
	}
	ps := PoolShape{N: 64, C: 6, H: 28, W: 28, KH: 2, KW: 2, SH: 2, SW: 2}
	x := randSlice(rng, ps.InSize())
	y, idx := make([]float32, ps.OutSize()), make([]int32, ps.OutSize())
	b.Run("maxpool/lenet-b64", func(b *testing.B) {
		for range b.N {
			MaxPool2dForward(ps, x, y, idx)
		}
	})
	b.Run("relu/lenet-b64", func(b *testing.B) {
		for range b.N {
			ReLUForward(x, x)
		}
	})
}

// BenchmarkConvPerSampleSqNorm times per-sample weight-gradient norms for a
// batch of 64 at LeNet and ResNet-20 layer shapes.
func BenchmarkConvPerSampleSqNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name     string
		k, kc, p int
	}{{"lenet-conv1", 6, 25, 784}, {"lenet-conv2", 16, 150, 100}, {"resnet-s1", 16, 144, 1024}, {"resnet-s3", 64, 576, 64}} {
		const n = 64
		delta, cols := randSlice(rng, n*c.k*c.p), randSlice(rng, n*c.kc*c.p)
		dst := make([]float64, n)
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				ConvPerSampleSqNorm(n, c.k, c.kc, c.p, delta, cols, dst, nil, 0)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
