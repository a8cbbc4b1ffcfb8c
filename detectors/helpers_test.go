package detectors

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/purview-lab/purview/models"
)

// tomlDecoder is a strict Decoder over a literal TOML table, standing in for
// the experiments package's: unknown keys are errors naming the key.
type tomlDecoder string

func (d tomlDecoder) Decode(v any) error {
	md, err := toml.Decode(string(d), v)
	if err != nil {
		return err
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		return fmt.Errorf("unknown key(s) %s", strings.Join(keys, ", "))
	}
	return nil
}

// fakeProbe serves literal matrices. Logits, features, grad norms, layer
// features and labels are optional; asking for a missing matrix is an error.
// Every GradNorms call records its confound in *seen (when seen is non-nil).
// It has no inputs; Model returns model (nil unless set).
type fakeProbe struct {
	z, h, r Matrix
	layers  map[layerKey]Matrix
	labels  []int
	model   models.Network
	mu      *sync.Mutex
	seen    *[]models.Confound
}

// withLayer returns a copy of p with rows as the features of tap under r.
func (p fakeProbe) withLayer(tap string, r models.Reduce, rows [][]float64) fakeProbe {
	q := p
	q.layers = map[layerKey]Matrix{}
	for k, v := range p.layers {
		q.layers[k] = v
	}
	q.layers[layerKey{tap, r}] = matrix(rows)
	return q
}

// withLabels returns a copy of p with class labels.
func (p fakeProbe) withLabels(labels ...int) fakeProbe {
	q := p
	q.labels = labels
	return q
}

func (p fakeProbe) LayerFeatures(tap string, r models.Reduce) (Matrix, error) {
	m, ok := p.layers[layerKey{tap, r}]
	if !ok {
		return Matrix{}, fmt.Errorf("fake probe: no layer %q reduced by %d", tap, r)
	}
	return selectRows(m, nil), nil
}

func (p fakeProbe) DropoutLogits(uint64) (Matrix, error) {
	return Matrix{}, fmt.Errorf("fake probe: no dropout logits")
}

func (p fakeProbe) Inputs() ([]float32, int, error) {
	return nil, 0, fmt.Errorf("fake probe: no inputs")
}

func (p fakeProbe) Labels() []int { return append([]int(nil), p.labels...) }

func (p fakeProbe) Model() models.Network { return p.model }

func newFakeProbe(z, h, r [][]float64) fakeProbe {
	return fakeProbe{z: matrix(z), h: matrix(h), r: matrix(r), mu: &sync.Mutex{}, seen: new([]models.Confound)}
}

func (p fakeProbe) Len() int {
	n := max(p.z.Rows, p.h.Rows, p.r.Rows, len(p.labels))
	for _, m := range p.layers {
		n = max(n, m.Rows)
	}
	return n
}

func (p fakeProbe) Logits() (Matrix, error) {
	if p.z.Data == nil {
		return Matrix{}, fmt.Errorf("fake probe: no logits")
	}
	return selectRows(p.z, nil), nil
}

func (p fakeProbe) Penultimate() (Matrix, error) {
	if p.h.Data == nil {
		return Matrix{}, fmt.Errorf("fake probe: no features")
	}
	return selectRows(p.h, nil), nil
}

func (p fakeProbe) GradNorms(c models.Confound) (Matrix, error) {
	if p.seen != nil {
		p.mu.Lock()
		*p.seen = append(*p.seen, models.Confound{Label: append([]float32(nil), c.Label...), Act: c.Act})
		p.mu.Unlock()
	}
	if p.r.Data == nil {
		return Matrix{}, fmt.Errorf("fake probe: no grad norms")
	}
	return selectRows(p.r, nil), nil
}

func (p fakeProbe) Subset(idx []int) Probe {
	q := p
	sel := func(m Matrix) Matrix {
		if m.Data == nil {
			return m
		}
		return selectRows(m, idx)
	}
	q.z, q.h, q.r = sel(p.z), sel(p.h), sel(p.r)
	if p.layers != nil {
		q.layers = map[layerKey]Matrix{}
		for k, v := range p.layers {
			q.layers[k] = sel(v)
		}
	}
	if p.labels != nil {
		q.labels = make([]int, len(idx))
		for k, i := range idx {
			q.labels[k] = p.labels[i]
		}
	}
	return q
}

// matrix builds a Matrix from literal rows; nil rows give the zero Matrix.
func matrix(rows [][]float64) Matrix {
	if rows == nil {
		return Matrix{}
	}
	m := Matrix{Rows: len(rows), Data: []float64{}}
	if len(rows) > 0 {
		m.Cols = len(rows[0])
	}
	for _, r := range rows {
		if len(r) != m.Cols {
			panic("ragged literal matrix")
		}
		m.Data = append(m.Data, r...)
	}
	return m
}

// close reports |a−b| ≤ tol·max(1, |b|); equal infinities are close.
func closeTo(a, b, tol float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func allClose(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !closeTo(a[i], b[i], tol) {
			return false
		}
	}
	return true
}
