package kernels

import (
	"fmt"
	"runtime"
	"sync"
)

// Register tile of every micro-kernel: mr rows of C by nr columns. The packed
// A panel holds kc×mr values (k-major), a B panel kc rows of nr values.
const (
	mr = 6
	nr = 16
	// ncTiles is the number of nr-wide B panels packed together (a column
	// block of 128): long contiguous row reads, and 128 KiB of packed B in L2.
	ncTiles = 8
	// kcMax bounds a k-block so that one B panel (kcMax×nr float32 = 16 KiB)
	// stays in L1 while the A panels stream from L2.
	kcMax = 256
	// minParFlops is the work below which splitting across goroutines costs
	// more than it saves (a goroutine hand-off is a few microseconds).
	minParFlops = 1 << 21
)

// gemm is one (possibly grouped) product. With nb groups along N the groups
// share A: C_g = α·op(A)·op(B_g) + β·C_g. With kb groups along K they share C:
// C = α·Σ_g op(A_g)·op(B_g) + β·C. Group g of X starts at x[g*sx:].
type gemm struct {
	transA, transB bool
	m, n, k        int // per group
	alpha, beta    float32
	a              []float32
	lda, sa        int
	b              []float32
	ldb, sb        int
	c              []float32
	ldc, sc        int
	nb, kb         int
	apre           []float32 // A already packed by prepackA (N-grouped products only)
}

// Sgemm computes, single-threaded, with row-major matrices and BLAS semantics,
//
//	C = α·op(A)·op(B) + β·C,   op(X) = X or Xᵀ,
//
// where op(A) is m×k, op(B) is k×n and C is m×n; lda, ldb, ldc are row strides
// (A is stored m×k, or k×m when transA). β = 0 overwrites C (NaNs in C do not
// propagate). It panics on negative sizes, short strides or short slices.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmParallel(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmParallel is Sgemm split across up to workers goroutines (workers ≤ 0
// means GOMAXPROCS). Work is split along whichever of m and n has more
// register tiles; every element of C is computed by the same instruction
// sequence whatever the split, so results are bit-identical for any workers.
func SgemmParallel(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, nb: 1, kb: 1}
	g.check("Sgemm")
	if gemmOverride != nil && gemmOverride(workers, &g) {
		return
	}
	g.run(workers)
}

// SgemmBatched computes, for g < batch, with A shared by all groups,
//
//	C_g = α·op(A)·op(B_g) + β·C_g,   B_g = b[g*strideB:], C_g = c[g*strideC:],
//
// as one product whose N dimension is batch·n wide, so thin per-sample products
// (a convolution's W·cols_g, n = output pixels) still run on full-width tiles
// and split across workers (≤ 0: GOMAXPROCS). Results do not depend on workers.
func SgemmBatched(workers int, transA, transB bool, batch, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, sb: strideB, c: c, ldc: ldc, sc: strideC, nb: batch, kb: 1}
	g.check("SgemmBatched")
	g.run(workers)
}

// SgemmSum computes a product whose K dimension is folded over batch groups,
//
//	C = α·Σ_g op(A_g)·op(B_g) + β·C,   A_g = a[g*strideA:], B_g = b[g*strideB:],
//
// e.g. a convolution's weight gradient Σ_g δ_g·cols_gᵀ. The sum runs over g in
// order within each element, so results do not depend on workers.
func SgemmSum(workers int, transA, transB bool, batch, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc int) {
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, sa: strideA, b: b, ldb: ldb, sb: strideB, c: c, ldc: ldc, nb: 1, kb: batch}
	g.check("SgemmSum")
	g.run(workers)
}

// gemmOverride lets a build-tagged backend (OpenBLAS) take plain products.
var gemmOverride func(workers int, g *gemm) bool

func (g *gemm) check(name string) {
	if g.m < 0 || g.n < 0 || g.k < 0 || g.nb < 0 || g.kb < 0 {
		panic(fmt.Sprintf("kernels: %s: negative size m=%d n=%d k=%d batch=%d", name, g.m, g.n, g.k, max(g.nb, g.kb)))
	}
	ar, ac := g.m, g.k
	if g.transA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.transB {
		br, bc = g.n, g.k
	}
	if g.lda < max(1, ac) || g.ldb < max(1, bc) || g.ldc < max(1, g.n) {
		panic(fmt.Sprintf("kernels: %s: bad stride lda=%d ldb=%d ldc=%d for A %d×%d, B %d×%d, C %d×%d", name, g.lda, g.ldb, g.ldc, ar, ac, br, bc, g.m, g.n))
	}
	need := func(rows, cols, ld, stride, groups int) int {
		if rows == 0 || cols == 0 || groups == 0 {
			return 0
		}
		return (groups-1)*stride + (rows-1)*ld + cols
	}
	if len(g.a) < need(ar, ac, g.lda, g.sa, g.kb) || len(g.b) < need(br, bc, g.ldb, g.sb, g.nb*g.kb) ||
		len(g.c) < need(g.m, g.n, g.ldc, g.sc, g.nb) {
		panic(fmt.Sprintf("kernels: %s: short slice: len(a)=%d len(b)=%d len(c)=%d for m=%d n=%d k=%d", name, len(g.a), len(g.b), len(g.c), g.m, g.n, g.k))
	}
}

