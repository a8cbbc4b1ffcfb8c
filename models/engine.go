package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The gorgonia engine is the autodiff reference: graphs built from the same
// program as the native engine, differentiated by gorgonia. It computes the
// batch-1 parameter gradients (SampleGrads) and, in tests, the reference
// logits, input gradients and training gradients the native engine must match.

// mode says what a compiled graph computes.
type mode int

const (
	modeForward     mode = iota // logits, penultimate features and every tap
	modeGrads                   // + full parameter gradients of a loss (batch-1 reference, training check)
	modeInputGrad               // logits, a callback loss of them and its gradient w.r.t. the input
	modeFeatureGrad             // a callback loss of one tap's reduced features and its input gradient
)

// engine is one compiled gorgonia graph for a fixed batch size, dtype and mode.
// An engine is used by one goroutine at a time.
type engine struct {
	engineKey

	g      *G.ExprGraph
	vm     G.VM
	x, t   *G.Node
	w      []*G.Node // parameter nodes, state_dict order, gorgonia layout
	wData  []any     // backing slices of w ([]float32 or []float64)
	xBuf   any       // backing of x's value
	tBuf   any       // backing of t's value
	logits G.Value   // read after each run
	feats  G.Value   // penultimate features
	loss   G.Value   // scalar loss
	grads  []G.Value // per parameter: ∂J/∂θ (modeGrads)
	taps   []G.Value // per tap: its value (modeForward)
	xGrad  G.Value   // ∂loss/∂x (modeInputGrad, modeFeatureGrad)
	cb     *callbackState
	masks  []dropoutMask // train-mode dropout masks, one per dropout op
	xT, tT *tensor.Dense
}

// dropoutMask is the input node of one layer's inverted-dropout mask: every
// entry is 0 (dropped) or 1/(1−p) (kept).
type dropoutMask struct {
	p     float64
	width int
	buf   any // []float32 or []float64, batch×width
}

// gorgoniaShape is the layout a parameter takes in the graph: linear weights
// transposed to [in,out], biases and BN γ/β as [1,C,1,1] (or [1,C] for linear).
func (s *Sequential) gorgoniaShape(o op, pi int) (shape []int, transpose bool) {
	p := s.params[pi]
	switch {
	case o.kind == opLinear && pi == o.w:
		return []int{p.Shape[1], p.Shape[0]}, true
	case o.kind == opLinear:
		return []int{1, p.Shape[0]}, false
	case o.kind == opConv && pi == o.w:
		return p.Shape, false
	}
	return []int{1, p.Shape[0], 1, 1}, false
}

// castData returns d (transposed from rows×cols when tr) as dt's slice type.
func castData(d []float32, rows int, tr bool, dt tensor.Dtype) any {
	src := d
	if tr {
		cols := len(d) / rows
		src = make([]float32, len(d))
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				src[c*rows+r] = d[r*cols+c]
			}
		}
	}
	if dt == tensor.Float64 {
		out := make([]float64, len(src))
		for i, v := range src {
			out[i] = float64(v)
		}
		return out
	}
	return append([]float32(nil), src...)
}

