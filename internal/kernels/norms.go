package kernels

import "fmt"

// ConvPerSampleSqNorm computes, for every sample i of a convolution, the
// squared Frobenius norm of that sample's weight gradient
//
//	dst[i] = ‖δ_i·U_iᵀ‖²_F,   δ_i = delta[i·k·p:] (k×p),  U_i = cols[i·kc·p:] (kc×p),
//
// with δ_i the gradient of the sample's loss w.r.t. the layer's output (k
// channels × p pixels) and U_i its patch matrix (kc = C·KH·KW rows, as
// Conv2dForward stores them). If dstBias is non-nil it also gets the bias
// gradient's norm dstBias[i] = Σ_c (Σ_p δ_icp)².
//
// Two forms are exact and the cheaper one is used: the direct product
// (2·k·kc·p flops) or the Gram form Σ_{a,b} (δ_iᵀδ_i)_{ab}·(U_iᵀU_i)_{ab}
// (≈ p²·(k+kc) flops; wins for small images with many channels). Products
// run in float32, squares and sums in float64 (relative error ~1e-6).
// Samples are split across workers; results do not depend on workers.
func ConvPerSampleSqNorm(n, k, kc, p int, delta, cols []float32, dst, dstBias []float64, workers int) {
	if n < 0 || k <= 0 || kc <= 0 || p <= 0 {
		panic(fmt.Sprintf("kernels: ConvPerSampleSqNorm: bad sizes n=%d k=%d kc=%d p=%d", n, k, kc, p))
	}
	checkLen("ConvPerSampleSqNorm", "delta", len(delta), n*k*p)
	checkLen("ConvPerSampleSqNorm", "cols", len(cols), n*kc*p)
	checkLen("ConvPerSampleSqNorm", "dst", len(dst), n)
	if dstBias != nil {
		checkLen("ConvPerSampleSqNorm", "dstBias", len(dstBias), n)
	}
	gram := float64(p)*float64(p)*float64(k+kc) < 2*float64(k)*float64(kc)*float64(p)
	sampleWorkers(workers, n, func(lo, hi int) {
		size := k * kc
		if gram {
			size = 2 * p * p
		}
		buf := getCols(size)
		defer colScratch.Put(buf)
		for i := lo; i < hi; i++ {
			d, u := delta[i*k*p:(i+1)*k*p], cols[i*kc*p:(i+1)*kc*p]
			if gram {
				dd, uu := (*buf)[:p*p], (*buf)[p*p:2*p*p]
				Sgemm(true, false, p, p, k, 1, d, p, d, p, 0, dd, p)
				Sgemm(true, false, p, p, kc, 1, u, p, u, p, 0, uu, p)
				dst[i] = dot64(dd, uu)
			} else {
				g := (*buf)[:k*kc]
				productNT(1, 1, k, kc, p, d, p, 0, u, p, 0, g, kc)
				dst[i] = dot64(g, g)
			}
			if dstBias != nil {
				var rb float64
				for c := 0; c < k; c++ {
					s := sum32(d[c*p : (c+1)*p])
					rb += s * s
				}
				dstBias[i] = rb
			}
		}
	})
}

// dot64 is Σ a_i·b_i accumulated in float64 with four partial sums.
func dot64(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += float64(a[i]) * float64(b[i])
		s1 += float64(a[i+1]) * float64(b[i+1])
		s2 += float64(a[i+2]) * float64(b[i+2])
		s3 += float64(a[i+3]) * float64(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += float64(a[i]) * float64(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}
