package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	gonum "gonum.org/v1/gonum/blas/gonum"
)

// benchShapes are the products of LeNet-5 and ResNet-20 (batch folded into N)
// plus a square reference.
var benchShapes = []struct {
	name    string
	m, n, k int
	tB      bool
	batch   int // > 0: also run as SgemmBatched with n/batch columns per group
}{
	{"lenet-conv1-b64", 6, 784 * 64, 25, false, 64},
	{"lenet-conv2-b64", 16, 100 * 64, 150, false, 64},
	{"lenet-fc1-b64", 64, 120, 400, true, 0},
	{"lenet-fc1-b256", 256, 120, 400, true, 0},
	{"resnet-s1-b32", 16, 1024 * 32, 144, false, 32},
	{"resnet-s2-b32", 32, 256 * 32, 288, false, 32},
	{"resnet-s3-b32", 64, 64 * 32, 576, false, 32},
	{"resnet-s1-b128", 16, 1024 * 128, 144, false, 128},
	{"resnet-s3-b256", 64, 64 * 256, 576, false, 256},
	{"square-1024", 1024, 1024, 1024, false, 0},
}

func benchGemm(b *testing.B, m, n, k int, tB bool, f func(a, bb, c []float32, ldb int)) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	ldb := n
	if tB {
		ldb = k
	}
	f(a, bb, c, ldb)
	b.ResetTimer()
	for range b.N {
		f(a, bb, c, ldb)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm compares the micro-kernels and gonum's blas32 on the shapes
// that matter; run with -bench Sgemm -benchtime 20x.
func BenchmarkSgemm(b *testing.B) {
	kernels := []struct {
		name string
		fn   func(int, []float32, []float32, int, []float32, int, bool)
	}{{"go", kernelGo}, {kernelName, kernel}}
	if kernelName == "go" {
		kernels = kernels[:1]
	}
	if simdKernel != nil {
		kernels = append(kernels, struct {
			name string
			fn   func(int, []float32, []float32, int, []float32, int, bool)
		}{"archsimd", simdKernel})
	}
	override := gemmOverride // OpenBLAS (-tags openblas) gets its own rows
	defer func() { gemmOverride = override }()
	for _, s := range benchShapes {
		gemmOverride = override
		tB := blas.NoTrans
		if s.tB {
			tB = blas.Trans
		}
		b.Run(fmt.Sprintf("%s/gonum", s.name), func(b *testing.B) {
			benchGemm(b, s.m, s.n, s.k, s.tB, func(a, bb, c []float32, ldb int) {
				gonum.Implementation{}.Sgemm(blas.NoTrans, tB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 0, c, s.n)
			})
		})
		if override != nil {
			b.Run(fmt.Sprintf("%s/openblas", s.name), func(b *testing.B) {
				benchGemm(b, s.m, s.n, s.k, s.tB, func(a, bb, c []float32, ldb int) {
					Sgemm(false, s.tB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 0, c, s.n)
				})
			})
		}
		gemmOverride = nil
		for _, kn := range kernels {
			for _, w := range []int{1, 2} {
				if kn.name == "go" && (s.name == "square-1024" || w == 2) {
					continue
				}
				b.Run(fmt.Sprintf("%s/%s-w%d", s.name, kn.name, w), func(b *testing.B) {
					old := kernel
					kernel = kn.fn
					defer func() { kernel = old }()
					benchGemm(b, s.m, s.n, s.k, s.tB, func(a, bb, c []float32, ldb int) {
						SgemmParallel(w, false, s.tB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 0, c, s.n)
					})
				})
				if s.batch == 0 {
					continue
				}
				b.Run(fmt.Sprintf("%s/%s-batched-w%d", s.name, kn.name, w), func(b *testing.B) {
					old := kernel
					kernel = kn.fn
					defer func() { kernel = old }()
					p := s.n / s.batch
					benchGemm(b, s.m, s.n, s.k, s.tB, func(a, bb, c []float32, _ int) {
						SgemmBatched(w, false, false, s.batch, s.m, p, s.k, 1, a, s.k, bb, p, s.k*p, 0, c, p, s.m*p)
					})
				})
			}
		}
	}
}
