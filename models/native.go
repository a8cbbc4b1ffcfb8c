package models

import (
	"fmt"
	"math"
	"sync"

	"github.com/purview-lab/purview/internal/kernels"
	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/gonum"
)

// The native engine runs a program on float32 buffers it allocates once per
// batch size and reuses: convolutions as W·cols per sample (NCHW out directly),
// linear layers as one product per batch, and hand-written backward passes
// that expose what gorgonia hides (each layer's per-sample output gradient),
// so purview features, input gradients and training share one code path.

// colsBudget bounds the im2col scratch (in float32 values): convolutions
// unfold as many samples at a time as fit.
const colsBudget = 1 << 17

// scoreColsBudget is the larger budget of the passes whose per-sample results
// do not depend on the chunking (all but the training weight gradient, whose
// per-chunk sums fix its rounding): wide chunks let late layers (small P,
// large K·O) pack their filters once for many samples.
const scoreColsBudget = 1 << 20

// nengine holds the buffers of one batch size. It is used by one goroutine at a time.
type nengine struct {
	s       *Sequential
	batch   int
	threads int         // goroutines per pass (training); scoring runs one engine per worker
	packed  bool        // convolutions use the network's packed filters (scoring engines)
	vals    [][]float32 // per value, batch×size; in-place values share their root's slice
	grads   [][]float32 // likewise; allocated by the first backward pass
	roots   []int       // values that own a buffer
	argmax  [][]int32   // per op (max-pool): input offset of each output's maximum
	bnMean  [][]float32 // per op (BN): the mean in use (running or batch)
	bnInv   [][]float32 // per op (BN): 1/√(σ² + ε) in use
	masks   [][]float32 // per op (dropout): batch×size, 0 or 1/(1−p)
	pgrad   [][]float32 // per param: ∂J/∂θ (training)
	work    []workspace // per thread: im2col and norm scratch
	dwParts []float32   // per sample chunk: a convolution's weight gradient, transposed (K×O)
	z, d    []float64   // one row of logits and its gradient
	t       []float64   // one row of targets
	rowZ    []float32   // float32 views for callbacks
	rowG    []float32
}

// newEngine allocates an engine's buffers for batch samples and threads
// goroutines per pass (1 for scoring: there the workers run engines in parallel).
func (s *Sequential) newEngine(batch, threads int) *nengine {
	p := &s.prog
	e := &nengine{s: s, batch: batch, threads: max(1, threads)}
	e.vals = make([][]float32, len(p.vals))
	for v, sh := range p.vals {
		if p.root[v] == v {
			e.vals[v] = make([]float32, batch*sh.size())
			e.roots = append(e.roots, v)
		} else {
			e.vals[v] = e.vals[p.root[v]]
		}
	}
	n := len(p.ops)
	e.argmax, e.bnMean, e.bnInv, e.masks = make([][]int32, n), make([][]float32, n), make([][]float32, n), make([][]float32, n)
	maxCols, maxScratch := 0, 0
	for i, o := range p.ops {
		in, out := p.vals[o.in], p.vals[o.out]
		switch o.kind {
		case opMaxPool:
			e.argmax[i] = make([]int32, batch*out.size())
		case opBN:
			e.bnMean[i], e.bnInv[i] = make([]float32, out.c), make([]float32, out.c)
		case opDropout:
			e.masks[i] = make([]float32, batch*out.size())
		case opConv:
			K, P := in.c*o.k*o.k, out.h*out.w
			maxCols = max(maxCols, min(batch, max(1, scoreColsBudget/(K*P)))*K*P)
			if useGram(out.c, K, P) {
				maxScratch = max(maxScratch, 2*P*P)
			} else {
				maxScratch = max(maxScratch, out.c*K)
			}
		}
	}
	e.work = make([]workspace, e.threads)
	for i := range e.work {
		e.work[i] = workspace{cols: make([]float32, maxCols), scratch: make([]float32, maxScratch)}
	}
	c := s.classes
	e.z, e.d, e.t = make([]float64, c), make([]float64, c), make([]float64, c)
	return e
}

// ensureGrads allocates the gradient buffers (and, for training, the
// parameter gradients) on first use.
func (e *nengine) ensureGrads(params bool) {
	p := &e.s.prog
	if e.grads == nil {
		e.grads = make([][]float32, len(p.vals))
		for _, v := range e.roots {
			e.grads[v] = make([]float32, len(e.vals[v]))
		}
		for v := range p.vals {
			e.grads[v] = e.grads[p.root[v]]
		}
	}
	if params && e.pgrad == nil {
		parts := 0
		for _, o := range p.ops {
			if o.kind == opConv {
				in, out := p.vals[o.in], p.vals[o.out]
				K, P := in.c*o.k*o.k, out.h*out.w
				chunk := e.convChunk(K, P, colsBudget)
				parts = max(parts, (e.batch+chunk-1)/chunk*K*out.c)
			}
		}
		e.dwParts = make([]float32, parts)
		e.pgrad = make([][]float32, len(e.s.params))
		for i, q := range e.s.params {
			e.pgrad[i] = make([]float32, len(q.Data))
		}
	}
}

