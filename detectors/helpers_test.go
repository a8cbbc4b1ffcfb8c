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

// fakeProbe serves literal matrices. Logits, features and grad norms are
// optional; asking for a missing one is an error. Every GradNorms call
// records its confound in *seen (when seen is non-nil).
type fakeProbe struct {
	z, h, r Matrix
	mu      *sync.Mutex
	seen    *[]models.Confound
}

func newFakeProbe(z, h, r [][]float64) fakeProbe {
	return fakeProbe{z: matrix(z), h: matrix(h), r: matrix(r), mu: &sync.Mutex{}, seen: new([]models.Confound)}
}

func (p fakeProbe) Len() int { return max(p.z.Rows, p.h.Rows, p.r.Rows) }

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
