package kernels

import (
	"fmt"
	"sync"
)

// ConvShape describes a 2-D convolution of an N×C×H×W input (NCHW) with K
// filters of C×KH×KW (PyTorch layout [K,C,KH,KW]), zero padding and stride:
//
//	y[n,k,oy,ox] = b[k] + Σ_{c,ky,kx} w[k,c,ky,kx]·x[n,c, oy·SH+ky−PH, ox·SW+kx−PW]
//
// with OH = (H+2·PH−KH)/SH + 1 and OW likewise.
type ConvShape struct {
	N, C, H, W int
	K          int // output channels
	KH, KW     int
	SH, SW     int // strides
	PH, PW     int // zero padding
}

// OutH is the output height (H+2·PH−KH)/SH + 1.
func (s ConvShape) OutH() int { return (s.H+2*s.PH-s.KH)/s.SH + 1 }

// OutW is the output width (W+2·PW−KW)/SW + 1.
func (s ConvShape) OutW() int { return (s.W+2*s.PW-s.KW)/s.SW + 1 }

// ColRows is the number of rows of one image's patch matrix, C·KH·KW.
func (s ConvShape) ColRows() int { return s.C * s.KH * s.KW }

// ColSize is the size of one image's patch matrix, C·KH·KW × OH·OW.
func (s ConvShape) ColSize() int { return s.ColRows() * s.OutH() * s.OutW() }

// InSize, OutSize and WeightSize are the lengths of x, y and w.
func (s ConvShape) InSize() int     { return s.N * s.C * s.H * s.W }
func (s ConvShape) OutSize() int    { return s.N * s.K * s.OutH() * s.OutW() }
func (s ConvShape) WeightSize() int { return s.K * s.ColRows() }

// identityCols reports whether the patch matrix of an image is the image
// itself (1×1 kernel, stride 1, no padding), so im2col can be skipped.
func (s ConvShape) identityCols() bool {
	return s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PH == 0 && s.PW == 0
}

func (s ConvShape) validate(op string) {
	if s.N < 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.K <= 0 || s.KH <= 0 || s.KW <= 0 ||
		s.SH <= 0 || s.SW <= 0 || s.PH < 0 || s.PW < 0 || s.OutH() <= 0 || s.OutW() <= 0 {
		panic(fmt.Sprintf("kernels: %s: invalid convolution %+v", op, s))
	}
}

func checkLen(op, name string, got, want int) {
	if got < want {
		panic(fmt.Sprintf("kernels: %s: len(%s) = %d, want ≥ %d", op, name, got, want))
	}
}

// Im2col writes the patch matrix of one C×H×W image: row (c,ky,kx), column
// (oy,ox) holds img[c, oy·SH+ky−PH, ox·SW+kx−PW], or 0 in the padding. cols
// has ColSize() values; s.N is ignored.
func Im2col(s ConvShape, img, cols []float32) {
	_ = img[s.C*s.H*s.W-1]
	_ = cols[s.ColSize()-1]
	im2colRows(s, img, cols, 0, s.OutH())
}

// im2colRows writes the patch matrix of output rows [r0,r1) only: a
// C·KH·KW × (r1−r0)·OW matrix (Im2col's columns r0·OW … r1·OW−1).
func im2colRows(s ConvShape, img, cols []float32, r0, r1 int) {
	ow := s.OutW()
	p := (r1 - r0) * ow
	if s.SH == 1 && s.SW == 1 && ow == s.W {
		im2colSame(s, img, cols, r0, r1)
		return
	}
	for c := 0; c < s.C; c++ {
		plane := img[c*s.H*s.W : (c+1)*s.H*s.W]
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				row := cols[((c*s.KH+ky)*s.KW+kx)*p:][:p]
				// Output columns whose input column is inside the image.
				lo, hi := validRange(kx-s.PW, s.SW, s.W, ow)
				for oy := r0; oy < r1; oy++ {
					dst := row[(oy-r0)*ow : (oy-r0)*ow+ow]
					iy := oy*s.SH + ky - s.PH
					if iy < 0 || iy >= s.H || lo >= hi {
						clear(dst)
						continue
					}
					src := plane[iy*s.W : iy*s.W+s.W]
					clear(dst[:lo])
					if s.SW == 1 {
						copy(dst[lo:hi], src[lo+kx-s.PW:])
					} else {
						for ox := lo; ox < hi; ox++ {
							dst[ox] = src[ox*s.SW+kx-s.PW]
						}
					}
					clear(dst[hi:])
				}
			}
		}
	}
}