// load copies m images into the input and zero-pads the rest of the batch.
func (e *nengine) load(x []float32) {
	n := copy(e.vals[0], x)
	clear(e.vals[0][n:])
}

// passMode says how BatchNorm and dropout behave in a pass.
type passMode struct {
	bnTrain bool // BatchNorm uses and updates batch statistics
	dropout bool // dropout masks (already filled) are applied
}

// forward runs the first nops ops.
func (e *nengine) forward(nops int, pm passMode) {
	p := &e.s.prog
	for i := 0; i < nops; i++ {
		o := &p.ops[i]
		switch o.kind {
		case opConv:
			e.convForward(o)
		case opBN:
			e.bnForward(i, o, pm.bnTrain)
		case opReLU:
			y := e.vals[o.out]
			e.par(len(y), func(lo, hi int) { reluForward(y[lo:hi]) })
		case opMaxPool:
			e.poolForward(i, o)
		case opAdd:
			y, x2 := e.vals[o.out], e.vals[o.in2]
			e.par(len(y), func(lo, hi int) { addTo(y[lo:hi], x2[lo:hi]) })
		case opGAP:
			e.gapForward(o)
		case opLinear:
			e.linearForward(o)
		case opConcat:
			e.concatPass(o, false)
		case opAvgPool:
			e.avgPoolPass(o, false)
		case opNormalize:
			e.normalizePass(o, false)
		case opDropout:
			if pm.dropout {
				y, mk := e.vals[o.out], e.masks[i]
				for j := range y {
					y[j] *= mk[j]
				}
			}
		}
	}
}

