package kernels

// kernel computes the mr×nr tile
//
//	C[i][j] (+)= Σ_k a[k*mr+i]·b[k*ldb+j],   i < mr, j < nr, k < kc,
//
// adding into C (row stride ldc) when acc, storing otherwise. Each element's
// sum runs over k in order from zero, then is added to C once.
var kernel = kernelGo

// kernelName names the micro-kernel in use, for benchmarks and logs.
var kernelName = "go"

// kernelGo is the portable micro-kernel: one row of C at a time, 16
// accumulators the compiler keeps in registers.
func kernelGo(kc int, a, b []float32, ldb int, c []float32, ldc int, acc bool) {
	a = a[:kc*mr]
	for i := 0; i < mr; i++ {
		var s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15 float32
		for k := 0; k < kc; k++ {
			av := a[k*mr+i]
			r := b[k*ldb : k*ldb+nr : k*ldb+nr]
			s0 += av * r[0]
			s1 += av * r[1]
			s2 += av * r[2]
			s3 += av * r[3]
			s4 += av * r[4]
			s5 += av * r[5]
			s6 += av * r[6]
			s7 += av * r[7]
			s8 += av * r[8]
			s9 += av * r[9]
			s10 += av * r[10]
			s11 += av * r[11]
			s12 += av * r[12]
			s13 += av * r[13]
			s14 += av * r[14]
			s15 += av * r[15]
		}
		row := c[i*ldc : i*ldc+nr : i*ldc+nr]
		if !acc {
			row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = s0, s1, s2, s3, s4, s5, s6, s7
			row[8], row[9], row[10], row[11], row[12], row[13], row[14], row[15] = s8, s9, s10, s11, s12, s13, s14, s15
			continue
		}
		row[0] += s0
		row[1] += s1
		row[2] += s2
		row[3] += s3
		row[4] += s4
		row[5] += s5
		row[6] += s6
		row[7] += s7
		row[8] += s8
		row[9] += s9
		row[10] += s10
		row[11] += s11
		row[12] += s12
		row[13] += s13
		row[14] += s14
		row[15] += s15
	}
}

// simdKernel is the archsimd micro-kernel when built with GOEXPERIMENT=simd on
// a CPU with AVX2 and FMA; it is measured, not selected (see BenchmarkSgemm).
var simdKernel func(kc int, a, b []float32, ldb int, c []float32, ldc int, acc bool)
