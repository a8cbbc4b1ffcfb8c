package detectors

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/models"
)

// NewProbe returns the Probe of network net on the n images x (NCHW float32
// in [0,1], sample-major, len(x) = n·c·h·w with c, h, w = net.InputShape()).
//
// Nothing is computed until a detector asks: the first call to Logits or
// Penultimate runs one net.Forward over all n images (giving both), the first
// call to GradNorms for a confound runs one net.GradNorms, the first call to
// LayerFeatures for a (tap, reduction) runs one net.LayerFeatures for that tap
// alone, and the first call to DropoutLogits for a seed runs one
// net.DropoutForward; results are converted to float64 and cached, GradNorms
// keyed by the confound's label and activation. Concurrent callers asking for
// the same quantity wait for the one computation. Subset returns views that
// share this cache: they compute (or reuse) the full matrices and select their
// rows, so splitting the samples into folds never recomputes anything — and a
// sample's dropout masks, which depend on its row in x, are the same in every
// view.
//
// The probe keeps x; the caller must not modify it afterwards. A size that
// does not match the network's input shape is reported as an error by every
// method that computes something. The probe has no class labels (Labels
// returns nil); NewSetProbe's has the set's.
func NewProbe(net models.Network, x []float32, n int) Probe {
	c := &probeCache{net: net, x: x, n: n,
		grads:   map[string]*gradEntry{},
		layers:  map[layerKey]*gradEntry{},
		dropout: map[uint64]*gradEntry{},
		derived: map[string]*gradEntry{}}
	ci, h, w := net.InputShape()
	if n < 0 || len(x) != n*ci*h*w {
		c.err = fmt.Errorf("detectors: probe: %d values for %d images, but model %s takes %dx%dx%d = %d values per image",
			len(x), n, net.Arch(), ci, h, w, ci*h*w)
		if n < 0 {
			c.n = 0
		}
	}
	return &probe{cache: c}
}

// NewSetProbe is NewProbe over the images of s, with the class labels of s
// (kept, not copied). Images whose shape differs from the network's input
// shape give an error naming the set.
func NewSetProbe(net models.Network, s *datasets.Set) Probe {
	p := NewProbe(net, s.Images, s.Len()).(*probe)
	p.cache.labels = s.Labels
	if ci, h, w := net.InputShape(); s.C != ci || s.H != h || s.W != w {
		p.cache.err = fmt.Errorf("detectors: probe: set %q has %dx%dx%d images, model %s takes %dx%dx%d",
			s.Name, s.C, s.H, s.W, net.Arch(), ci, h, w)
	}
	return p
}

// probeCache holds what the network computed for all n samples.
type probeCache struct {
	net    models.Network
	x      []float32
	n      int
	labels []int // nil: unknown
	err    error // set at construction when x does not fit the network

	fwdOnce       sync.Once
	logits, feats Matrix
	fwdErr        error

	mu      sync.Mutex
	grads   map[string]*gradEntry
	layers  map[layerKey]*gradEntry
	dropout map[uint64]*gradEntry
	derived map[string]*gradEntry // memoRows
}

// layerKey identifies one cached LayerFeatures matrix.
type layerKey struct {
	tap    string
	reduce models.Reduce
}

// gradEntry is one lazily computed, cached matrix (of any kind, despite the name).
type gradEntry struct {
	once sync.Once
	m    Matrix
	err  error
}

// forward runs the network once over all samples.
func (c *probeCache) forward() (logits, feats Matrix, err error) {
	c.fwdOnce.Do(func() {
		if c.err != nil {
			c.fwdErr = c.err
			return
		}
		nc, d := c.net.Classes(), c.net.FeatureDim()
		if c.n == 0 {
			c.logits = Matrix{Cols: nc}
			c.feats = Matrix{Cols: d}
			return
		}
		z, h, err := c.net.Forward(c.x, c.n)
		if err != nil {
			c.fwdErr = fmt.Errorf("detectors: probe: forward pass of %s: %w", c.net.Arch(), err)
			return
		}
		if len(z) != c.n*nc || len(h) != c.n*d {
			c.fwdErr = fmt.Errorf("detectors: probe: forward pass of %s returned %d logits and %d features for %d samples, want %d×%d and %d×%d",
				c.net.Arch(), len(z), len(h), c.n, c.n, nc, c.n, d)
			return
		}
		c.logits = Matrix{Rows: c.n, Cols: nc, Data: widen(z)}
		c.feats = Matrix{Rows: c.n, Cols: d, Data: widen(h)}
	})
	return c.logits, c.feats, c.fwdErr
}

