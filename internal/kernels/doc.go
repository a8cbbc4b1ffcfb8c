// Package kernels holds the float32 compute kernels of purview's networks:
// SGEMM, and convolution, pooling, batch-norm, ReLU and linear passes on NCHW
// slices, written into caller-provided buffers (scratch space comes from
// sync.Pools, so steady-state calls make no large allocations).
//
// All of it is ready:
//   - SGEMM (row-major, BLAS semantics): Sgemm, SgemmParallel, SgemmBatched
//     (A shared, batch folded into N: W·cols_n), SgemmSum (batch folded into
//     K: Σ_n δ_n·cols_nᵀ), Backend.
//   - Convolution: ConvShape, Im2col, Col2im, Conv2dForward,
//     Conv2dBackwardData, Conv2dBackwardFilter, ConvPerSampleSqNorm.
//   - PoolShape, MaxPool2dForward/Backward; BatchNorm2dTrain/Eval/Backward;
//     GlobalAvgPoolForward/Backward; ReLUForward/Backward;
//     LinearForward/Backward.
//
// Gorgonia ops wrapping these (Conv2d, MaxPool2d, BatchNorm2d, GlobalAvgPool,
// ReLU, Linear, and Grad, which skips unneeded gradients) are in package
// kernels/gops.
//
// # SGEMM backends
//
// The default amd64 build runs a 6×16 AVX2+FMA micro-kernel written in Go
// assembly (kernel_amd64.s: no cgo, chosen at run time when the CPU has AVX2
// and FMA) under a packed, blocked driver (gemm.go), plus a 3×4 dot-product
// kernel for products whose operands are both contiguous along k (nt.go).
// On other CPUs or architectures, or with -tags purego, the same drivers run
// portable Go kernels. With GOEXPERIMENT=simd an archsimd version of the
// micro-kernel is also built, for comparison only: the compiler spills its 12
// accumulators and it runs 2–3× slower than the assembly. With -tags openblas
// (cgo, Debian's libopenblas-dev) plain Sgemm/SgemmParallel calls go to
// OpenBLAS; the grouped products and the layers keep the Go kernels.
//
// Measured on the project's 2-core AMD EPYC (AVX2, no AVX-512), GFLOP/s, all
// columns in one run (BenchmarkSgemm; the machine was shared, ±30 %):
//
//	shape m×n×k                  gonum  go-kernel  asm 1 thr  asm 2 thr  OpenBLAS 2 thr
//	LeNet conv1 6×50176×25         4.4      2.4       34         29          11
//	LeNet conv2 16×6400×150        5.3      3.0       33         31          39
//	LeNet fc1 64×120×400 (Bᵀ)     13.6      2.9       38         33          43
//	ResNet 16×32768×144            8.2      2.5       27         26          48
//	ResNet 32×8192×288             7.3      2.8       33         34          52
//	ResNet 64×2048×576             6.6      2.6       65         56          65
//	ResNet 64×16384×576           13.0      2.9       46        102         112
//	1024³                         15.9        –       64        111         153
//
// Every element of C is computed by the same instruction sequence whatever
// the number of workers, so all results are bit-identical across worker
// counts (the project's determinism rule); so are the layers built on them.
package kernels