// reluForward sets the negative entries of y to zero, without branches (their
// signs are unpredictable): the sign bit, smeared over the word, masks it.
func reluForward(y []float32) {
	for j, v := range y {
		b := math.Float32bits(v)
		y[j] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// reluBackward zeroes g where the ReLU output y is 0 (y ≥ 0 has a zero sign
// bit, so y > 0 exactly when its bits are non-zero).
func reluBackward(y, g []float32) {
	g = g[:len(y)]
	for j, v := range y {
		b := int32(math.Float32bits(v))
		mask := uint32((b | -b) >> 31)
		g[j] = math.Float32frombits(math.Float32bits(g[j]) & mask)
	}
}

// par runs fn over [0,n) split into up to e.threads contiguous ranges, when
// the pass is big enough for goroutines to pay: e.batch·(its input size) ≥
// parMinWork. Every index is computed the same way whatever the split.
func (e *nengine) par(n int, fn func(lo, hi int)) {
	threads := e.threads
	if e.vals != nil && len(e.vals[0]) < parMinWork {
		threads = 1
	}
	parallel(threads, n, fn)
}

// parMinWork is the batch input size (values) below which an engine's
// non-GEMM passes stay on one goroutine.
const parMinWork = 1 << 16

func parallel(threads, n int, fn func(lo, hi int)) {
	if threads <= 1 || n < 2 {
		fn(0, n)
		return
	}
	threads = min(threads, n)
	var wg sync.WaitGroup
	for w := 1; w < threads; w++ {
		lo, hi := w*n/threads, (w+1)*n/threads
		wg.Go(func() { fn(lo, hi) })
	}
	fn(0, n/threads)
	wg.Wait()
}

// budget is the im2col budget of a pass: wide chunks for scoring engines
// (one thread each), narrow ones where chunks are spread over threads.
func (e *nengine) budget() int {
	if e.threads > 1 {
		return colsBudget
	}
	return scoreColsBudget
}

// convChunk is how many samples one im2col pass unfolds within budget values.
func (e *nengine) convChunk(K, P, budget int) int {
	return min(e.batch, max(1, budget/(K*P)))
}

func isPointwise(o *op) bool { return o.k == 1 && o.stride == 1 && o.pad == 0 }

func (e *nengine) convForward(o *op) {
	p := &e.s.prog
	in, out := p.vals[o.in], p.vals[o.out]
	x, y := e.vals[o.in], e.vals[o.out]
	W := e.s.params[o.w].Data
	O, K, P := out.c, in.c*o.k*o.k, out.h*out.w
	chunk := e.convChunk(K, P, e.budget())
	var pw *kernels.PackedA
	if e.packed {
		pw = e.s.packs.get(e.s, o.w, O, K, false)
	}
	e.eachChunk(chunk, func(ws *workspace, b0, nb int) {
		src := x[b0*in.size():]
		if !isPointwise(o) {
			for j := 0; j < nb; j++ {
				im2col(x[(b0+j)*in.size():], in, o.k, o.stride, o.pad, out.h, out.w, ws.cols[j*K*P:(j+1)*K*P])
			}
			src = ws.cols
		}
		// y_j = W·cols_j for the chunk's samples as one product (batch
		// folded into N), so thin late layers still fill the micro-kernel.
		if pw != nil {
			pw.SgemmBatched(1, false, nb, P, src, P, K*P, 0, y[b0*O*P:], P, O*P)
			return
		}
		kernels.SgemmBatched(1, false, false, nb, O, P, K, 1, W, K, src, P, K*P, 0, y[b0*O*P:], P, O*P)
	})
	if o.b >= 0 {
		bias := e.s.params[o.b].Data
		e.par(e.batch*O, func(lo, hi int) {
			for bc := lo; bc < hi; bc++ {
				row, v := y[bc*P:][:P], bias[bc%O]
				for j := range row {
					row[j] += v
				}
			}
		})
	}
}

// packCache holds each convolution's filters packed once for the SGEMM
// micro-kernel, W (forward) and Wᵀ (input gradients), built on first use by
// scoring engines and dropped whenever the weights change. Packing per call
// cost as much as the product itself in ResNet-34's deep layers (K·O large, P
// small). Training engines pack per call: their weights move every step.
type packCache struct {
	mu sync.Mutex
	w  map[packKey]*kernels.PackedA
}

type packKey struct {
	param int
	trans bool
}

func (c *packCache) drop() {
	c.mu.Lock()
	c.w = nil
	c.mu.Unlock()
}

// get returns the packed W (O×K) of param pi, or Wᵀ when trans.
func (c *packCache) get(s *Sequential, pi, O, K int, trans bool) *kernels.PackedA {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := packKey{pi, trans}
	if p := c.w[k]; p != nil {
		return p
	}
	W := s.params[pi].Data
	var p *kernels.PackedA
	if trans {
		p = kernels.PackA(true, K, O, 1, W, K)
	} else {
		p = kernels.PackA(false, O, K, 1, W, K)
	}
	if c.w == nil {
		c.w = map[packKey]*kernels.PackedA{}
	}
	c.w[k] = p
	return p
}

// workspace is one thread's scratch for convolutions.
type workspace struct {
	cols    []float32 // im2col (or column gradients) of a chunk of samples
	scratch []float32 // one sample's weight gradient or Gram matrices
}

// eachChunk calls fn on the batch cut into chunks of chunk samples, spread
// over e.threads goroutines, each with its own workspace. The chunks do not
// depend on the thread count, so neither do results.
func (e *nengine) eachChunk(chunk int, fn func(ws *workspace, b0, nb int)) {
	n := (e.batch + chunk - 1) / chunk
	threads := min(e.threads, len(e.work), n)
	if len(e.vals[0]) < parMinWork {
		threads = 1
	}
	if threads <= 1 {
		for c := 0; c < n; c++ {
			fn(&e.work[0], c*chunk, min(chunk, e.batch-c*chunk))
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Go(func() {
			for c := w * n / threads; c < (w+1)*n/threads; c++ {
				fn(&e.work[w], c*chunk, min(chunk, e.batch-c*chunk))
			}
		})
	}
	wg.Wait()
}

// im2col writes the K×P patch matrix of one image (in.c×in.h×in.w): row
// (c,ky,kx), column (oy,ox) holds img[c, oy·stride+ky−pad, ox·stride+kx−pad],
// zero outside the image.
func im2col(img []float32, in shape, k, stride, pad, oh, ow int, cols []float32) {
	P := oh * ow
	same := stride == 1 && oh == in.h && ow == in.w
	for c := 0; c < in.c; c++ {
		plane := img[c*in.h*in.w:][:in.h*in.w]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := cols[((c*k+ky)*k+kx)*P:][:P]
				// ox range whose ix = ox·stride + kx − pad lies inside [0, w).
				oxLo := max(0, (pad-kx+stride-1)/stride)
				oxHi := min(ow, (in.w-1+pad-kx)/stride+1)
				oyLo := max(0, (pad-ky+stride-1)/stride)
				oyHi := min(oh, (in.h-1+pad-ky)/stride+1)
				if oxLo >= oxHi || oyLo >= oyHi {
					clear(row)
					continue
				}
				clear(row[:oyLo*ow])
				clear(row[oyHi*ow:])
				if same {
					// The row is the plane shifted by (ky−pad, kx−pad): one
					// copy, then zero the columns that wrapped around.
					shift := (ky-pad)*in.w + (kx - pad)
					lo, hi := oyLo*ow, oyHi*ow
					srcLo, srcHi := lo+shift, hi+shift
					dLo := lo
					if srcLo < 0 { // only for kx < pad on the first valid row
						dLo, srcLo = lo-srcLo, 0
					}
					if srcHi > len(plane) {
						hi -= srcHi - len(plane)
						srcHi = len(plane)
					}
					copy(row[dLo:hi], plane[srcLo:srcHi])
					clear(row[lo:dLo])
					clear(row[hi : oyHi*ow])
					zeroColumns(row, ow, oyLo, oyHi, oxLo, oxHi)
					continue
				}
				for oy := oyLo; oy < oyHi; oy++ {
					dst := row[oy*ow : (oy+1)*ow]
					iy := oy*stride + ky - pad
					for ox := 0; ox < oxLo; ox++ {
						dst[ox] = 0
					}
					for ox := oxHi; ox < ow; ox++ {
						dst[ox] = 0
					}
					src := plane[iy*in.w:][:in.w]
					ix := oxLo*stride + kx - pad
					if stride == 1 {
						copy(dst[oxLo:oxHi], src[ix:])
					} else {
						for ox := oxLo; ox < oxHi; ox++ {
							dst[ox] = src[ix]
							ix += stride
						}
					}
				}
			}
		}
	}
}

// col2imAdd adds the K×P column gradient back onto the image gradient: the
// adjoint of im2col. It may overwrite cols.
func col2imAdd(cols []float32, in shape, k, stride, pad, oh, ow int, img []float32) {
	P := oh * ow
	same := stride == 1 && oh == in.h && ow == in.w
	for c := 0; c < in.c; c++ {
		plane := img[c*in.h*in.w:][:in.h*in.w]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := cols[((c*k+ky)*k+kx)*P:][:P]
				oxLo := max(0, (pad-kx+stride-1)/stride)
				oxHi := min(ow, (in.w-1+pad-kx)/stride+1)
				oyLo := max(0, (pad-ky+stride-1)/stride)
				oyHi := min(oh, (in.h-1+pad-ky)/stride+1)
				if oxLo >= oxHi || oyLo >= oyHi {
					continue
				}
				if same {
					// Zero the entries that fall outside the image, then add
					// the row onto the shifted plane in one pass.
					zeroColumns(row, ow, oyLo, oyHi, oxLo, oxHi)
					shift := (ky-pad)*in.w + (kx - pad)
					lo, hi := oyLo*ow, oyHi*ow
					lo = max(lo, -shift)
					hi = min(hi, len(plane)-shift)
					addTo(plane[lo+shift:hi+shift], row[lo:hi])
					continue
				}
				for oy := oyLo; oy < oyHi; oy++ {
					iy := oy*stride + ky - pad
					src := row[oy*ow : (oy+1)*ow]
					dst := plane[iy*in.w:][:in.w]
					ix := oxLo*stride + kx - pad
					if stride == 1 {
						addTo(dst[ix:ix+oxHi-oxLo], src[oxLo:oxHi])
					} else {
						for ox := oxLo; ox < oxHi; ox++ {
							dst[ix] += src[ox]
							ix += stride
						}
					}
				}
			}
		}
	}
}

