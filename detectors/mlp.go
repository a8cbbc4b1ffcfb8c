package detectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/purview-lab/purview/internal/logexp"
)

// Defaults of the purview MLP head.
const (
	DefaultMLPHidden = 64   // hidden units
	DefaultMLPL2     = 1e-3 // L2 penalty λ on the mean log-loss
	// mlpMaxIter bounds the L-BFGS iterations; mlpGradTol stops earlier when
	// every gradient entry is below it.
	mlpMaxIter = 1000
	mlpGradTol = 1e-7
	mlpStream  = 0x4d4c50 // "MLP": PCG stream of the initial weights
)

// mlpHead is a fitted 2-layer perceptron on standardised features:
// s(x) = w2ᵀ tanh(W1 x̃ + b1) + b2, x̃_j = (x_j − mean_j)·scale_j.
type mlpHead struct {
	mean, scale []float64
	hidden, p   int
	theta       []float64 // W1 (H×p, row-major), b1 (H), w2 (H), b2
}

// fitMLP fits the MLP head on u0 (y = 0) and u1 (y = 1): standardisation as
// fitLogReg (training mean and population deviation, constant columns
// ignored), then θ minimising
//
//	(1/N) Σ_i [log(1 + exp(s_i)) − y_i·s_i] + (λ/2)·(‖W1‖² + ‖w2‖²)
//
// (biases not penalised: sklearn MLPClassifier's loss with alpha = λN) by
// L-BFGS (gonum/optimize, sequential, so deterministic) from a Glorot-uniform
// start drawn from PCG(seed, mlpStream): every weight and bias of a layer
// uniform in ±√(6/(fan_in + fan_out)), as sklearn initialises. It stops after
// mlpMaxIter iterations, when the gradient is below mlpGradTol, or when the
// objective stops changing; the objective is not convex, so the result is a
// local minimum, the same one for the same data and seed.
func fitMLP(u0, u1 Matrix, hidden int, lambda float64, seed uint64) (*mlpHead, error) {
	if u0.Rows == 0 || u1.Rows == 0 {
		return nil, fmt.Errorf("need normal and anomalous samples, got %d and %d", u0.Rows, u1.Rows)
	}
	if u0.Cols != u1.Cols {
		return nil, fmt.Errorf("normal samples have %d features, anomalous %d", u0.Cols, u1.Cols)
	}
	if hidden < 1 {
		return nil, fmt.Errorf("the MLP needs at least 1 hidden unit, got %d", hidden)
	}
	n, p, H := u0.Rows+u1.Rows, u0.Cols, hidden
	raw := append(slices.Clone(u0.Data), u1.Data...)
	y := make([]float64, n)
	for i := u0.Rows; i < n; i++ {
		y[i] = 1
	}
	m := &mlpHead{hidden: H, p: p}
	m.mean, m.scale = standardScaler(raw, n, p)
	x := mat.NewDense(n, p, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < p; j++ {
			x.Set(i, j, (raw[i*p+j]-m.mean[j])*m.scale[j])
		}
	}

	dim := H*p + 2*H + 1
	rng := rand.New(rand.NewPCG(seed, mlpStream))
	theta0 := make([]float64, dim)
	b1 := math.Sqrt(6 / float64(p+H))
	for k := 0; k < H*p+H; k++ {
		theta0[k] = b1 * (2*rng.Float64() - 1)
	}
	b2 := math.Sqrt(6 / float64(H+1))
	for k := H*p + H; k < dim; k++ {
		theta0[k] = b2 * (2*rng.Float64() - 1)
	}

	obj := newMLPObjective(x, y, H, lambda)
	prob := optimize.Problem{
		Func: func(th []float64) float64 { f, _ := obj(th); return f },
		Grad: func(grad, th []float64) { _, g := obj(th); copy(grad, g) },
	}
	settings := &optimize.Settings{
		GradientThreshold: mlpGradTol,
		MajorIterations:   mlpMaxIter,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-12, Iterations: 50},
	}
	res, err := optimize.Minimize(prob, theta0, settings, &optimize.LBFGS{})
	if res == nil {
		return nil, fmt.Errorf("MLP: %w", err)
	}
	// A line search that fails at rounding level leaves a usable local
	// minimum: keep any finite result.
	if !finite(res.X) || math.IsNaN(res.F) {
		return nil, fmt.Errorf("MLP training diverged (status %v): %v", res.Status, err)
	}
	m.theta = slices.Clone(res.X)
	return m, nil
}

// newMLPObjective returns the function θ ↦ (objective, gradient) of fitMLP
// for standardised rows x with targets y; θ = W1 (H×p, row-major), b1, w2,
// b2. The result for the last θ is remembered (L-BFGS asks for the value and
// the gradient at the same point separately); the returned gradient is
// overwritten by the next call.
func newMLPObjective(x *mat.Dense, y []float64, H int, lambda float64) func(th []float64) (float64, []float64) {
	n, p := x.Dims()
	dim := H*p + 2*H + 1
	var last []float64
	var lastF float64
	lastG := make([]float64, dim)
	act := mat.NewDense(n, H, nil)
	dA := mat.NewDense(n, H, nil)
	r := make([]float64, n)
	inv := 1 / float64(n)
	return func(th []float64) (float64, []float64) {
		if last != nil && slices.Equal(last, th) {
			return lastF, lastG
		}
		w1 := mat.NewDense(H, p, th[:H*p])
		b1, w2, b2 := th[H*p:H*p+H], th[H*p+H:H*p+2*H], th[dim-1]
		act.Mul(x, w1.T())
		var f float64
		for i := 0; i < n; i++ {
			row := act.RawRowView(i)
			s := b2
			for k := range row {
				row[k] = math.Tanh(row[k] + b1[k])
				s += w2[k] * row[k]
			}
			f += logexp.Softplus(s) - y[i]*s
			r[i] = (logexp.Sigmoid(s) - y[i]) * inv
		}
		var sq float64
		for _, v := range th[:H*p] {
			sq += v * v
		}
		for _, v := range w2 {
			sq += v * v
		}
		lastF = f*inv + lambda/2*sq
		g := lastG
		clear(g)
		gb1, gw2 := g[H*p:H*p+H], g[H*p+H:H*p+2*H]
		for i := 0; i < n; i++ {
			row, drow := act.RawRowView(i), dA.RawRowView(i)
			for k, a := range row {
				gw2[k] += a * r[i]
				drow[k] = r[i] * w2[k] * (1 - a*a)
				gb1[k] += drow[k]
			}
			g[dim-1] += r[i]
		}
		mat.NewDense(H, p, g[:H*p]).Mul(dA.T(), x)
		for k := 0; k < H*p; k++ {
			g[k] += lambda * th[k]
		}
		for k := range gw2 {
			gw2[k] += lambda * w2[k]
		}
		last = append(last[:0], th...)
		return lastF, lastG
	}
}

// score returns the log-odds s(x) of every row.
func (m *mlpHead) score(u Matrix) []float64 {
	H, p := m.hidden, m.p
	th := m.theta
	w1, b1, w2, b2 := th[:H*p], th[H*p:H*p+H], th[H*p+H:H*p+2*H], th[H*p+2*H]
	out := make([]float64, u.Rows)
	xs := make([]float64, p)
	for i := range out {
		for j, v := range u.Row(i) {
			xs[j] = (v - m.mean[j]) * m.scale[j]
		}
		s := b2
		for k := 0; k < H; k++ {
			a := b1[k]
			for j, v := range xs {
				a += w1[k*p+j] * v
			}
			s += w2[k] * math.Tanh(a)
		}
		out[i] = s
	}
	return out
}
