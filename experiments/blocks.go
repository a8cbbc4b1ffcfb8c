package experiments

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"

	"github.com/purview-lab/purview/internal/cache"
	"github.com/purview-lab/purview/models"
)

// blockRows is the number of samples per cached block of per-sample work.
// Blocks start at multiples of blockRows in each set, so a shard — a
// contiguous range of whole blocks — computes exactly the blocks an unsharded
// run would, and a killed run resumes block by block. (A variable only so
// tests can use small blocks.)
var blockRows = 512

// quantityCode versions the cached per-sample model quantities: bump it
// whenever the engine would compute different values for the same weights
// and inputs, so stale blocks are never reused.
const quantityCode = "purview quantities v1"

// cachedNet is the model as the detectors see it in a run: its per-sample
// quantities (logits and penultimate features, purview features, hidden-layer
// features) are computed in blocks of blockRows samples, each stored in the
// content-addressed cache under the checksum of the weights and of the
// block's pixels. A rerun, a resumed run and the merge of a sharded run read
// them back instead of recomputing; the values are the same bytes either
// way, because every row depends only on its own sample.
type cachedNet struct {
	models.Inspector
	store        *cache.Store
	model        string // SHA-256 of the weights
	hits, misses atomic.Int64
}

// testHookCompute, when set by a test, runs before every block is computed;
// an error stops the run there, as a crash would.
var testHookCompute func() error

// newCachedNet wraps net; store nil disables caching (every call computes).
func newCachedNet(net models.Inspector, store *cache.Store) *cachedNet {
	return &cachedNet{Inspector: net, store: store, model: weightsChecksum(net)}
}