// zeroColumns zeroes columns [0,oxLo) and [oxHi,ow) of rows [oyLo,oyHi) of
// a row-major plane of width ow.
func zeroColumns(row []float32, ow, oyLo, oyHi, oxLo, oxHi int) {
	end := oyHi * ow
	_ = row[end-1]
	for ox := 0; ox < oxLo; ox++ {
		for i := oyLo*ow + ox; i < end; i += ow {
			row[i] = 0
		}
	}
	for ox := oxHi; ox < ow; ox++ {
		for i := oyLo*ow + ox; i < end; i += ow {
			row[i] = 0
		}
	}
}

// addTo adds src into dst elementwise: through gonum's SIMD axpy (1·x is
// exact, so the sums equal the scalar loop's) for all but short runs.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	if len(dst) >= 32 {
		gonum.Implementation{}.Saxpy(len(dst), 1, src, 1, dst, 1)
		return
	}
	for j, v := range src {
		dst[j] += v
	}
}

// bnForward normalises with the running statistics (eval) or the batch's
// (train: biased variance for normalising; the running estimates move by
// momentum 0.1 towards the batch mean and the unbiased variance, as PyTorch's).
func (e *nengine) bnForward(i int, o *op, train bool) {
	p := &e.s.prog
	sh := p.vals[o.in]
	C, HW := sh.c, sh.h*sh.w
	x, y := e.vals[o.in], e.vals[o.out]
	gamma, beta := e.s.params[o.w].Data, e.s.params[o.b].Data
	rm, rv := e.s.buffers[o.rm].Data, e.s.buffers[o.rv].Data
	mean, inv := e.bnMean[i], e.bnInv[i]
	e.par(C, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			if !train {
				mean[c], inv[c] = rm[c], float32(1/math.Sqrt(float64(rv[c])+bnEps))
			} else {
				var s float64
				for b := 0; b < e.batch; b++ {
					for _, v := range x[(b*C+c)*HW:][:HW] {
						s += float64(v)
					}
				}
				N := float64(e.batch * HW)
				mu := s / N
				var ss float64
				for b := 0; b < e.batch; b++ {
					for _, v := range x[(b*C+c)*HW:][:HW] {
						d := float64(v) - mu
						ss += d * d
					}
				}
				mean[c], inv[c] = float32(mu), float32(1/math.Sqrt(ss/N+bnEps))
				rm[c] = float32((1-bnMomentum)*float64(rm[c]) + bnMomentum*mu)
				rv[c] = float32((1-bnMomentum)*float64(rv[c]) + bnMomentum*ss/math.Max(N-1, 1))
			}
			sc := gamma[c] * inv[c]
			sf := beta[c] - mean[c]*sc
			for b := 0; b < e.batch; b++ {
				xr, yr := x[(b*C+c)*HW:][:HW], y[(b*C+c)*HW:][:HW]
				for j, v := range xr {
					yr[j] = v*sc + sf
				}
			}
		}
	})
}