func (s *Sequential) build(k engineKey) (*engine, error) {
	e := &engine{engineKey: k, g: G.NewGraph()}
	g := e.g
	batch, dt, m := k.batch, k.dtype, k.mode
	switch dt {
	case tensor.Float32:
		e.xBuf, e.tBuf = make([]float32, batch*s.c*s.h*s.w), make([]float32, batch*s.classes)
	case tensor.Float64:
		e.xBuf, e.tBuf = make([]float64, batch*s.c*s.h*s.w), make([]float64, batch*s.classes)
	default:
		return nil, fmt.Errorf("models: unsupported dtype %v", dt)
	}
	e.xT = tensor.New(tensor.WithShape(batch, s.c, s.h, s.w), tensor.WithBacking(e.xBuf))
	e.tT = tensor.New(tensor.WithShape(batch, s.classes), tensor.WithBacking(e.tBuf))
	e.x = G.NewTensor(g, dt, 4, G.WithShape(batch, s.c, s.h, s.w), G.WithName("x"), G.WithValue(e.xT))

	// Parameter nodes, in state_dict order.
	owner := make([]op, len(s.params))
	for _, o := range s.prog.ops {
		if o.kind == opConv || o.kind == opBN || o.kind == opLinear {
			owner[o.w] = o
			if o.b >= 0 {
				owner[o.b] = o
			}
		}
	}
	for pi, p := range s.params {
		sh, tr := s.gorgoniaShape(owner[pi], pi)
		d := castData(p.Data, p.Shape[0], tr, dt)
		W := G.NewTensor(g, dt, len(sh), G.WithShape(sh...), G.WithName(p.Name),
			G.WithValue(tensor.New(tensor.WithShape(sh...), tensor.WithBacking(d))))
		e.w = append(e.w, W)
		e.wData = append(e.wData, d)
	}
	constant := func(name string, v []float64) *G.Node {
		d := castData(make([]float32, len(v)), 1, false, dt)
		for i, x := range v {
			switch b := d.(type) {
			case []float32:
				b[i] = float32(x)
			case []float64:
				b[i] = x
			}
		}
		return G.NewTensor(g, dt, 4, G.WithShape(1, len(v), 1, 1), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(1, len(v), 1, 1), tensor.WithBacking(d))))
	}

	nodes := make([]*G.Node, len(s.prog.vals))
	nodes[0] = e.x
	stop := len(s.prog.ops)
	if m == modeFeatureGrad {
		stop = -1
		for ti, t := range s.prog.taps {
			if t.Name == k.tap {
				stop = s.producer(s.prog.tapVal[ti]) + 1
			}
		}
		if stop < 0 {
			return nil, fmt.Errorf("models: %s has no tap %q", s.arch, k.tap)
		}
	}
	bcast := []byte{0, 2, 3}
	for i := 0; i < stop; i++ {
		o := s.prog.ops[i]
		h := nodes[o.in]
		var y *G.Node
		var err error
		wrap := func(what string, err error) error { return fmt.Errorf("models: %s %s: %w", o.name, what, err) }
		switch o.kind {
		case opConv:
			if y, err = G.Conv2d(h, e.w[o.w], tensor.Shape{o.k, o.k}, []int{o.pad, o.pad}, []int{o.stride, o.stride}, []int{1, 1}); err != nil {
				return nil, wrap("conv", err)
			}
			if o.b >= 0 {
				if y, err = G.BroadcastAdd(y, e.w[o.b], nil, bcast); err != nil {
					return nil, wrap("bias", err)
				}
			}
		case opBN:
			if k.train {
				if y, _, _, _, err = G.BatchNorm(h, e.w[o.w], e.w[o.b], bnMomentum, bnEps); err != nil {
					return nil, wrap("batchnorm", err)
				}
				break
			}
			// Eval mode: an affine map with constants from the running statistics.
			rm, rv := s.buffers[o.rm].Data, s.buffers[o.rv].Data
			mu, inv := make([]float64, len(rm)), make([]float64, len(rm))
			for c := range rm {
				mu[c], inv[c] = float64(rm[c]), 1/math.Sqrt(float64(rv[c])+bnEps)
			}
			if y, err = G.BroadcastSub(h, constant(o.name+".mean", mu), nil, bcast); err == nil {
				if y, err = G.BroadcastHadamardProd(y, constant(o.name+".inv", inv), nil, bcast); err == nil {
					if y, err = G.BroadcastHadamardProd(y, e.w[o.w], nil, bcast); err == nil {
						y, err = G.BroadcastAdd(y, e.w[o.b], nil, bcast)
					}
				}
			}
			if err != nil {
				return nil, wrap("batchnorm", err)
			}
		case opReLU:
			if y, err = G.Rectify(h); err != nil {
				return nil, wrap("relu", err)
			}
		case opMaxPool:
			if y, err = G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
				return nil, wrap("maxpool", err)
			}
		case opAdd:
			if y, err = G.Add(h, nodes[o.in2]); err != nil {
				return nil, wrap("add", err)
			}
		case opGAP:
			// Reshape + single-axis Mean: gorgonia's GlobalAveragePool2D has no
			// gradient and Mean over (2,3) a wrong one (reference/gorgonia.md §1.1).
			sh := h.Shape()
			if y, err = G.Reshape(h, tensor.Shape{sh[0], sh[1], sh[2] * sh[3]}); err == nil {
				y, err = G.Mean(y, 2)
			}
			if err != nil {
				return nil, wrap("gap", err)
			}
		case opConcat:
			if y, err = G.Concat(1, h, nodes[o.in2]); err != nil {
				return nil, wrap("concat", err)
			}
		case opAvgPool:
			// As a product: rows of two image rows (B·C·H/2 × 2W) times the
			// constant 2W × W/2 matrix with 1/4 where a column's window
			// holds the input.
			sh := h.Shape()
			W := sh[3]
			mv := make([]float64, 2*W*(W/2))
			for r := 0; r < 2; r++ {
				for x := 0; x < W; x++ {
					mv[(r*W+x)*(W/2)+x/2] = 0.25
				}
			}
			md := castData(make([]float32, len(mv)), 1, false, dt)
			for i, v := range mv {
				switch d := md.(type) {
				case []float32:
					d[i] = float32(v)
				case []float64:
					d[i] = v
				}
			}
			M := G.NewMatrix(g, dt, G.WithShape(2*W, W/2), G.WithName(fmt.Sprintf("avgpool%d", i)),
				G.WithValue(tensor.New(tensor.WithShape(2*W, W/2), tensor.WithBacking(md))))
			if y, err = G.Reshape(h, tensor.Shape{sh[0] * sh[1] * sh[2] / 2, 2 * W}); err == nil {
				if y, err = G.Mul(y, M); err == nil {
					y, err = G.Reshape(y, tensor.Shape{sh[0], sh[1], sh[2] / 2, W / 2})
				}
			}
			if err != nil {
				return nil, wrap("avgpool", err)
			}
		case opNormalize:
			mu, sd := make([]float64, len(o.mean)), make([]float64, len(o.std))
			for c := range mu {
				mu[c], sd[c] = float64(o.mean[c]), float64(o.std[c])
			}
			if y, err = G.BroadcastSub(h, constant(fmt.Sprintf("norm%d.mean", i), mu), nil, bcast); err == nil {
				y, err = G.BroadcastHadamardDiv(y, constant(fmt.Sprintf("norm%d.std", i), sd), nil, bcast)
			}
			if err != nil {
				return nil, wrap("normalize", err)
			}
		case opLinear:
			if h.Dims() != 2 {
				if h, err = G.Reshape(h, tensor.Shape{batch, s.prog.vals[o.in].size()}); err != nil {
					return nil, wrap("flatten", err)
				}
			}
			if y, err = G.Mul(h, e.w[o.w]); err == nil {
				y, err = G.BroadcastAdd(y, e.w[o.b], nil, []byte{0})
			}
			if err != nil {
				return nil, wrap("linear", err)
			}
		case opDropout:
			y = h
			if k.train {
				width := s.prog.vals[o.in].size()
				mk := dropoutMask{p: o.p, width: width, buf: castData(make([]float32, batch*width), 1, false, dt)}
				M := G.NewMatrix(g, dt, G.WithShape(batch, width), G.WithName(fmt.Sprintf("mask%d", i)),
					G.WithValue(tensor.New(tensor.WithShape(batch, width), tensor.WithBacking(mk.buf))))
				if y, err = G.HadamardProd(h, M); err != nil {
					return nil, wrap("dropout", err)
				}
				e.masks = append(e.masks, mk)
			}
		}
		nodes[o.out] = y
	}
	if m == modeInputGrad || m == modeFeatureGrad {
		var tap *G.Node
		if m == modeFeatureGrad {
			tap = nodes[s.prog.ops[stop-1].out]
		}
		return s.finishInputGrad(e, nodes[s.prog.logits], tap)
	}
	logits := nodes[s.prog.logits]
	G.Read(logits, &e.logits)
	G.Read(nodes[s.prog.feat], &e.feats)
	if m == modeForward && !k.train {
		e.taps = make([]G.Value, len(s.prog.taps))
		for i, v := range s.prog.tapVal {
			G.Read(nodes[v], &e.taps[i])
		}
	}
	if m == modeGrads {
		e.t = G.NewMatrix(g, dt, G.WithShape(batch, s.classes), G.WithName("t"), G.WithValue(e.tT))
		cost, err := G.ApplyOp(lossOp{k.kind}, logits, e.t)
		if err != nil {
			return nil, fmt.Errorf("models: loss: %w", err)
		}
		G.Read(cost, &e.loss)
		gs, err := G.Grad(cost, e.w...)
		if err != nil {
			return nil, fmt.Errorf("models: backward: %w", err)
		}
		e.grads = make([]G.Value, len(gs))
		for i := range gs {
			G.Read(gs[i], &e.grads[i])
		}
	}
	e.vm = G.NewTapeMachine(g)
	return e, nil
}