// scaleC sets C_g[0:m, j0:j1] = β·C_g (β = 0 stores zeros).
func (g *gemm) scaleC(grp, j0, j1, i0, i1 int) {
	if g.beta == 1 {
		return
	}
	for i := i0; i < i1; i++ {
		row := g.c[grp*g.sc+i*g.ldc+j0 : grp*g.sc+i*g.ldc+j1]
		if g.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= g.beta
		}
	}
}

// packA writes α·op(A_grp)[i0:i0+rows, k0:k0+kc] as ⌈rows/mr⌉ panels of kc×mr,
// zero-padding rows past m.
func (g *gemm) packA(dst []float32, grp, i0, rows, k0, kc int) {
	base := grp * g.sa
	for p := 0; p*mr < rows; p++ {
		pan := dst[p*kc*mr : (p+1)*kc*mr]
		for r := 0; r < mr; r++ {
			i := i0 + p*mr + r
			if p*mr+r >= rows || i >= g.m {
				for kk := 0; kk < kc; kk++ {
					pan[kk*mr+r] = 0
				}
				continue
			}
			if g.transA {
				src := g.a[base+k0*g.lda+i:]
				for kk := 0; kk < kc; kk++ {
					pan[kk*mr+r] = g.alpha * src[kk*g.lda]
				}
			} else {
				src := g.a[base+i*g.lda+k0 : base+i*g.lda+k0+kc]
				for kk, v := range src {
					pan[kk*mr+r] = g.alpha * v
				}
			}
		}
	}
}

// packB writes B_grp[k0:k0+kc, j0:j0+w] into buf as ⌈w/nr⌉ panels of kc×nr,
// zero-padding columns past w. Rows are read as contiguous runs of w values,
// which the hardware prefetcher follows even when ldb is huge.
func (g *gemm) packB(buf []float32, grp, j0, w, k0, kc int) {
	base := grp * g.sb
	full := w / nr
	if g.transB {
		// Gather 16 column streams at once so that every store is a full
		// 64-byte panel row and every stream is read sequentially.
		var src [nr][]float32
		for t := 0; t*nr < w; t++ {
			cw := min(nr, w-t*nr)
			for jj := 0; jj < cw; jj++ {
				off := base + (j0+t*nr+jj)*g.ldb + k0
				src[jj] = g.b[off : off+kc]
			}
			pan := buf[t*kc*nr : (t+1)*kc*nr]
			if cw == nr {
				s0, s1, s2, s3, s4, s5, s6, s7 := src[0], src[1], src[2], src[3], src[4], src[5], src[6], src[7]
				s8, s9, s10, s11, s12, s13, s14, s15 := src[8], src[9], src[10], src[11], src[12], src[13], src[14], src[15]
				for kk := 0; kk < kc; kk++ {
					d := pan[kk*nr : kk*nr+nr : kk*nr+nr]
					d[0], d[1], d[2], d[3] = s0[kk], s1[kk], s2[kk], s3[kk]
					d[4], d[5], d[6], d[7] = s4[kk], s5[kk], s6[kk], s7[kk]
					d[8], d[9], d[10], d[11] = s8[kk], s9[kk], s10[kk], s11[kk]
					d[12], d[13], d[14], d[15] = s12[kk], s13[kk], s14[kk], s15[kk]
				}
				continue
			}
			for kk := 0; kk < kc; kk++ {
				d := pan[kk*nr : kk*nr+nr]
				for jj := 0; jj < cw; jj++ {
					d[jj] = src[jj][kk]
				}
				clear(d[cw:])
			}
		}
		return
	}
	for kk := 0; kk < kc; kk++ {
		src := g.b[base+(k0+kk)*g.ldb+j0 : base+(k0+kk)*g.ldb+j0+w]
		for t := 0; t < full; t++ {
			// Four 16-byte moves: a [16]float32 copy would call memmove.
			d, v := buf[(t*kc+kk)*nr:(t*kc+kk)*nr+nr], src[t*nr:t*nr+nr]
			*(*[4]float32)(d[0:]) = *(*[4]float32)(v[0:])
			*(*[4]float32)(d[4:]) = *(*[4]float32)(v[4:])
			*(*[4]float32)(d[8:]) = *(*[4]float32)(v[8:])
			*(*[4]float32)(d[12:]) = *(*[4]float32)(v[12:])
		}
		if rest := w - full*nr; rest > 0 {
			d := buf[(full*kc+kk)*nr : (full*kc+kk)*nr+nr]
			copy(d, src[full*nr:])
			clear(d[rest:])
		}
	}
}