// gradNorms computes r(x) for confound cf once per (label, activation).
func (c *probeCache) gradNorms(cf models.Confound) (Matrix, error) {
	if c.err != nil {
		return Matrix{}, c.err
	}
	if len(cf.Label) != c.net.Classes() {
		return Matrix{}, fmt.Errorf("detectors: probe: confounding label has %d entries, model %s has %d classes",
			len(cf.Label), c.net.Arch(), c.net.Classes())
	}
	key := confoundKey(cf)
	e := cacheEntry(&c.mu, c.grads, key)
	e.once.Do(func() {
		names := c.net.GradNames()
		p := len(names)
		dst := make([]float64, c.n*p)
		if c.n > 0 {
			// The network may keep the label slice; give it a copy.
			label := append([]float32(nil), cf.Label...)
			if err := c.net.GradNorms(c.x, c.n, models.Confound{Label: label, Act: cf.Act}, dst); err != nil {
				e.err = fmt.Errorf("detectors: probe: gradient norms of %s for confound %s: %w", c.net.Arch(), key, err)
				return
			}
		}
		e.m = Matrix{Rows: c.n, Cols: p, Data: dst, Names: names}
	})
	return e.m, e.err
}

// cacheEntry returns the entry of key in m, adding an empty one if needed.
func cacheEntry[K comparable](mu *sync.Mutex, m map[K]*gradEntry, key K) *gradEntry {
	mu.Lock()
	defer mu.Unlock()
	e, ok := m[key]
	if !ok {
		e = &gradEntry{}
		m[key] = e
	}
	return e
}

// layerFeatures computes one tap's reduced activations once per (tap, r).
func (c *probeCache) layerFeatures(tap string, r models.Reduce) (Matrix, error) {
	if c.err != nil {
		return Matrix{}, c.err
	}
	ins, ok := c.net.(models.Inspector)
	if !ok {
		return Matrix{}, fmt.Errorf("detectors: probe: model %s does not expose its hidden layers (it is not a models.Inspector)", c.net.Arch())
	}
	var t models.Tap
	found := false
	for _, u := range ins.Taps() {
		if u.Name == tap {
			t, found = u, true
		}
	}
	if !found {
		return Matrix{}, fmt.Errorf("detectors: probe: model %s has no layer %q (layers: %s)", c.net.Arch(), tap, strings.Join(tapNames(ins.Taps()), ", "))
	}
	e := cacheEntry(&c.mu, c.layers, layerKey{tap, r})
	e.once.Do(func() {
		d := t.Dim(r)
		if c.n == 0 {
			e.m = Matrix{Cols: d}
			return
		}
		out, err := ins.LayerFeatures(c.x, c.n, []string{tap}, r)
		if err != nil {
			e.err = fmt.Errorf("detectors: probe: features of layer %q of %s: %w", tap, c.net.Arch(), err)
			return
		}
		if len(out) != 1 || len(out[0]) != c.n*d {
			got := 0
			if len(out) > 0 {
				got = len(out[0])
			}
			e.err = fmt.Errorf("detectors: probe: layer %q of %s gave %d matrices, the first of %d values, want 1 of %d×%d",
				tap, c.net.Arch(), len(out), got, c.n, d)
			return
		}
		e.m = Matrix{Rows: c.n, Cols: d, Data: widen(out[0])}
	})
	return e.m, e.err
}

// dropoutLogits runs one forward pass with dropout active, masks from seed,
// once per seed.
func (c *probeCache) dropoutLogits(seed uint64) (Matrix, error) {
	if c.err != nil {
		return Matrix{}, c.err
	}
	st, ok := c.net.(models.Stochastic)
	if !ok {
		return Matrix{}, fmt.Errorf("detectors: probe: model %s has no dropout forward pass (it is not a models.Stochastic)", c.net.Arch())
	}
	e := cacheEntry(&c.mu, c.dropout, seed)
	e.once.Do(func() {
		nc := c.net.Classes()
		if c.n == 0 {
			e.m = Matrix{Cols: nc}
			return
		}
		z, err := st.DropoutForward(c.x, c.n, seed)
		if err != nil {
			e.err = fmt.Errorf("detectors: probe: dropout forward pass of %s: %w", c.net.Arch(), err)
			return
		}
		if len(z) != c.n*nc {
			e.err = fmt.Errorf("detectors: probe: dropout forward pass of %s returned %d logits for %d samples, want %d×%d",
				c.net.Arch(), len(z), c.n, c.n, nc)
			return
		}
		e.m = Matrix{Rows: c.n, Cols: nc, Data: widen(z)}
	})
	return e.m, e.err
}

