//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// kern6x16AVX2 is kernel in AVX2/FMA assembly (kernel_amd64.s).
//
//go:noescape
func kern6x16AVX2(kc int, a, b *float32, ldb int, c *float32, ldc int, acc bool)

func kernelAVX2(kc int, a, b []float32, ldb int, c []float32, ldc int, acc bool) {
	// The assembly trusts these bounds; the checks cost nothing next to a tile.
	_ = a[kc*mr-1]
	_ = b[(kc-1)*ldb+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kern6x16AVX2(kc, &a[0], &b[0], ldb, &c[0], ldc, acc)
}

// dot3x4AVX2 is dotKernel in AVX2/FMA assembly (kernel_amd64.s).
//
//go:noescape
func dot3x4AVX2(k int, a *float32, lda int, b *float32, ldb int, out *[ntM * ntN]float32)

func dotAVX2(k int, a []float32, lda int, b []float32, ldb int, out *[ntM * ntN]float32) {
	_ = a[(ntM-1)*lda+k-1]
	_ = b[(ntN-1)*ldb+k-1]
	dot3x4AVX2(k, &a[0], lda, &b[0], ldb, out)
}

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernel, kernelName = kernelAVX2, "avx2-asm"
		dotKernel = dotAVX2
	}
}