// panelB returns the B panel B_grp[k0:k0+kc, j0:j0+nr] and its row stride:
// in place when it is a full, non-transposed tile, else packed into buf.
// Only panels used by a single A panel are read in place: rows ldb apart
// alias the same cache sets when ldb·4 is a multiple of 4 KiB.
func (g *gemm) panelB(buf []float32, grp, j0, k0, kc int) ([]float32, int) {
	w := min(nr, g.n-j0)
	if !g.transB && w == nr {
		off := grp*g.sb + k0*g.ldb + j0
		return g.b[off : off+(kc-1)*g.ldb+nr], g.ldb
	}
	g.packB(buf, grp, j0, w, k0, kc)
	return buf[:kc*nr], nr
}

// tile runs the micro-kernel on rows [i0,i0+mr) and columns [j0,j0+nr) of
// C_grp; partial tiles go through a scratch tile so every element of C sees
// the same instruction sequence.
func (g *gemm) tile(ap, bp []float32, ldb, kc, grp, i0, j0 int, acc bool, tmp *[mr * nr]float32) {
	h, w := min(mr, g.m-i0), min(nr, g.n-j0)
	off := grp*g.sc + i0*g.ldc + j0
	if h == mr && w == nr {
		kernel(kc, ap, bp, ldb, g.c[off:off+(mr-1)*g.ldc+nr], g.ldc, acc)
		return
	}
	kernel(kc, ap, bp, ldb, tmp[:], nr, false)
	for i := 0; i < h; i++ {
		row := g.c[off+i*g.ldc : off+i*g.ldc+w]
		t := tmp[i*nr : i*nr+w]
		if acc {
			for j := range row {
				row[j] += t[j]
			}
		} else {
			copy(row, t)
		}
	}
}

