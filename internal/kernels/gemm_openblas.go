//go:build openblas && cgo

package kernels

import "github.com/purview-lab/purview/internal/kernels/cblas"

// With -tags openblas, plain products (Sgemm, SgemmParallel) go to OpenBLAS;
// its thread pool ignores the workers argument. Grouped products keep the Go
// kernels.
func init() {
	gemmOverride = func(_ int, g *gemm) bool {
		if g.m == 0 || g.n == 0 || g.k == 0 || g.alpha == 0 {
			return false // the Go path handles the degenerate cases (β = 0 NaN-free)
		}
		cblas.Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc)
		return true
	}

}
