package models

import "github.com/purview-lab/purview/internal/kernels"

// sgemm computes C = α·op(A)·op(B) + β·C with row-major matrices and BLAS
// semantics (op(A) m×k, op(B) k×n, lda/ldb/ldc row strides), using up to
// threads goroutines. Every element of C comes out the same whatever threads
// is (kernels' guarantee), so results never depend on the worker count.
func sgemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernels.SgemmParallel(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
