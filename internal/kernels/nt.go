package kernels

import "fmt"

// Block of the dot-product kernel: ntM rows of A by ntN rows of B.
const (
	ntM = 3
	ntN = 4
	// ntKChunk bounds the stretch of k one pass covers, so that the 7 rows a
	// block reads (7·2 KiB) stay in L1 across the blocks of a row panel.
	ntKChunk = 512
)

// dotKernel sets out[ntN·i+j] = Σ_{t<k} a[i·lda+t]·b[j·ldb+t] (i < ntM,
// j < ntN) for k a multiple of 8, summing in 8 interleaved lanes.
var dotKernel = dotGo

func dotGo(k int, a []float32, lda int, b []float32, ldb int, out *[ntM * ntN]float32) {
	for i := 0; i < ntM; i++ {
		for j := 0; j < ntN; j++ {
			ar, br := a[i*lda:i*lda+k], b[j*ldb:j*ldb+k]
			var lane [8]float32
			for t := 0; t < k; t += 8 {
				for l := 0; l < 8; l++ {
					lane[l] += ar[t+l] * br[t+l]
				}
			}
			// The assembly's reduction order: halves, then pairs, then pairs.
			var h [4]float32
			for l := 0; l < 4; l++ {
				h[l] = lane[l] + lane[l+4]
			}
			out[ntN*i+j] = (h[0] + h[1]) + (h[2] + h[3])
		}
	}
}

// sumNT computes C = Σ_{g<batch} A_g·B_gᵀ (C overwritten), with A_g = a[g·sa:]
// (m×k, row stride lda) and B_g = b[g·sb:] (n×k, row stride ldb): both
// operands are read along their contiguous k axis, so nothing is packed. It
// is the shape of a convolution's weight gradient Σ_g δ_g·cols_gᵀ and of one
// sample's δ·colsᵀ. Columns of C are split across workers in fixed blocks of
// ntN; every element's sum has the same order whatever the workers.
func sumNT(workers, batch, m, n, k int, a []float32, lda, sa int, b []float32, ldb, sb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 || batch < 0 || lda < k || ldb < k || ldc < n {
		panic(fmt.Sprintf("kernels: sumNT: bad sizes m=%d n=%d k=%d batch=%d lda=%d ldb=%d ldc=%d", m, n, k, batch, lda, ldb, ldc))
	}
	if m == 0 || n == 0 {
		return
	}
	if workers <= 0 {
		workers = gomaxprocs()
	}
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(batch)
	units := (n + ntN - 1) / ntN
	workers = min(workers, units, max(1, int(flops/minParFlops)))
	parallel(workers, units, func(lo, hi int) {
		j0, j1 := lo*ntN, min(n, hi*ntN)
		for i := 0; i < m; i++ {
			clear(c[i*ldc+j0 : i*ldc+j1])
		}
		var out [ntM * ntN]float32
		for g := 0; g < batch; g++ {
			ag, bg := a[g*sa:], b[g*sb:]
			for k0 := 0; k0 < k; k0 += ntKChunk {
				kc := min(ntKChunk, k-k0)
				k8 := kc &^ 7
				// j outer: the ntN rows of B (the long patch rows) stay in L1
				// while every block of A rows passes over them.
				for j := j0; j < j1; j += ntN {
					for i := 0; i < m; i += ntM {
						if i+ntM <= m && j+ntN <= j1 && k8 > 0 {
							dotKernel(k8, ag[i*lda+k0:], lda, bg[j*ldb+k0:], ldb, &out)
						} else {
							out = [ntM * ntN]float32{}
						}
						for ii := 0; ii < ntM && i+ii < m; ii++ {
							for jj := 0; jj < ntN && j+jj < j1; jj++ {
								ar, br := ag[(i+ii)*lda+k0:], bg[(j+jj)*ldb+k0:]
								s := out[ntN*ii+jj]
								from := k8
								if i+ntM > m || j+ntN > j1 {
									from = 0 // edge block: the whole chunk here
								}
								for t := from; t < kc; t++ {
									s += ar[t] * br[t]
								}
								c[(i+ii)*ldc+j+jj] += s
							}
						}
					}
				}
			}
		}
	})
}