// weightsChecksum is the SHA-256 over every parameter tensor's name, shape
// and float32 bits, in state_dict order.
func weightsChecksum(net models.Network) string {
	h := sha256.New()
	var b [8]byte
	for _, p := range net.Params() {
		h.Write([]byte(p.Name))
		h.Write([]byte{0})
		for _, d := range p.Shape {
			binary.LittleEndian.PutUint64(b[:], uint64(d))
			h.Write(b[:])
		}
		buf := make([]byte, 0, 4*len(p.Data))
		for _, v := range p.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pixelsChecksum is the SHA-256 of the float32 bits of x.
func pixelsChecksum(x []float32) string {
	h := sha256.New()
	buf := make([]byte, 0, 1<<16)
	for _, v := range x {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// blocks calls fn for each block [lo, hi) of n rows.
func blocks(n int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += blockRows {
		if err := fn(lo, min(lo+blockRows, n)); err != nil {
			return err
		}
	}
	return nil
}

// cached returns the block's stored values (want float32 or float64 values,
// little-endian) or computes them with compute and stores them. what names
// the quantity canonically (it is part of the key).
func (c *cachedNet) cached(what any, x []float32, dst []byte, compute func() ([]byte, error)) ([]byte, error) {
	if c.store == nil {
		return compute()
	}
	cfg, err := json.Marshal(what)
	if err != nil {
		return nil, err
	}
	key := cache.NewKey(cache.KindScores, cfg, quantityCode,
		cache.Input{Name: "model", Checksum: c.model}, cache.Input{Name: "pixels", Checksum: pixelsChecksum(x)})
	if e, ok, err := c.store.Get(key); err != nil {
		return nil, err
	} else if ok {
		b, err := os.ReadFile(e.Path("values.bin"))
		if err == nil && len(b) == len(dst) {
			c.hits.Add(1)
			return b, nil
		}
	}
	c.misses.Add(1)
	if testHookCompute != nil {
		if err := testHookCompute(); err != nil {
			return nil, err
		}
	}
	b, err := compute()
	if err != nil {
		return nil, err
	}
	if _, err := c.store.Put(key, fmt.Sprintf("%s of %d samples", cfg, len(dst)), map[string]func(io.Writer) error{
		"values.bin": func(w io.Writer) error { _, err := w.Write(b); return err },
	}); err != nil {
		return nil, err
	}
	return b, nil
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func bytesF32(b []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

func f64bytes(v []float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func bytesF64(b []byte, dst []float64) {
	for i := range dst {
		dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
}

// Forward returns the logits and penultimate features of x, block by block.
func (c *cachedNet) Forward(x []float32, n int) (logits, feats []float32, err error) {
	if n < 0 || len(x) != n*c.dim() {
		return c.Inspector.Forward(x, n) // let the model report the misuse
	}
	C, D, d := c.Classes(), c.FeatureDim(), c.dim()
	logits, feats = make([]float32, n*C), make([]float32, n*D)
	err = blocks(n, func(lo, hi int) error {
		m := hi - lo
		b, err := c.cached(struct{ Q string }{"forward"}, x[lo*d:hi*d], make([]byte, 4*m*(C+D)), func() ([]byte, error) {
			l, f, err := c.Inspector.Forward(x[lo*d:hi*d], m)
			if err != nil {
				return nil, err
			}
			return append(f32bytes(l), f32bytes(f)...), nil
		})
		if err != nil {
			return err
		}
		bytesF32(b[:4*m*C], logits[lo*C:hi*C])
		bytesF32(b[4*m*C:], feats[lo*D:hi*D])
		return nil
	})
	return logits, feats, err
}

// GradNorms writes the purview features of x for confound cf into dst.
func (c *cachedNet) GradNorms(x []float32, n int, cf models.Confound, dst []float64) error {
	P, d := len(c.GradNames()), c.dim()
	if n < 0 || len(x) != n*d || len(dst) != n*P {
		return c.Inspector.GradNorms(x, n, cf, dst)
	}
	what := struct {
		Q     string
		Label []float32
		Act   string
	}{"gradnorms", cf.Label, cf.Act.String()}
	return blocks(n, func(lo, hi int) error {
		m := hi - lo
		b, err := c.cached(what, x[lo*d:hi*d], make([]byte, 8*m*P), func() ([]byte, error) {
			out := make([]float64, m*P)
			if err := c.Inspector.GradNorms(x[lo*d:hi*d], m, cf, out); err != nil {
				return nil, err
			}
			return f64bytes(out), nil
		})
		if err != nil {
			return err
		}
		bytesF64(b, dst[lo*P:hi*P])
		return nil
	})
}

// LayerFeatures returns the hidden-layer features of x, block by block.
func (c *cachedNet) LayerFeatures(x []float32, n int, taps []string, r models.Reduce) ([][]float32, error) {
	d := c.dim()
	if n < 0 || len(x) != n*d {
		return c.Inspector.LayerFeatures(x, n, taps, r)
	}
	var dims []int
	names := taps
	all := c.Taps()
	if names == nil {
		for _, t := range all {
			names = append(names, t.Name)
		}
	}
	for _, name := range names {
		found := false
		for _, t := range all {
			if t.Name == name {
				dims = append(dims, t.Dim(r))
				found = true
			}
		}
		if !found {
			return c.Inspector.LayerFeatures(x, n, taps, r) // the model names the unknown tap
		}
	}
	width := 0
	for _, w := range dims {
		width += w
	}
	out := make([][]float32, len(names))
	for i := range out {
		out[i] = make([]float32, n*dims[i])
	}
	what := struct {
		Q      string
		Taps   []string
		Reduce int
	}{"features", names, int(r)}
	err := blocks(n, func(lo, hi int) error {
		m := hi - lo
		b, err := c.cached(what, x[lo*d:hi*d], make([]byte, 4*m*width), func() ([]byte, error) {
			fs, err := c.Inspector.LayerFeatures(x[lo*d:hi*d], m, names, r)
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			for _, f := range fs {
				buf.Write(f32bytes(f))
			}
			return buf.Bytes(), nil
		})
		if err != nil {
			return err
		}
		off := 0
		for i, w := range dims {
			bytesF32(b[off:off+4*m*w], out[i][lo*w:hi*w])
			off += 4 * m * w
		}
		return nil
	})
	return out, err
}

// DropoutForward passes through to the model when it has dropout (the
// detectors ask for it only then).
func (c *cachedNet) DropoutForward(x []float32, n int, seed uint64) ([]float32, error) {
	s, ok := c.Inspector.(models.Stochastic)
	if !ok {
		return nil, fmt.Errorf("model %s has no dropout (use arch \"lenet5-dropout\" for Monte-Carlo dropout)", c.Arch())
	}
	return s.DropoutForward(x, n, seed)
}

func (c *cachedNet) dim() int {
	ch, h, w := c.InputShape()
	return ch * h * w
}