// im2colSame is im2colRows for stride 1 and "same" width (OW = W, e.g. 3×3
// pad 1, 5×5 pad 2): a patch row is then the image shifted by (ky−PH)·W +
// kx−PW, so it is one block copy plus zeroing of the columns that wrapped.
func im2colSame(s ConvShape, img, cols []float32, r0, r1 int) {
	ow := s.OutW()
	p := (r1 - r0) * ow
	for c := 0; c < s.C; c++ {
		plane := img[c*s.H*s.W : (c+1)*s.H*s.W]
		for ky := 0; ky < s.KH; ky++ {
			dy := ky - s.PH
			oy0, oy1 := max(r0, -dy), min(r1, s.H-dy) // rows reading inside the image
			for kx := 0; kx < s.KW; kx++ {
				d := kx - s.PW
				row := cols[((c*s.KH+ky)*s.KW+kx)*p:][:p]
				if oy0 >= oy1 {
					clear(row)
					continue
				}
				clear(row[:(oy0-r0)*ow])
				clear(row[(oy1-r0)*ow:])
				a, b := (oy0-r0)*ow+max(0, -d), (oy1-r0)*ow-max(0, d)
				src := (oy0+dy)*s.W + d + (a - (oy0-r0)*ow)
				copy(row[a:b], plane[src:src+b-a])
				for oy := oy0 - r0; oy < oy1-r0; oy++ {
					r := row[oy*ow : oy*ow+ow]
					for ox := ow - d; ox < ow; ox++ { // d > 0: past the right edge
						r[ox] = 0
					}
					for ox := 0; ox < -d; ox++ { // d < 0: before the left edge
						r[ox] = 0
					}
				}
			}
		}
	}
}

// validRange returns the output positions [lo,hi) with 0 ≤ o·stride+off < n.
func validRange(off, stride, n, out int) (lo, hi int) {
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = 0
	if n-off > 0 {
		hi = (n - off + stride - 1) / stride // first o with o·stride+off ≥ n
	}
	lo, hi = min(lo, out), min(hi, out)
	return lo, max(lo, hi)
}

// Col2im is the adjoint of Im2col: it sets img (C×H×W) to the sum of every
// patch-matrix entry into the pixel it was read from (padding entries are
// dropped).
func Col2im(s ConvShape, cols, img []float32) {
	oh, ow := s.OutH(), s.OutW()
	p := oh * ow
	img = img[:s.C*s.H*s.W]
	_ = cols[s.ColSize()-1]
	clear(img)
	for c := 0; c < s.C; c++ {
		plane := img[c*s.H*s.W : (c+1)*s.H*s.W]
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				row := cols[((c*s.KH+ky)*s.KW+kx)*p:][:p]
				lo, hi := validRange(kx-s.PW, s.SW, s.W, ow)
				if lo >= hi {
					continue
				}
				for oy := 0; oy < oh; oy++ {
					iy := oy*s.SH + ky - s.PH
					if iy < 0 || iy >= s.H {
						continue
					}
					src := row[oy*ow+lo : oy*ow+hi]
					dst := plane[iy*s.W : iy*s.W+s.W]
					if s.SW == 1 {
						dst = dst[lo+kx-s.PW:]
						dst = dst[:len(src)]
						for i, v := range src {
							dst[i] += v
						}
					} else {
						for i, v := range src {
							dst[(lo+i)*s.SW+kx-s.PW] += v
						}
					}
				}
			}
		}
	}
}

// colScratch holds one worker's patch matrix when the caller keeps none.
var colScratch sync.Pool