func (e *nengine) poolForward(i int, o *op) {
	p := &e.s.prog
	in, out := p.vals[o.in], p.vals[o.out]
	x, y, am := e.vals[o.in], e.vals[o.out], e.argmax[i]
	e.par(e.batch*in.c, func(lo, hi int) { poolPlanes(x, y, am, in, out, lo, hi) })
}

// poolPlanes max-pools planes [lo,hi) (sample×channel) 2×2, stride 2.
func poolPlanes(x, y []float32, am []int32, in, out shape, lo, hi int) {
	for bc := lo; bc < hi; bc++ {
		plane := x[bc*in.h*in.w:][:in.h*in.w]
		yo, ao := y[bc*out.h*out.w:][:out.h*out.w], am[bc*out.h*out.w:][:out.h*out.w]
		for oy := 0; oy < out.h; oy++ {
			r0, r1 := plane[2*oy*in.w:][:in.w], plane[(2*oy+1)*in.w:][:in.w]
			for ox := 0; ox < out.w; ox++ {
				// First maximum in scan order wins, as in PyTorch.
				best, at := r0[2*ox], 2*oy*in.w+2*ox
				if v := r0[2*ox+1]; v > best {
					best, at = v, 2*oy*in.w+2*ox+1
				}
				if v := r1[2*ox]; v > best {
					best, at = v, (2*oy+1)*in.w+2*ox
				}
				if v := r1[2*ox+1]; v > best {
					best, at = v, (2*oy+1)*in.w+2*ox+1
				}
				yo[oy*out.w+ox], ao[oy*out.w+ox] = best, int32(at)
			}
		}
	}
}

func (e *nengine) gapForward(o *op) {
	in := e.s.prog.vals[o.in]
	HW := in.h * in.w
	x, y := e.vals[o.in], e.vals[o.out]
	for bc := 0; bc < e.batch*in.c; bc++ {
		var s float64
		for _, v := range x[bc*HW:][:HW] {
			s += float64(v)
		}
		y[bc] = float32(s / float64(HW))
	}
}

func (e *nengine) linearForward(o *op) {
	I, O := e.s.prog.vals[o.in].size(), e.s.prog.vals[o.out].c
	x, y := e.vals[o.in], e.vals[o.out]
	sgemm(e.threads, false, true, e.batch, O, I, 1, x, I, e.s.params[o.w].Data, I, 0, y, O)
	bias := e.s.params[o.b].Data
	for b := 0; b < e.batch; b++ {
		row := y[b*O:][:O]
		for j := range row {
			row[j] += bias[j]
		}
	}
}

// concatPass copies both inputs into the output, sample by sample
// (forward), or adds the output gradient's two channel ranges onto the
// inputs' gradients (backward).
func (e *nengine) concatPass(o *op, backward bool) {
	p := &e.s.prog
	n1, n2 := p.vals[o.in].size(), p.vals[o.in2].size()
	if !backward {
		x1, x2, y := e.vals[o.in], e.vals[o.in2], e.vals[o.out]
		e.par(e.batch, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				copy(y[b*(n1+n2):], x1[b*n1:(b+1)*n1])
				copy(y[b*(n1+n2)+n1:], x2[b*n2:(b+1)*n2])
			}
		})
		return
	}
	g1, g2, g := e.grads[o.in], e.grads[o.in2], e.grads[o.out]
	e.par(e.batch, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			addTo(g1[b*n1:(b+1)*n1], g[b*(n1+n2):])
			addTo(g2[b*n2:(b+1)*n2], g[b*(n1+n2)+n1:])
		}
	})
}

// avgPoolPass is the 2×2, stride-2 mean pool: y = (x₀₀ + x₀₁ + x₁₀ + x₁₁)/4
// (forward), or ∂x += δ/4 on each of a window's inputs (backward).
func (e *nengine) avgPoolPass(o *op, backward bool) {
	p := &e.s.prog
	in, out := p.vals[o.in], p.vals[o.out]
	x, y := e.vals[o.in], e.vals[o.out]
	if backward {
		x, y = e.grads[o.in], e.grads[o.out]
	}
	e.par(e.batch*in.c, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			plane := x[bc*in.h*in.w:][:in.h*in.w]
			yo := y[bc*out.h*out.w:][:out.h*out.w]
			for oy := 0; oy < out.h; oy++ {
				r0, r1 := plane[2*oy*in.w:][:in.w], plane[(2*oy+1)*in.w:][:in.w]
				for ox := 0; ox < out.w; ox++ {
					if backward {
						d := yo[oy*out.w+ox] / 4
						r0[2*ox] += d
						r0[2*ox+1] += d
						r1[2*ox] += d
						r1[2*ox+1] += d
						continue
					}
					yo[oy*out.w+ox] = (r0[2*ox] + r0[2*ox+1] + r1[2*ox] + r1[2*ox+1]) / 4
				}
			}
		}
	})
}

