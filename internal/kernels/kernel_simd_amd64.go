//go:build goexperiment.simd && amd64

package kernels

import "simd/archsimd"

// kernelSIMD is the micro-kernel written with Go 1.26's experimental
// simd/archsimd (AVX2 + FMA, 8-wide): the same 6×16 register tile and
// instruction order as kernel_amd64.s, for comparison (GOEXPERIMENT=simd).
func kernelSIMD(kc int, a, b []float32, ldb int, c []float32, ldc int, acc bool) {
	var c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51 archsimd.Float32x8
	a = a[:kc*mr]
	_ = b[(kc-1)*ldb+nr-1]
	for k := 0; k < kc; k++ {
		ak := a[k*mr : k*mr+mr : k*mr+mr]
		bk := b[k*ldb : k*ldb+nr : k*ldb+nr]
		b0 := archsimd.LoadFloat32x8Slice(bk[0:8])
		b1 := archsimd.LoadFloat32x8Slice(bk[8:16])
		a0 := archsimd.BroadcastFloat32x8(ak[0])
		c00 = a0.MulAdd(b0, c00)
		c01 = a0.MulAdd(b1, c01)
		a1 := archsimd.BroadcastFloat32x8(ak[1])
		c10 = a1.MulAdd(b0, c10)
		c11 = a1.MulAdd(b1, c11)
		a2 := archsimd.BroadcastFloat32x8(ak[2])
		c20 = a2.MulAdd(b0, c20)
		c21 = a2.MulAdd(b1, c21)
		a3 := archsimd.BroadcastFloat32x8(ak[3])
		c30 = a3.MulAdd(b0, c30)
		c31 = a3.MulAdd(b1, c31)
		a4 := archsimd.BroadcastFloat32x8(ak[4])
		c40 = a4.MulAdd(b0, c40)
		c41 = a4.MulAdd(b1, c41)
		a5 := archsimd.BroadcastFloat32x8(ak[5])
		c50 = a5.MulAdd(b0, c50)
		c51 = a5.MulAdd(b1, c51)
	}
	_ = c[(mr-1)*ldc+nr-1]
	storeRow(c[0*ldc:0*ldc+nr], c00, c01, acc)
	storeRow(c[1*ldc:1*ldc+nr], c10, c11, acc)
	storeRow(c[2*ldc:2*ldc+nr], c20, c21, acc)
	storeRow(c[3*ldc:3*ldc+nr], c30, c31, acc)
	storeRow(c[4*ldc:4*ldc+nr], c40, c41, acc)
	storeRow(c[5*ldc:5*ldc+nr], c50, c51, acc)
}

func storeRow(row []float32, lo, hi archsimd.Float32x8, acc bool) {
	if acc {
		lo = lo.Add(archsimd.LoadFloat32x8Slice(row[0:8]))
		hi = hi.Add(archsimd.LoadFloat32x8Slice(row[8:16]))
	}
	lo.StoreSlice(row[0:8])
	hi.StoreSlice(row[8:16])
}

func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		simdKernel = kernelSIMD
	}
}