func getCols(n int) *[]float32 {
	if p, ok := colScratch.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// sampleWorkers runs fn(i) for i < n on up to workers goroutines (≤ 0:
// GOMAXPROCS), in contiguous ranges; fn must only touch sample i's data.
func sampleWorkers(workers, n int, fn func(lo, hi int)) {
	if workers <= 0 {
		workers = gomaxprocs()
	}
	parallel(min(workers, n), n, fn)
}

// Conv2dForward computes y = conv(x, w) + b (see ConvShape) for the batch,
// writing y (N×K×OH×OW) directly from per-image products W·cols_n. bias may
// be nil. If cols is non-nil (len ≥ N·ColSize()) it receives every image's
// patch matrix, for Conv2dBackwardFilter and per-sample norms; with nil cols
// a per-worker scratch is used. Samples are split across workers (≤ 0:
// GOMAXPROCS); results do not depend on workers.
func Conv2dForward(s ConvShape, x, w, bias, y, cols []float32, workers int) {
	s.validate("Conv2dForward")
	checkLen("Conv2dForward", "x", len(x), s.InSize())
	checkLen("Conv2dForward", "w", len(w), s.WeightSize())
	checkLen("Conv2dForward", "y", len(y), s.OutSize())
	if bias != nil {
		checkLen("Conv2dForward", "bias", len(bias), s.K)
	}
	if cols != nil && !s.identityCols() {
		checkLen("Conv2dForward", "cols", len(cols), s.N*s.ColSize())
	}
	p, kc, in, out := s.OutH()*s.OutW(), s.ColRows(), s.C*s.H*s.W, s.K*s.OutH()*s.OutW()
	if s.N == 0 {
		return
	}
	pa := prepackA(false, s.K, kc, 1, w, kc) // shared by every image
	defer pa.release()
	if cols == nil && !s.identityCols() {
		conv2dForwardBlocked(s, x, pa, bias, y, workers)
		return
	}
	sampleWorkers(workers, s.N, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ci := x[i*in : (i+1)*in]
			if !s.identityCols() {
				ci = cols[i*s.ColSize() : (i+1)*s.ColSize()]
				Im2col(s, x[i*in:(i+1)*in], ci)
			}
			yi := y[i*out : (i+1)*out]
			beta := setBias(yi, bias, s.K, p)
			pa.gemm(false, p, ci, p, beta, yi, p)
		}
	})
}

// setBias fills y (k rows of p) with the bias and returns the β for the
// product that follows: 1 with a bias, 0 without.
func setBias(y, bias []float32, k, p int) float32 {
	if bias == nil {
		return 0
	}
	for c := 0; c < k; c++ {
		row := y[c*p : (c+1)*p]
		for j := range row {
			row[j] = bias[c]
		}
	}
	return 1
}

// blockedColBytes bounds the patch-matrix block of conv2dForwardBlocked so
// that it stays in L2 between being written and being multiplied (a var for
// tests).
var blockedColBytes = 160 << 10

// conv2dForwardBlocked computes the forward without keeping patch matrices:
// per image, blocks of output rows are unfolded into an L2-sized scratch and
// multiplied at once, instead of streaming a whole image's patch matrix
// (590 KiB for a ResNet-20 stage-1 layer) through memory.
func conv2dForwardBlocked(s ConvShape, x []float32, pa *packedA, bias, y []float32, workers int) {
	oh, ow, kc := s.OutH(), s.OutW(), s.ColRows()
	p, in, out := oh*ow, s.C*s.H*s.W, s.K*oh*ow
	rows := max(1, min(oh, blockedColBytes/(4*kc*ow)))
	sampleWorkers(workers, s.N, func(lo, hi int) {
		scratch := getCols(kc * rows * ow)
		defer colScratch.Put(scratch)
		for i := lo; i < hi; i++ {
			yi := y[i*out : (i+1)*out]
			beta := setBias(yi, bias, s.K, p)
			for r0 := 0; r0 < oh; r0 += rows {
				r1 := min(oh, r0+rows)
				n := (r1 - r0) * ow
				im2colRows(s, x[i*in:(i+1)*in], *scratch, r0, r1)
				pa.gemm(false, n, *scratch, n, beta, yi[r0*ow:], p)
			}
		}
	})
}

// Conv2dBackwardData computes dx = ∂L/∂x from dy = ∂L/∂y; dx is
// overwritten. For stride 1 (PH < KH, PW < KW, and K ≲ 4·C) it is the forward convolution
// of dy, zero-padded by KH−1−PH, with the flipped, transposed filters
// w'[c,k,ky,kx] = w[k,c,KH−1−ky,KW−1−kx] (patch copies instead of Col2im's
// scattered adds); otherwise, per image, dcols = Wᵀ·dy_n, dx_n = Col2im(dcols).
func Conv2dBackwardData(s ConvShape, w, dy, dx []float32, workers int) {
	s.validate("Conv2dBackwardData")
	checkLen("Conv2dBackwardData", "w", len(w), s.WeightSize())
	checkLen("Conv2dBackwardData", "dy", len(dy), s.OutSize())
	checkLen("Conv2dBackwardData", "dx", len(dx), s.InSize())
	p, kc, in, out := s.OutH()*s.OutW(), s.ColRows(), s.C*s.H*s.W, s.K*s.OutH()*s.OutW()
	if s.N == 0 {
		return
	}
	if s.identityCols() {
		pa := prepackA(true, kc, s.K, 1, w, kc)
		defer pa.release()
		sampleWorkers(workers, s.N, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				pa.gemm(false, p, dy[i*out:(i+1)*out], p, 0, dx[i*in:(i+1)*in], p)
			}
		})
		return
	}
	// The flipped form's patch matrix (K·KH·KW × H·W) is made of copies,
	// Col2im's (C·KH·KW × OH·OW) of scattered adds, measured ~4× slower per
	// value: pick the cheaper (ResNet's 3×3/pad-1 flips, LeNet's conv2 not).
	flipCost, scatterCost := s.K*s.H*s.W, 4*s.C*s.OutH()*s.OutW()
	if s.SH == 1 && s.SW == 1 && s.PH < s.KH && s.PW < s.KW && flipCost <= scatterCost {
		t := ConvShape{N: s.N, C: s.K, H: s.OutH(), W: s.OutW(), K: s.C, KH: s.KH, KW: s.KW,
			SH: 1, SW: 1, PH: s.KH - 1 - s.PH, PW: s.KW - 1 - s.PW}
		wf := getCols(s.WeightSize())
		defer colScratch.Put(wf)
		flipFilters(s, w, *wf)
		Conv2dForward(t, dy, *wf, nil, dx, nil, workers)
		return
	}
	pa := prepackA(true, kc, s.K, 1, w, kc)
	defer pa.release()
	sampleWorkers(workers, s.N, func(lo, hi int) {
		scratch := getCols(s.ColSize())
		defer colScratch.Put(scratch)
		for i := lo; i < hi; i++ {
			pa.gemm(false, p, dy[i*out:(i+1)*out], p, 0, *scratch, p)
			Col2im(s, *scratch, dx[i*in:(i+1)*in])
		}
	})
}