func tapNames(ts []models.Tap) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// confoundKey identifies a confound: activation and label entries.
func confoundKey(cf models.Confound) string {
	var b strings.Builder
	b.WriteString(cf.Act.String())
	b.WriteByte(':')
	for i, v := range cf.Label {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
	}
	return b.String()
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// probe is a view of a probeCache: all samples (idx == nil) or the rows idx.
type probe struct {
	cache *probeCache
	idx   []int // nil means all samples
}

func (p *probe) Len() int {
	if p.idx == nil {
		return p.cache.n
	}
	return len(p.idx)
}

func (p *probe) Logits() (Matrix, error) {
	z, _, err := p.cache.forward()
	if err != nil {
		return Matrix{}, err
	}
	return selectRows(z, p.idx), nil
}

func (p *probe) Penultimate() (Matrix, error) {
	_, h, err := p.cache.forward()
	if err != nil {
		return Matrix{}, err
	}
	return selectRows(h, p.idx), nil
}

func (p *probe) GradNorms(c models.Confound) (Matrix, error) {
	m, err := p.cache.gradNorms(c)
	if err != nil {
		return Matrix{}, err
	}
	return selectRows(m, p.idx), nil
}

func (p *probe) LayerFeatures(tap string, r models.Reduce) (Matrix, error) {
	m, err := p.cache.layerFeatures(tap, r)
	if err != nil {
		return Matrix{}, err
	}
	return selectRows(m, p.idx), nil
}

func (p *probe) DropoutLogits(seed uint64) (Matrix, error) {
	m, err := p.cache.dropoutLogits(seed)
	if err != nil {
		return Matrix{}, err
	}
	return selectRows(m, p.idx), nil
}

func (p *probe) Model() models.Network { return p.cache.net }

// Inputs returns the cache's x itself for a whole probe, a copy of the
// selected images for a subset.
func (p *probe) Inputs() ([]float32, int, error) {
	c := p.cache
	if c.err != nil {
		return nil, 0, c.err
	}
	if p.idx == nil {
		return c.x, c.n, nil
	}
	ci, h, w := c.net.InputShape()
	d := ci * h * w
	x := make([]float32, len(p.idx)*d)
	for k, i := range p.idx {
		copy(x[k*d:(k+1)*d], c.x[i*d:(i+1)*d])
	}
	return x, len(p.idx), nil
}

func (p *probe) Labels() []int {
	l := p.cache.labels
	if l == nil {
		return nil
	}
	if p.idx == nil {
		return append([]int(nil), l...)
	}
	out := make([]int, len(p.idx))
	for k, i := range p.idx {
		out[k] = l[i]
	}
	return out
}

// memoRows returns the rows of p of a per-sample matrix that fn computes
// from a probe, computing it once per key for all samples of p's cache: every
// fold and pair that scores some of those samples then shares one
// computation. key must identify everything fn depends on besides the
// samples; fn's rows must depend on their own sample only. Probes of other
// types run fn on p itself.
func memoRows(p Probe, key string, fn func(all Probe) (Matrix, error)) (Matrix, error) {
	q, ok := p.(*probe)
	if !ok {
		return fn(p)
	}
	e := cacheEntry(&q.cache.mu, q.cache.derived, key)
	e.once.Do(func() { e.m, e.err = fn(&probe{cache: q.cache}) })
	if e.err != nil {
		return Matrix{}, e.err
	}
	return selectRows(e.m, q.idx), nil
}

// sampleRows identifies the samples of p: the cache they live in and their
// rows in it. It returns nil for probes of other types, whose samples cannot
// be identified; detectors use it to leave a sample out of statistics fitted
// on it (a density estimate, a reference batch).
func sampleRows(p Probe) (*probeCache, []int) {
	q, ok := p.(*probe)
	if !ok {
		return nil, nil
	}
	if q.idx != nil {
		return q.cache, q.idx
	}
	rows := make([]int, q.cache.n)
	for i := range rows {
		rows[i] = i
	}
	return q.cache, rows
}

// Subset panics if an index is out of range: that is a programming error.
func (p *probe) Subset(idx []int) Probe {
	n := p.Len()
	sub := make([]int, len(idx))
	for k, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("detectors: Probe.Subset index %d out of range [0,%d)", i, n))
		}
		if p.idx == nil {
			sub[k] = i
		} else {
			sub[k] = p.idx[i]
		}
	}
	return &probe{cache: p.cache, idx: sub}
}

// selectRows returns a copy of the rows idx of m (all rows when idx is nil),
// so callers may modify what they get without touching the cache.
func selectRows(m Matrix, idx []int) Matrix {
	out := Matrix{Cols: m.Cols, Names: append([]string(nil), m.Names...)}
	if idx == nil {
		out.Rows = m.Rows
		out.Data = append([]float64(nil), m.Data...)
		return out
	}
	out.Rows = len(idx)
	out.Data = make([]float64, len(idx)*m.Cols)
	for k, i := range idx {
		copy(out.Data[k*m.Cols:(k+1)*m.Cols], m.Row(i))
	}
	return out
}