// normalizePass computes y = (x − mean_c)/std_c (forward) or ∂x += δ/std_c
// (backward).
func (e *nengine) normalizePass(o *op, backward bool) {
	sh := e.s.prog.vals[o.in]
	C, HW := sh.c, sh.h*sh.w
	e.par(e.batch*C, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			m, sd := o.mean[bc%C], o.std[bc%C]
			if backward {
				gi, g := e.grads[o.in][bc*HW:][:HW], e.grads[o.out][bc*HW:][:HW]
				for j, v := range g {
					gi[j] += v / sd
				}
				continue
			}
			x, y := e.vals[o.in][bc*HW:][:HW], e.vals[o.out][bc*HW:][:HW]
			for j, v := range x {
				y[j] = (v - m) / sd
			}
		}
	})
}

// backOpts says what a backward pass computes besides the value gradients.
type backOpts struct {
	params    bool      // accumulate ∂J/∂θ into pgrad
	norms     []float64 // m×len(params): per-sample squared gradient norms (nil: none)
	m         int       // real samples (rows ≥ m are padding)
	inputGrad bool      // the gradient of the input (value 0) is wanted
	pm        passMode
}

// clearGrads zeroes the gradient buffers before a seed is written.
func (e *nengine) clearGrads() {
	for _, v := range e.roots {
		clear(e.grads[v])
	}
}

// backward propagates the gradient in the buffers backwards through ops
// [0, nops), accumulating into each op's input gradient.
func (e *nengine) backward(nops int, bo backOpts) {
	p := &e.s.prog
	for i := nops - 1; i >= 0; i-- {
		o := &p.ops[i]
		needIn := !p.constant[o.in] || bo.inputGrad
		switch o.kind {
		case opConv:
			e.convBackward(o, bo, needIn)
		case opBN:
			e.bnBackward(i, o, bo)
		case opReLU:
			y, g := e.vals[o.out], e.grads[o.out]
			e.par(len(y), func(lo, hi int) { reluBackward(y[lo:hi], g[lo:hi]) })
		case opMaxPool:
			in, out := p.vals[o.in], p.vals[o.out]
			gi, go_, am := e.grads[o.in], e.grads[o.out], e.argmax[i]
			e.par(e.batch*in.c, func(lo, hi int) {
				for bc := lo; bc < hi; bc++ {
					plane := gi[bc*in.h*in.w:][:in.h*in.w]
					for j, v := range go_[bc*out.h*out.w:][:out.h*out.w] {
						plane[am[bc*out.h*out.w+j]] += v
					}
				}
			})
		case opAdd:
			g2, g := e.grads[o.in2], e.grads[o.out]
			e.par(len(g), func(lo, hi int) { addTo(g2[lo:hi], g[lo:hi]) })
		case opGAP:
			in := p.vals[o.in]
			HW := in.h * in.w
			gi, g := e.grads[o.in], e.grads[o.out]
			for bc, v := range g {
				v /= float32(HW)
				row := gi[bc*HW:][:HW]
				for j := range row {
					row[j] += v
				}
			}
		case opLinear:
			e.linearBackward(o, bo, needIn)
		case opConcat:
			e.concatPass(o, true)
		case opAvgPool:
			e.avgPoolPass(o, true)
		case opNormalize:
			if needIn {
				e.normalizePass(o, true)
			}
		case opDropout:
			if bo.pm.dropout {
				g, mk := e.grads[o.out], e.masks[i]
				for j := range g {
					g[j] *= mk[j]
				}
			}
		}
	}
}