// flipFilters writes w'[c,k,ky,kx] = w[k,c,KH−1−ky,KW−1−kx].
func flipFilters(s ConvShape, w, wf []float32) {
	for k := 0; k < s.K; k++ {
		for c := 0; c < s.C; c++ {
			for ky := 0; ky < s.KH; ky++ {
				for kx := 0; kx < s.KW; kx++ {
					wf[((c*s.K+k)*s.KH+ky)*s.KW+kx] = w[((k*s.C+c)*s.KH+s.KH-1-ky)*s.KW+s.KW-1-kx]
				}
			}
		}
	}
}

// Conv2dBackwardFilter computes dw = Σ_n dy_n·cols_nᵀ (K × C·KH·KW) and, if
// dbias is non-nil, dbias[k] = Σ_{n,p} dy[n,k,p], from the patch matrices
// that Conv2dForward stored (for a 1×1/stride-1/no-pad convolution pass x as
// cols). dw and dbias are overwritten; the batch sum runs in sample order
// inside every element, so results do not depend on workers.
func Conv2dBackwardFilter(s ConvShape, cols, dy, dw, dbias []float32, workers int) {
	s.validate("Conv2dBackwardFilter")
	checkLen("Conv2dBackwardFilter", "cols", len(cols), s.N*s.ColSize())
	checkLen("Conv2dBackwardFilter", "dy", len(dy), s.OutSize())
	checkLen("Conv2dBackwardFilter", "dw", len(dw), s.WeightSize())
	p, kc, out := s.OutH()*s.OutW(), s.ColRows(), s.K*s.OutH()*s.OutW()
	if s.N == 0 {
		clear(dw[:s.WeightSize()])
	} else {
		productNT(workers, s.N, s.K, kc, p, dy, p, out, cols, p, s.ColSize(), dw, kc)
	}
	if dbias != nil {
		checkLen("Conv2dBackwardFilter", "dbias", len(dbias), s.K)
		for k := 0; k < s.K; k++ {
			var acc float64
			for i := 0; i < s.N; i++ {
				acc += sum32(dy[i*out+k*p : i*out+(k+1)*p])
			}
			dbias[k] = float32(acc)
		}
	}
}

// productNT sets C = Σ_g A_g·B_gᵀ with both operands read along k: by dot
// products (sumNT) when A has few rows, so that packing B would not pay off
// (LeNet's conv1: 6 filters, measured 3× faster; ResNet's 16-filter layers on
// 32×32 images), else by the packed kernel.
func productNT(workers, batch, m, n, k int, a []float32, lda, sa int, b []float32, ldb, sb int, c []float32, ldc int) {
	if m <= mr || (m <= 16 && k >= 512) {
		sumNT(workers, batch, m, n, k, a, lda, sa, b, ldb, sb, c, ldc)
		return
	}
	SgemmSum(workers, false, true, batch, m, n, k, 1, a, lda, sa, b, ldb, sb, 0, c, ldc)
}

// sum32 sums v in float64 with four partial sums.
func sum32(v []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += float64(v[i])
		s1 += float64(v[i+1])
		s2 += float64(v[i+2])
		s3 += float64(v[i+3])
	}
	for ; i < len(v); i++ {
		s0 += float64(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}