// producer returns the index of the op that writes value v.
func (s *Sequential) producer(v int) int {
	for i, o := range s.prog.ops {
		if o.out == v {
			return i
		}
	}
	return -1
}

// stateGrad converts the gradient of parameter pi from the graph's layout
// to the state_dict's.
func (s *Sequential) stateGrad(pi int, g []float64) []float64 {
	p := s.params[pi]
	if len(p.Shape) != 2 { // only linear weights are transposed
		return append([]float64(nil), g...)
	}
	out, in := p.Shape[0], p.Shape[1]
	tr := make([]float64, len(g))
	for o := 0; o < out; o++ {
		for k := 0; k < in; k++ {
			tr[o*in+k] = g[k*out+o]
		}
	}
	return tr
}

// fillMasks draws row's dropout masks of every dropout op (in op order, as the native engine does) from rng: each
// unit is kept (value 1/(1−p)) when a uniform draw is ≥ p, else dropped (0).
func (e *engine) fillMasks(row int, rng *rand.Rand) {
	for _, mk := range e.masks {
		keep := 1 / (1 - mk.p)
		for j := 0; j < mk.width; j++ {
			v := 0.0
			if rng.Float64() >= mk.p {
				v = keep
			}
			switch b := mk.buf.(type) {
			case []float32:
				b[row*mk.width+j] = float32(v)
			case []float64:
				b[row*mk.width+j] = v
			}
		}
	}
}