// scratch is one worker's packing space.
type scratch struct {
	a   []float32 // packed A blocks
	b   [kcMax * ncTiles * nr]float32
	tmp [mr * nr]float32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch(aLen int) *scratch {
	s := scratchPool.Get().(*scratch)
	if cap(s.a) < aLen {
		s.a = make([]float32, aLen)
	}
	s.a = s.a[:aLen]
	return s
}

// chunkPanels is the number of A panels per row chunk: the chunk's packed
// panels of one k-block (rows × kc float32), which every column tile of a
// block reuses, stay within ~256 KiB of L2. (Sizing by all of k instead made
// deep products, k in the thousands, re-pack B for every two panels.)
func chunkPanels(k int) int {
	return max(1, (1<<16)/(k*mr))
}

// kBlocks splits k into blocks of at most kcMax of near-equal size (so the
// last block is not a sliver); it depends on k only.
func kBlocks(k int) (nblk, kc int) {
	nblk = (k + kcMax - 1) / kcMax
	kc = (k + nblk - 1) / nblk
	return nblk, kc
}

func (g *gemm) run(workers int) {
	if g.m == 0 || g.n == 0 || g.nb == 0 {
		return
	}
	if g.k == 0 || g.kb == 0 || g.alpha == 0 {
		for grp := 0; grp < g.nb; grp++ {
			g.scaleC(grp, 0, g.n, 0, g.m)
		}
		return
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	flops := 2 * float64(g.m) * float64(g.n) * float64(g.k) * float64(g.nb*g.kb)
	workers = min(workers, max(1, int(flops/minParFlops)))

	// Units of work: column blocks (ncTiles panels) of every N-group, times
	// row chunks. Row chunks keep a chunk's packed A (all of k) in L2, and
	// split the rows when the columns alone cannot keep the workers busy.
	// Units are ordered chunk-major so that a worker reuses one chunk of A.
	nTiles := (g.n + nr - 1) / nr
	tpm := ncTiles // tiles per column block
	if workers > 1 && (nTiles+tpm-1)/tpm*g.nb < 4*workers {
		tpm = 1 // few columns: split them finely before splitting rows (which repacks B)
	}
	nMacro := (nTiles + tpm - 1) / tpm
	mPanels := (g.m + mr - 1) / mr
	colUnits := nMacro * g.nb
	if g.kb > 1 {
		colUnits = nTiles
	}
	_, kcRun := kBlocks(g.k)
	rowChunks := (mPanels + chunkPanels(kcRun) - 1) / chunkPanels(kcRun)
	if workers > 1 && colUnits*rowChunks < 4*workers {
		rowChunks = max(rowChunks, min(mPanels, (4*workers+colUnits-1)/colUnits))
	}
	units := colUnits * rowChunks
	workers = min(workers, units)
	if g.kb > 1 {
		g.runSum(workers, units, rowChunks, mPanels)
		return
	}
	nblk, kc := kBlocks(g.k)
	// A is shared by all N-groups: pack it once, all k-blocks.
	apLen := mPanels * mr * kc
	var ap []float32
	if g.apre != nil {
		ap = g.apre
	} else {
		shared := getScratch(nblk * apLen)
		defer scratchPool.Put(shared)
		g.packAll(shared.a)
		ap = shared.a
	}
	parallel(workers, units, func(lo, hi int) {
		s := getScratch(0)
		for u := lo; u < hi; u++ {
			rc, cu := u/colUnits, u%colUnits
			grp, mt := cu/nMacro, cu%nMacro
			p0, p1 := rc*mPanels/rowChunks, (rc+1)*mPanels/rowChunks
			j0 := mt * tpm * nr
			jw := min(tpm*nr, g.n-j0)
			if g.beta != 0 && g.beta != 1 {
				g.scaleC(grp, j0, j0+jw, p0*mr, min(p1*mr, g.m))
			}
			reused := p1-p0 > 1
			for blk := 0; blk < nblk; blk++ {
				k0 := blk * kc
				kcb := min(kc, g.k-k0)
				if reused {
					g.packB(s.b[:], grp, j0, jw, k0, kcb)
				}
				acc := blk > 0 || g.beta != 0
				for t := 0; t*nr < jw; t++ {
					var bp []float32
					var ldb int
					if reused {
						bp, ldb = s.b[t*kcb*nr:(t+1)*kcb*nr], nr
					} else {
						bp, ldb = g.panelB(s.b[:], grp, j0+t*nr, k0, kcb)
					}
					for p := p0; p < p1; p++ {
						a := ap[blk*apLen+p*kcb*mr : blk*apLen+(p+1)*kcb*mr]
						g.tile(a, bp, ldb, kcb, grp, p*mr, j0+t*nr, acc, &s.tmp)
					}
				}
			}
		}
		scratchPool.Put(s)
	})
}

// packAll packs α·op(A) for every k-block into dst (packedALen values).
func (g *gemm) packAll(dst []float32) {
	nblk, kc := kBlocks(g.k)
	apLen := (g.m + mr - 1) / mr * mr * kc
	for blk := 0; blk < nblk; blk++ {
		k0 := blk * kc
		g.packA(dst[blk*apLen:], 0, 0, g.m, k0, min(kc, g.k-k0))
	}
}

func packedALen(m, k int) int {
	nblk, kc := kBlocks(k)
	return nblk * (m + mr - 1) / mr * mr * kc
}

// packedA is α·op(A) packed once for many products that share it (a
// convolution's filters over the images of a batch).
type packedA struct {
	transA      bool
	m, k, lda   int
	alpha       float32
	a, buf      []float32
	scratchHeld *scratch
}

func prepackA(transA bool, m, k int, alpha float32, a []float32, lda int) *packedA {
	g := gemm{transA: transA, m: m, n: 1, k: k, alpha: alpha, a: a, lda: lda, ldb: 1, ldc: 1, nb: 1, kb: 1, b: make([]float32, 0), c: nil}
	s := getScratch(packedALen(m, k))
	g.packAll(s.a)
	return &packedA{transA: transA, m: m, k: k, lda: lda, alpha: alpha, a: a, buf: s.a, scratchHeld: s}
}

func (p *packedA) release() { scratchPool.Put(p.scratchHeld) }

// gemm runs C = α·op(A)·op(B) + β·C single-threaded with the packed A.
func (p *packedA) gemm(transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := gemm{transA: p.transA, transB: transB, m: p.m, n: n, k: p.k, alpha: p.alpha, beta: beta,
		a: p.a, lda: p.lda, b: b, ldb: ldb, c: c, ldc: ldc, nb: 1, kb: 1, apre: p.buf}
	g.check("Sgemm")
	g.run(1)
}

// runSum handles K-folded groups: each worker owns a set of C tiles and runs
// over all groups and k-blocks in order.
func (g *gemm) runSum(workers, units, rowChunks, mPanels int) {
	nTiles := (g.n + nr - 1) / nr
	nblk, kc := kBlocks(g.k)
	parallel(workers, units, func(lo, hi int) {
		s := getScratch(mPanels * mr * kc)
		if g.beta != 0 && g.beta != 1 {
			for u := lo; u < hi; u++ {
				rc, jt := u/nTiles, u%nTiles
				p0, p1 := rc*mPanels/rowChunks, (rc+1)*mPanels/rowChunks
				g.scaleC(0, jt*nr, min(jt*nr+nr, g.n), p0*mr, min(p1*mr, g.m))
			}
		}
		// Rows this worker touches: pack only those panels.
		first := true
		for grp := 0; grp < g.kb; grp++ {
			for blk := 0; blk < nblk; blk++ {
				k0 := blk * kc
				kcb := min(kc, g.k-k0)
				pLo, pHi := mPanels, 0
				for u := lo; u < hi; u++ {
					rc := u / nTiles
					pLo = min(pLo, rc*mPanels/rowChunks)
					pHi = max(pHi, (rc+1)*mPanels/rowChunks)
				}
				g.packA(s.a[pLo*kcb*mr:], grp, pLo*mr, (pHi-pLo)*mr, k0, kcb)
				acc := !first || g.beta != 0
				for u := lo; u < hi; u++ {
					rc, jt := u/nTiles, u%nTiles
					p0, p1 := rc*mPanels/rowChunks, (rc+1)*mPanels/rowChunks
					bp, ldb := g.panelB(s.b[:], grp, jt*nr, k0, kcb)
					for p := p0; p < p1; p++ {
						g.tile(s.a[p*kcb*mr:(p+1)*kcb*mr], bp, ldb, kcb, 0, p*mr, jt*nr, acc, &s.tmp)
					}
				}
				first = false
			}
		}
		scratchPool.Put(s)
	})
}

// parallel runs fn over [0,units) split into workers contiguous ranges.
func parallel(workers, units int, fn func(lo, hi int)) {
	if workers <= 1 {
		fn(0, units)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		lo, hi := w*units/workers, (w+1)*units/workers
		wg.Go(func() { fn(lo, hi) })
	}
	fn(0, units/workers)
	wg.Wait()
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// Backend names the SGEMM micro-kernel in use: "avx2-asm" (AVX2+FMA
// assembly, amd64) or "go" (portable; also with -tags purego), with
// "+openblas" when plain products go to OpenBLAS (-tags openblas).
func Backend() string {
	if gemmOverride != nil {
		return kernelName + "+openblas"
	}
	return kernelName
}

// PackedA is α·op(A) packed once into the micro-kernel's panel layout, for
// many products that share A — a convolution's filters over every image a
// network ever scores. Products with it equal those of SgemmBatched bit for
// bit (the same packing, done ahead). It holds its own buffer (about m·k
// values) and must be rebuilt when A changes.
type PackedA struct {
	transA    bool
	m, k, lda int
	alpha     float32
	a, buf    []float32
}

// PackA packs α·op(A), op(A) m×k, stored as for Sgemm.
func PackA(transA bool, m, k int, alpha float32, a []float32, lda int) *PackedA {
	g := gemm{transA: transA, m: m, n: 1, k: k, alpha: alpha, a: a, lda: lda, b: make([]float32, k), ldb: 1, c: make([]float32, m), ldc: 1, nb: 1, kb: 1}
	g.check("PackA")
	buf := make([]float32, packedALen(m, k))
	if m > 0 && k > 0 {
		g.packAll(buf)
	}
	return &PackedA{transA: transA, m: m, k: k, lda: lda, alpha: alpha, a: a, buf: buf}
}

// SgemmBatched computes C_g = α·op(A)·op(B_g) + β·C_g for g < batch, as the
// function SgemmBatched does with this A.
func (p *PackedA) SgemmBatched(workers int, transB bool, batch, n int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	g := gemm{transA: p.transA, transB: transB, m: p.m, n: n, k: p.k, alpha: p.alpha, beta: beta,
		a: p.a, lda: p.lda, b: b, ldb: ldb, sb: strideB, c: c, ldc: ldc, sc: strideC, nb: batch, kb: 1, apre: p.buf}
	g.check("PackedA.SgemmBatched")
	g.run(workers)
}
