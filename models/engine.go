package models

import (
	"fmt"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mode says what a compiled graph computes.
type mode int

const (
	modeForward mode = iota // logits and penultimate features
	modeDeltas              // + per-layer inputs and output gradients of a loss (per-sample norms)
	modeGrads               // + full parameter gradients of a loss (training, batch-1 reference)
)

// engine is one compiled gorgonia graph for a fixed batch size, dtype and mode.
// An engine is used by one goroutine at a time.
type engine struct {
	batch int
	dtype tensor.Dtype
	mode  mode
	kind  lossKind

	g      *G.ExprGraph
	vm     G.VM
	x, t   *G.Node
	w      []*G.Node // parameter nodes, state_dict order, gorgonia layout
	wData  []any     // backing slices of w ([]float32 or []float64), updated in place by training
	xBuf   any       // backing of x's value
	tBuf   any       // backing of t's value
	logits G.Value   // read after each run
	feats  G.Value   // penultimate features
	loss   G.Value   // scalar loss
	acts   []G.Value // per layer: its input (modeDeltas)
	deltas []G.Value // per layer: ∂J/∂(pre-activation output) (modeDeltas)
	grads  []G.Value // per parameter: ∂J/∂θ (modeGrads)
	xT, tT *tensor.Dense
}

// toGorgonia converts a state_dict tensor to the layout the graph uses:
// linear weights are transposed to [in,out], biases become [1,C,1,1] or [1,C].
func toGorgonia(l layer, p Param, isBias bool, dt tensor.Dtype) (shape []int, data any) {
	src := p.Data
	switch {
	case isBias && l.conv:
		shape = []int{1, l.out, 1, 1}
	case isBias:
		shape = []int{1, l.out}
	case l.conv:
		shape = append([]int(nil), p.Shape...)
	default:
		shape = []int{l.in, l.out}
		t := make([]float32, len(src))
		for o := 0; o < l.out; o++ {
			for i := 0; i < l.in; i++ {
				t[i*l.out+o] = src[o*l.in+i]
			}
		}
		src = t
	}
	if dt == tensor.Float64 {
		d := make([]float64, len(src))
		for i, v := range src {
			d[i] = float64(v)
		}
		return shape, d
	}
	return shape, append([]float32(nil), src...)
}

// fromGorgonia is the inverse of toGorgonia for float32 data.
func fromGorgonia(l layer, isBias bool, data []float32, dst []float32) {
	if isBias || l.conv {
		copy(dst, data)
		return
	}
	for o := 0; o < l.out; o++ {
		for i := 0; i < l.in; i++ {
			dst[o*l.in+i] = data[i*l.out+o]
		}
	}
}

func (s *Sequential) build(batch int, dt tensor.Dtype, m mode, kind lossKind) (*engine, error) {
	e := &engine{batch: batch, dtype: dt, mode: m, kind: kind, g: G.NewGraph()}
	g := e.g
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

	var (
		h      = e.x
		as, zs []*G.Node
		feats  *G.Node
		err    error
	)
	for li, l := range s.layers {
		ws, wd := toGorgonia(l, s.params[2*li], false, dt)
		bs, bd := toGorgonia(l, s.params[2*li+1], true, dt)
		W := G.NewTensor(g, dt, len(ws), G.WithShape(ws...), G.WithName(l.name+".weight"),
			G.WithValue(tensor.New(tensor.WithShape(ws...), tensor.WithBacking(wd))))
		B := G.NewTensor(g, dt, len(bs), G.WithShape(bs...), G.WithName(l.name+".bias"),
			G.WithValue(tensor.New(tensor.WithShape(bs...), tensor.WithBacking(bd))))
		e.w = append(e.w, W, B)
		e.wData = append(e.wData, wd, bd)

		var z *G.Node
		if l.conv {
			as = append(as, h)
			if z, err = G.Conv2d(h, W, tensor.Shape{l.k, l.k}, []int{l.pad, l.pad}, []int{1, 1}, []int{1, 1}); err != nil {
				return nil, fmt.Errorf("models: %s: %w", l.name, err)
			}
			if z, err = G.BroadcastAdd(z, B, nil, []byte{0, 2, 3}); err != nil {
				return nil, fmt.Errorf("models: %s bias: %w", l.name, err)
			}
		} else {
			if h.Dims() != 2 {
				if h, err = G.Reshape(h, tensor.Shape{batch, l.in}); err != nil {
					return nil, fmt.Errorf("models: %s flatten: %w", l.name, err)
				}
			}
			as = append(as, h)
			if z, err = G.Mul(h, W); err != nil {
				return nil, fmt.Errorf("models: %s: %w", l.name, err)
			}
			if z, err = G.BroadcastAdd(z, B, nil, []byte{0}); err != nil {
				return nil, fmt.Errorf("models: %s bias: %w", l.name, err)
			}
		}
		zs = append(zs, z)
		h = z
		if l.relu {
			if h, err = G.Rectify(h); err != nil {
				return nil, err
			}
		}
		if l.pool {
			if h, err = G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
				return nil, err
			}
		}
		if l.penultimate {
			feats = h
		}
	}
	logits := h
	G.Read(logits, &e.logits)
	if feats != nil {
		G.Read(feats, &e.feats)
	}
	if m != modeForward {
		e.t = G.NewMatrix(g, dt, G.WithShape(batch, s.classes), G.WithName("t"), G.WithValue(e.tT))
		cost, err := G.ApplyOp(lossOp{kind}, logits, e.t)
		if err != nil {
			return nil, fmt.Errorf("models: loss: %w", err)
		}
		G.Read(cost, &e.loss)
		switch m {
		case modeDeltas:
			// Differentiating w.r.t. the first weight forces the backward pass down
			// to the input layer; every pre-activation node on the way gets its
			// gradient node, which is all the per-sample norms need.
			if _, err := G.Grad(cost, e.w[0]); err != nil {
				return nil, fmt.Errorf("models: backward: %w", err)
			}
			e.acts = make([]G.Value, len(as))
			e.deltas = make([]G.Value, len(zs))
			for i := range as {
				G.Read(as[i], &e.acts[i])
				if zs[i].Deriv() == nil {
					return nil, fmt.Errorf("models: layer %s has no gradient node", s.layers[i].name)
				}
				G.Read(zs[i].Deriv(), &e.deltas[i])
			}
		case modeGrads:
			gs, err := G.Grad(cost, e.w...)
			if err != nil {
				return nil, fmt.Errorf("models: backward: %w", err)
			}
			e.grads = make([]G.Value, len(gs))
			for i := range gs {
				G.Read(gs[i], &e.grads[i])
			}
		}
	}
	e.vm = G.NewTapeMachine(g)
	return e, nil
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
	batch int
	dtype tensor.Dtype
	mode  mode
	kind  lossKind
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
	e, err := p.net.build(k.batch, k.dtype, k.mode, k.kind)
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