// run computes the engine's graph on the batch already in xBuf (and tBuf).
func (e *engine) run() error {
	defer e.vm.Reset()
	if err := e.vm.RunAll(); err != nil {
		return fmt.Errorf("models: engine run: %w", err)
	}
	return nil
}

// load copies n images into the engine's input buffer and zero-pads the rest.
func (e *engine) load(x []float32, n int) {
	switch b := e.xBuf.(type) {
	case []float32:
		m := copy(b, x)
		clear(b[m:])
	case []float64:
		for i := range b {
			if i < len(x) {
				b[i] = float64(x[i])
			} else {
				b[i] = 0
			}
		}
	}
}

// setTarget fills every row of the target buffer with label (the first n rows
// matter; padding rows get the same label and are discarded).
func (e *engine) setTarget(label []float32) {
	c := len(label)
	switch b := e.tBuf.(type) {
	case []float32:
		for i := 0; i < e.batch; i++ {
			copy(b[i*c:(i+1)*c], label)
		}
	case []float64:
		for i := 0; i < e.batch; i++ {
			for j, v := range label {
				b[i*c+j] = float64(v)
			}
		}
	}
}

// valueF64 returns the backing data of a float tensor value as float64s.
func valueF64(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return d
	case float32:
		return []float64{float64(d)}
	case float64:
		return []float64{d}
	}
	panic(fmt.Sprintf("models: unexpected value type %T", v.Data()))
}

// engineKey identifies interchangeable engines.
type engineKey struct {
	batch  int
	dtype  tensor.Dtype
	mode   mode
	kind   lossKind
	tap    string // modeFeatureGrad: the tap the loss reads
	reduce Reduce // modeFeatureGrad: how the tap is summarised
	train  bool   // train mode: BatchNorm on batch statistics, dropout masks are inputs
}

// enginePool keeps compiled engines for reuse: building a graph costs far more
// than running it.
type enginePool struct {
	mu   sync.Mutex
	net  *Sequential
	free map[engineKey][]*engine
	gen  int // bumped when the weights change; stale engines are dropped
}

func (p *enginePool) get(k engineKey) (*engine, int, error) {
	p.mu.Lock()
	gen := p.gen
	if l := p.free[k]; len(l) > 0 {
		e := l[len(l)-1]
		p.free[k] = l[:len(l)-1]
		p.mu.Unlock()
		return e, gen, nil
	}
	p.mu.Unlock()
	e, err := p.net.build(k)
	return e, gen, err
}

func (p *enginePool) put(k engineKey, e *engine, gen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.gen {
		return
	}
	if p.free == nil {
		p.free = map[engineKey][]*engine{}
	}
	p.free[k] = append(p.free[k], e)
}

func (p *enginePool) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = nil
	p.gen++
}