func (e *nengine) convBackward(o *op, bo backOpts, needIn bool) {
	p := &e.s.prog
	in, out := p.vals[o.in], p.vals[o.out]
	x, g := e.vals[o.in], e.grads[o.out]
	W := e.s.params[o.w].Data
	O, K, P := out.c, in.c*o.k*o.k, out.h*out.w
	np := len(e.s.params)
	chunk := e.convChunk(K, P, e.budget())
	if bo.params {
		chunk = e.convChunk(K, P, colsBudget)
	}
	if bo.norms != nil || bo.params {
		// Products with the (large) patch matrix as the untransposed left
		// factor: cols·δᵀ = (δ·colsᵀ)ᵀ, the weight gradient transposed (K×O).
		// Each chunk of samples sums into its own part; the parts are added in
		// chunk order afterwards.
		e.eachChunk(chunk, func(ws *workspace, b0, nb int) {
			if bo.norms != nil {
				nb = min(nb, bo.m-b0) // padding rows need no norms
				if nb <= 0 {
					return
				}
			}
			src := x[b0*in.size():]
			if !isPointwise(o) {
				for j := 0; j < nb; j++ {
					im2col(x[(b0+j)*in.size():], in, o.k, o.stride, o.pad, out.h, out.w, ws.cols[j*K*P:(j+1)*K*P])
				}
				src = ws.cols
			}
			if bo.norms != nil {
				for j := 0; j < nb; j++ {
					bo.norms[(b0+j)*np+o.w] = convWeightNorm(ws.scratch, g[(b0+j)*O*P:][:O*P], src[j*K*P:][:K*P], O, K, P)
				}
			}
			if bo.params {
				part := e.dwParts[b0/chunk*K*O:][:K*O]
				kernels.SgemmSum(1, false, true, nb, K, O, P, 1, src, P, K*P, g[b0*O*P:], P, O*P, 0, part, O)
			}
		})
		if bo.params {
			dw, parts := e.pgrad[o.w], (e.batch+chunk-1)/chunk
			e.par(K, func(k0, k1 int) {
				for k := k0; k < k1; k++ {
					for c := 0; c < O; c++ {
						var sum float32
						for pi := 0; pi < parts; pi++ {
							sum += e.dwParts[(pi*K+k)*O+c]
						}
						dw[c*K+k] += sum
					}
				}
			})
		}
	}
	if o.b >= 0 {
		for b := 0; b < e.batch; b++ {
			var rb float64
			for c := 0; c < O; c++ {
				var sb float64
				for _, v := range g[(b*O+c)*P:][:P] {
					sb += float64(v)
				}
				rb += sb * sb
				if bo.params {
					e.pgrad[o.b][c] += float32(sb)
				}
			}
			if bo.norms != nil && b < bo.m {
				bo.norms[b*np+o.b] = rb
			}
		}
	}
	if !needIn {
		return
	}
	gi := e.grads[o.in]
	var pwt *kernels.PackedA
	if e.packed {
		pwt = e.s.packs.get(e.s, o.w, O, K, true)
	}
	// dst_j = Wᵀ·δ_j (+ β·dst_j) for nb samples, K×P each, stride strideC.
	mulWT := func(nb int, d []float32, beta float32, dst []float32, strideC int) {
		if pwt != nil {
			pwt.SgemmBatched(1, false, nb, P, d, P, O*P, beta, dst, P, strideC)
			return
		}
		kernels.SgemmBatched(1, true, false, nb, K, P, O, 1, W, K, d, P, O*P, beta, dst, P, strideC)
	}
	e.eachChunk(chunk, func(ws *workspace, b0, nb int) {
		if isPointwise(o) {
			mulWT(nb, g[b0*O*P:], 1, gi[b0*in.size():], in.size())
			return
		}
		mulWT(nb, g[b0*O*P:], 0, ws.cols, K*P)
		for j := 0; j < nb; j++ {
			col2imAdd(ws.cols[j*K*P:(j+1)*K*P], in, o.k, o.stride, o.pad, out.h, out.w, gi[(b0+j)*in.size():])
		}
	})
}

// convWeightNorm returns ‖δ·colsᵀ‖²_F for one sample, δ O×P and cols K×P:
// directly (O·K·P multiply-adds) or by the Gram form Σ_{p,q} (δ_p·δ_q)(a_p·a_q)
// (P²·(O+K)), whichever is cheaper.
func convWeightNorm(scratch, d, cols []float32, O, K, P int) float64 {
	var r float64
	if !useGram(O, K, P) {
		w := scratch[:O*K]
		sgemm(1, false, true, K, O, P, 1, cols, P, d, P, 0, w, O) // (δ·colsᵀ)ᵀ
		for _, v := range w {
			r += float64(v) * float64(v)
		}
		return r
	}
	gd, ga := scratch[:P*P], scratch[P*P:2*P*P]
	sgemm(1, true, false, P, P, O, 1, d, P, d, P, 0, gd, P)
	sgemm(1, true, false, P, P, K, 1, cols, P, cols, P, 0, ga, P)
	for j, v := range gd {
		r += float64(v) * float64(ga[j])
	}
	return r
}

// useGram says whether the Gram form of a per-sample convolution weight norm
// costs fewer multiply-adds than the direct product.
func useGram(O, K, P int) bool { return P*P*(O+K) < O*K*P }

// bnBackward: eval mode is the affine map y = x·γ·inv + const, so
// ∂J/∂x = δ·γ·inv and sample i's ∂J/∂γ_c = Σ_hw δ·x̂, ∂J/∂β_c = Σ_hw δ. Train
// mode differentiates through the batch statistics as well:
// ∂J/∂x = γ·inv/N·(N·δ − Σδ − x̂·Σδx̂), sums over the batch and positions.
func (e *nengine) bnBackward(i int, o *op, bo backOpts) {
	p := &e.s.prog
	sh := p.vals[o.in]
	C, HW := sh.c, sh.h*sh.w
	x, g, gi := e.vals[o.in], e.grads[o.out], e.grads[o.in]
	gamma := e.s.params[o.w].Data
	mean, inv := e.bnMean[i], e.bnInv[i]
	np := len(e.s.params)
	threads := e.threads
	if bo.norms != nil {
		threads = 1 // per-sample norms sum over channels
	}
	parallel(threads, C, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			var sg, sb float64 // batch sums of δ·x̂ and δ
			mc, ic, sc := mean[c], inv[c], gamma[c]*inv[c]
			for b := 0; b < e.batch; b++ {
				xr, gr := x[(b*C+c)*HW:][:HW], g[(b*C+c)*HW:][:HW]
				var pg, pb float64
				if bo.pm.bnTrain {
					for j, v := range gr {
						pg += float64(v) * float64((xr[j]-mc)*ic)
						pb += float64(v)
					}
				} else {
					// Eval mode: ∂J/∂x = δ·γ·inv needs no batch sums, so it
					// shares the pass.
					dr := gi[(b*C+c)*HW:][:HW]
					xr = xr[:len(gr)]
					dr = dr[:len(gr)]
					for j, v := range gr {
						pg += float64(v) * float64((xr[j]-mc)*ic)
						pb += float64(v)
						dr[j] += v * sc
					}
				}
				if bo.norms != nil && b < bo.m {
					bo.norms[b*np+o.w] += pg * pg
					bo.norms[b*np+o.b] += pb * pb
				}
				sg += pg
				sb += pb
			}
			if bo.params {
				e.pgrad[o.w][c] += float32(sg)
				e.pgrad[o.b][c] += float32(sb)
			}
			if !bo.pm.bnTrain {
				continue
			}
			N := float64(e.batch * HW)
			k := float64(gamma[c]) * float64(inv[c]) / N
			for b := 0; b < e.batch; b++ {
				xr, gr, dr := x[(b*C+c)*HW:][:HW], g[(b*C+c)*HW:][:HW], gi[(b*C+c)*HW:][:HW]
				for j, v := range gr {
					xh := float64((xr[j] - mean[c]) * inv[c])
					dr[j] += float32(k * (N*float64(v) - sb - xh*sg))
				}
			}
		}
	})
}

