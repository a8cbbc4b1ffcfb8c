package attacks

import (
	"math"
	"math/rand/v2"

	"github.com/purview-lab/purview/models"
)

// linearModel is multinomial logistic regression, z = W·x + b, whose input
// gradient is known in closed form: ∂ℓ/∂x = Wᵀ·∂ℓ/∂z.
type linearModel struct {
	c, h, w, classes int
	W                []float64 // classes × d, row-major
	B                []float64
}

// mlpModel is a two-layer tanh network, a = tanh(W1·x + b1), z = W2·a + b2,
// with ∂ℓ/∂x = W1ᵀ·((1 − a²) ⊙ W2ᵀ·∂ℓ/∂z).
type mlpModel struct {
	c, h, w, classes, hidden int
	W1, B1, W2, B2           []float64
}

func newLinear(c, h, w, classes int, scale float64, seed uint64) *linearModel {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := c * h * w
	m := &linearModel{c: c, h: h, w: w, classes: classes, W: make([]float64, classes*d), B: make([]float64, classes)}
	for i := range m.W {
		m.W[i] = rng.NormFloat64() * scale / math.Sqrt(float64(d))
	}
	for i := range m.B {
		m.B[i] = rng.NormFloat64() * 0.1
	}
	return m
}

func newMLP(c, h, w, classes, hidden int, seed uint64) *mlpModel {
	rng := rand.New(rand.NewPCG(seed, 2))
	d := c * h * w
	m := &mlpModel{c: c, h: h, w: w, classes: classes, hidden: hidden,
		W1: make([]float64, hidden*d), B1: make([]float64, hidden), W2: make([]float64, classes*hidden), B2: make([]float64, classes)}
	for i := range m.W1 {
		m.W1[i] = rng.NormFloat64() * 3 / math.Sqrt(float64(d))
	}
	for i := range m.B1 {
		m.B1[i] = rng.NormFloat64() * 0.1
	}
	for i := range m.W2 {
		m.W2[i] = rng.NormFloat64() * 3 / math.Sqrt(float64(hidden))
	}
	return m
}

func (m *linearModel) Classes() int              { return m.classes }
func (m *linearModel) InputShape() (c, h, w int) { return m.c, m.h, m.w }

// logits64 returns z = W·x + b for one image.
func (m *linearModel) logits64(x []float32) []float64 {
	d := len(x)
	z := make([]float64, m.classes)
	for k := range z {
		s := m.B[k]
		for j, v := range x {
			s += m.W[k*d+j] * float64(v)
		}
		z[k] = s
	}
	return z
}

func (m *linearModel) Forward(x []float32, n int) ([]float32, []float32, error) {
	d := len(x) / n
	out := make([]float32, n*m.classes)
	for i := range n {
		for k, v := range m.logits64(x[i*d : (i+1)*d]) {
			out[i*m.classes+k] = float32(v)
		}
	}
	return out, nil, nil
}

func (m *linearModel) InputGrad(x []float32, n int, loss models.LossFunc, grad []float32) ([]float32, []float64, error) {
	logits, _, _ := m.Forward(x, n)
	d := len(x) / n
	losses := make([]float64, n)
	for i := range n {
		g := make([]float32, m.classes)
		losses[i] = loss(i, logits[i*m.classes:(i+1)*m.classes], g)
		for j := range d {
			var s float64
			for k := range m.classes {
				s += m.W[k*d+j] * float64(g[k])
			}
			grad[i*d+j] = float32(s)
		}
	}
	return logits, losses, nil
}

func (m *mlpModel) Classes() int              { return m.classes }
func (m *mlpModel) InputShape() (c, h, w int) { return m.c, m.h, m.w }

// hidden64 returns a = tanh(W1·x + b1) for one image.
func (m *mlpModel) hidden64(x []float32) []float64 {
	d := len(x)
	a := make([]float64, m.hidden)
	for u := range a {
		s := m.B1[u]
		for j, v := range x {
			s += m.W1[u*d+j] * float64(v)
		}
		a[u] = math.Tanh(s)
	}
	return a
}

func (m *mlpModel) logits64(a []float64) []float64 {
	z := make([]float64, m.classes)
	for k := range z {
		s := m.B2[k]
		for u, v := range a {
			s += m.W2[k*m.hidden+u] * v
		}
		z[k] = s
	}
	return z
}

func (m *mlpModel) Forward(x []float32, n int) ([]float32, []float32, error) {
	d := len(x) / n
	out := make([]float32, n*m.classes)
	for i := range n {
		for k, v := range m.logits64(m.hidden64(x[i*d : (i+1)*d])) {
			out[i*m.classes+k] = float32(v)
		}
	}
	return out, nil, nil
}

func (m *mlpModel) InputGrad(x []float32, n int, loss models.LossFunc, grad []float32) ([]float32, []float64, error) {
	d := len(x) / n
	logits := make([]float32, n*m.classes)
	losses := make([]float64, n)
	for i := range n {
		a := m.hidden64(x[i*d : (i+1)*d])
		z := logits[i*m.classes : (i+1)*m.classes]
		for k, v := range m.logits64(a) {
			z[k] = float32(v)
		}
		g := make([]float32, m.classes)
		losses[i] = loss(i, z, g)
		delta := make([]float64, m.hidden) // ∂ℓ/∂(W1·x + b1)
		for u := range delta {
			var s float64
			for k := range m.classes {
				s += m.W2[k*m.hidden+u] * float64(g[k])
			}
			delta[u] = s * (1 - a[u]*a[u])
		}
		for j := range d {
			var s float64
			for u := range m.hidden {
				s += m.W1[u*d+j] * delta[u]
			}
			grad[i*d+j] = float32(s)
		}
	}
	return logits, losses, nil
}

// testData returns n random images of shape m.InputShape() with pixels in
// [0,1], some exactly 0 or 1, and the model's predictions as labels (so that
// every sample starts correctly classified).
func testData(m Model, n int, seed uint64) (x []float32, y []int) {
	c, h, w := m.InputShape()
	d := c * h * w
	rng := rand.New(rand.NewPCG(seed, 3))
	x = make([]float32, n*d)
	for j := range x {
		switch u := rng.Float64(); {
		case u < 0.1:
			x[j] = 0
		case u < 0.2:
			x[j] = 1
		default:
			x[j] = float32(rng.Float64())
		}
	}
	logits, _, _ := m.Forward(x, n)
	k := m.Classes()
	y = make([]int, n)
	for i := range y {
		y[i] = argmax(logits[i*k : (i+1)*k])
	}
	return x, y
}

// ceLoss returns the softmax cross-entropy of each image's logits, in float64.
func ceLoss(m Model, x []float32, y []int) []float64 {
	logits, _, _ := m.Forward(x, len(y))
	k := m.Classes()
	out := make([]float64, len(y))
	for i := range y {
		z := logits[i*k : (i+1)*k]
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range z {
			s += math.Exp(float64(v) - mx)
		}
		out[i] = mx + math.Log(s) - float64(z[y[i]])
	}
	return out
}