func (e *nengine) linearBackward(o *op, bo backOpts, needIn bool) {
	I, O := e.s.prog.vals[o.in].size(), e.s.prog.vals[o.out].c
	x, g := e.vals[o.in], e.grads[o.out]
	np := len(e.s.params)
	if bo.norms != nil {
		for b := 0; b < bo.m; b++ {
			var na, nd float64
			for _, v := range x[b*I:][:I] {
				na += float64(v) * float64(v)
			}
			for _, v := range g[b*O:][:O] {
				nd += float64(v) * float64(v)
			}
			bo.norms[b*np+o.w], bo.norms[b*np+o.b] = na*nd, nd
		}
	}
	if bo.params {
		sgemm(e.threads, true, false, O, I, e.batch, 1, g, O, x, I, 1, e.pgrad[o.w], I)
		db := e.pgrad[o.b]
		for b := 0; b < e.batch; b++ {
			for j, v := range g[b*O:][:O] {
				db[j] += v
			}
		}
	}
	if needIn {
		sgemm(e.threads, false, false, e.batch, I, O, 1, g, O, e.s.params[o.w].Data, I, 1, e.grads[o.in], I)
	}
}

// seedLoss writes ∂J/∂z of a fixed loss into the logits gradient for rows
// < m (padding rows stay zero) and returns Σ_i ℓ_i; t(i) is row i's target.
// The gradient is scaled by scale (1/B for a batch mean).
func (e *nengine) seedLoss(kind lossKind, m int, t func(i int) []float32, scale float64) float64 {
	p := &e.s.prog
	c := e.s.classes
	z, g := e.vals[p.logits], e.grads[p.logits]
	var total float64
	for i := 0; i < m; i++ {
		for j := 0; j < c; j++ {
			e.z[j] = float64(z[i*c+j])
		}
		ti := t(i)
		for j := range e.t {
			e.t[j] = float64(ti[j])
		}
		rowGrad(kind, e.z, e.t, e.d)
		total += rowLoss(kind, e.z, func(j int) float64 { return e.t[j] })
		for j, v := range e.d {
			g[i*c+j] = float32(v * scale)
		}
	}
	return total
}

// nativePool keeps engines per batch size for reuse.
type nativePool struct {
	mu   sync.Mutex
	net  *Sequential
	free map[int][]*nengine
}

func (p *nativePool) get(batch int) *nengine {
	p.mu.Lock()
	if l := p.free[batch]; len(l) > 0 {
		e := l[len(l)-1]
		p.free[batch] = l[:len(l)-1]
		p.mu.Unlock()
		return e
	}
	p.mu.Unlock()
	e := p.net.newEngine(batch, 1)
	e.packed = true
	return e
}

func (p *nativePool) put(e *nengine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.free = map[int][]*nengine{}
	}
	p.free[e.batch] = append(p.free[e.batch], e)
}

// eachNative runs fn on batches [lo,hi) of n samples, batch size bs, with up
// to s.workers goroutines, each holding its own engine. Batches start at
// multiples of bs whatever the worker count, so results do not depend on it.
func (s *Sequential) eachNative(n, bs int, fn func(e *nengine, lo, hi int) error) error {
	batches := (n + bs - 1) / bs
	next := make(chan int, batches)
	for b := 0; b < batches; b++ {
		next <- b
	}
	close(next)
	var grp errgroup.Group
	for w := 0; w < min(s.workers, batches); w++ {
		grp.Go(func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("models: internal error in %s engine: %v", s.arch, r)
				}
			}()
			e := s.native.get(bs)
			defer s.native.put(e)
			for b := range next {
				lo := b * bs
				if err := fn(e, lo, min(lo+bs, n)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return grp.Wait()
}
