package attacks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// ballTol is the slack allowed on ‖x' − x‖ ≤ ε: float32 rounding of x ± ε.
const ballTol = 1e-6

func softmax64(z []float64) []float64 {
	m := slices.Max(z)
	p := make([]float64, len(z))
	var s float64
	for i, v := range z {
		p[i] = math.Exp(v - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// ceGradLinear is ∇ₓ CE(Wx + b, y) = Wᵀ(softmax(z) − e_y), derived by hand.
func ceGradLinear(m *linearModel, x []float32, y int) []float64 {
	p := softmax64(m.logits64(x))
	p[y]--
	d := len(x)
	g := make([]float64, d)
	for j := range g {
		for k := range p {
			g[j] += m.W[k*d+j] * p[k]
		}
	}
	return g
}

// ceGradMLP is ∇ₓ CE for the tanh MLP: W1ᵀ((1 − a²) ⊙ W2ᵀ(softmax(z) − e_y)).
func ceGradMLP(m *mlpModel, x []float32, y int) []float64 {
	a := m.hidden64(x)
	p := softmax64(m.logits64(a))
	p[y]--
	d := len(x)
	g := make([]float64, d)
	for u := range a {
		var s float64
		for k := range p {
			s += m.W2[k*m.hidden+u] * p[k]
		}
		s *= 1 - a[u]*a[u]
		for j := range g {
			g[j] += m.W1[u*d+j] * s
		}
	}
	return g
}

// The closed-form models are the oracle of every other test: check their
// InputGrad against central finite differences of the loss in float64.
func TestModelsFiniteDifference(t *testing.T) {
	lin := newLinear(1, 2, 3, 4, 2, 1)
	mlp := newMLP(1, 2, 3, 4, 5, 2)
	for _, tc := range []struct {
		name string
		m    Model
		grad func(x []float32, y int) []float64
	}{
		{"linear", lin, func(x []float32, y int) []float64 { return ceGradLinear(lin, x, y) }},
		{"mlp", mlp, func(x []float32, y int) []float64 { return ceGradMLP(mlp, x, y) }},
	} {
		x, y := testData(tc.m, 3, 7)
		d := 6
		grad := make([]float32, len(x))
		if _, _, err := tc.m.InputGrad(x, 3, func(i int, z, g []float32) float64 { return crossEntropy(z, y[i], g) }, grad); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			want := tc.grad(x[i*d:(i+1)*d], y[i])
			for j := range d {
				// central difference on a float64 copy of the loss
				const h = 1e-3
				xp := slices.Clone(x[i*d : (i+1)*d])
				xm := slices.Clone(xp)
				xp[j] += h
				xm[j] -= h
				fd := (ceLoss(tc.m, xp, y[i:i+1])[0] - ceLoss(tc.m, xm, y[i:i+1])[0]) / (float64(xp[j]) - float64(xm[j]))
				if math.Abs(fd-want[j]) > 1e-4 || math.Abs(float64(grad[i*d+j])-want[j]) > 1e-5 {
					t.Errorf("%s: sample %d pixel %d: analytic %g, finite difference %g, InputGrad %g", tc.name, i, j, want[j], fd, grad[i*d+j])
				}
			}
		}
	}
}

// FGSM on a hand-computed 2-pixel, 2-class example. W = [[1, −2], [0, 1]],
// b = 0, y = 0: ∇ₓCE = Wᵀ(p − e₀) = (−p₁, 3p₁) with p₁ > 0, so sign = (−1, +1)
// whatever x is.
func TestFGSMHandComputed(t *testing.T) {
	m := &linearModel{c: 1, h: 1, w: 2, classes: 2, W: []float64{1, -2, 0, 1}, B: []float64{0, 0}}
	for _, tc := range []struct {
		x    []float32
		eps  float64
		want []float32
	}{
		{[]float32{0.5, 0.25}, 0.3, []float32{0.2, 0.55}},
		{[]float32{0.1, 0.9}, 0.3, []float32{0, 1}}, // both pixels clipped
		{[]float32{0.5, 0.25}, 0, []float32{0.5, 0.25}},
	} {
		r, err := Run(context.Background(), FGSM{Eps: tc.eps}, m, tc.x, []int{0}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for j := range tc.want {
			if math.Abs(float64(r.Adv[j]-tc.want[j])) > 1e-7 {
				t.Errorf("x %v eps %g: adv %v, want %v", tc.x, tc.eps, r.Adv, tc.want)
				break
			}
		}
	}
}

// FGSM equals clip(x + ε·sign(∇ₓCE)) bit for bit, with the gradient derived
// by hand for each closed-form model.
func TestFGSMExact(t *testing.T) {
	lin := newLinear(3, 4, 4, 5, 2, 11)
	mlp := newMLP(3, 4, 4, 5, 16, 12)
	for _, tc := range []struct {
		name string
		m    Model
		grad func(x []float32, y int) []float64
	}{
		{"linear", lin, func(x []float32, y int) []float64 { return ceGradLinear(lin, x, y) }},
		{"mlp", mlp, func(x []float32, y int) []float64 { return ceGradMLP(mlp, x, y) }},
	} {
		const n, d, eps = 50, 48, 0.1
		x, y := testData(tc.m, n, 13)
		r, err := Run(context.Background(), FGSM{Eps: eps}, tc.m, x, y, Options{BatchSize: 16})
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i := range n {
			g := tc.grad(x[i*d:(i+1)*d], y[i])
			for j := range d {
				s := float32(0)
				if g[j] > 0 {
					s = 1
				} else if g[j] < 0 {
					s = -1
				}
				want := min(max(x[i*d+j]+float32(eps)*s, 0), 1)
				if r.Adv[i*d+j] != want {
					bad++
					if bad < 5 {
						t.Errorf("%s: sample %d pixel %d: adv %v, want %v (x %v, grad %g)", tc.name, i, j, r.Adv[i*d+j], want, x[i*d+j], g[j])
					}
				}
			}
		}
	}
}

// attackCases lists every attack with parameters small enough for a fast
// test, several with a tight ball so that the projection is exercised.
func attackCases() []Attack {
	return []Attack{
		FGSM{Eps: 0.05},
		FGSM{Eps: 0.3},
		BIM{Eps: 0.05, Alpha: 0.01, Steps: 10},
		BIM{Eps: 0.02, Alpha: 0.01, Steps: 10, EarlyStop: true},
		PGD{Eps: 0.03, Alpha: 0.01, Steps: 8, RandomStart: true},
		PGD{Eps: 0.1, Alpha: 0.05, Steps: 5, RandomStart: false},
		PGDL2{Eps: 0.5, Alpha: 0.2, Steps: 8, RandomStart: true},
		PGDL2{Eps: 0.1, Alpha: 0.2, Steps: 5, RandomStart: false},
		CW{C: 1, Steps: 30, LR: 0.05, BinarySearchSteps: 3, AbortEarly: true},
		DeepFool{Steps: 20, Overshoot: 0.02, Candidates: 3, StepScale: 1},
	}
}

func testModels() []struct {
	name string
	m    Model
} {
	return []struct {
		name string
		m    Model
	}{
		{"linear", newLinear(3, 4, 4, 5, 3, 21)},
		{"mlp", newMLP(3, 4, 4, 5, 16, 22)},
	}
}

// Every attack keeps its images in [0,1] and, if bounded, in its ε-ball; the
// Result's norms and predictions agree with the images.
func TestBallAndBox(t *testing.T) {
	for _, tm := range testModels() {
		x, y := testData(tm.m, 40, 31)
		for _, a := range attackCases() {
			name := fmt.Sprintf("%s/%+v", tm.name, a)
			r, err := Run(context.Background(), a, tm.m, x, y, Options{BatchSize: 16, Seed: 5})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			norm, eps := a.Threat()
			logits, _, _ := tm.m.Forward(r.Adv, r.N)
			const d = 48
			for i := range r.N {
				for j := i * d; j < (i+1)*d; j++ {
					if !(r.Adv[j] >= 0 && r.Adv[j] <= 1) {
						t.Fatalf("%s: sample %d pixel %d = %v outside [0,1]", name, i, j-i*d, r.Adv[j])
					}
				}
				linf, l2 := Distances(x[i*d:(i+1)*d], r.Adv[i*d:(i+1)*d])
				if linf != r.Linf[i] || l2 != r.L2[i] {
					t.Errorf("%s: sample %d: norms (%g, %g) recorded as (%g, %g)", name, i, linf, l2, r.Linf[i], r.L2[i])
				}
				switch norm {
				case Linf:
					if linf > eps+ballTol {
						t.Errorf("%s: sample %d: L∞ %g > ε %g", name, i, linf, eps)
					}
				case L2:
					if l2 > eps+ballTol {
						t.Errorf("%s: sample %d: L2 %g > ε %g", name, i, l2, eps)
					}
				}
				if p := argmax(logits[i*5 : (i+1)*5]); p != r.Pred[i] || r.Success[i] != (p != y[i]) || r.CleanPred[i] != y[i] {
					t.Errorf("%s: sample %d: pred %d success %v clean %d; want pred %d, success %v, clean %d", name, i, r.Pred[i], r.Success[i], r.CleanPred[i], p, p != y[i], y[i])
				}
			}
		}
	}
}

// BIM and PGD raise the cross-entropy: on average, and for at least 90 % of
// the samples individually.
func TestIterativeRaiseLoss(t *testing.T) {
	for _, tm := range testModels() {
		x, y := testData(tm.m, 60, 41)
		clean := ceLoss(tm.m, x, y)
		for _, a := range []Attack{
			BIM{Eps: 0.05, Alpha: 0.01, Steps: 10},
			PGD{Eps: 0.05, Alpha: 0.01, Steps: 10, RandomStart: true},
			PGDL2{Eps: 0.5, Alpha: 0.1, Steps: 10, RandomStart: true},
		} {
			r, err := Run(context.Background(), a, tm.m, x, y, Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			adv := ceLoss(tm.m, r.Adv, y)
			up, sc, sa := 0, 0.0, 0.0
			for i := range adv {
				sc += clean[i]
				sa += adv[i]
				if adv[i] > clean[i] {
					up++
				}
			}
			if sa <= sc || up < 54 {
				t.Errorf("%s/%s: mean CE %.4g → %.4g, raised on %d of 60", tm.name, a.Name(), sc/60, sa/60, up)
			}
		}
	}
}

// minDistLinear is the exact L2 distance from x to the nearest decision
// boundary of a linear model, without the box: min_k |z_k − z_y|/‖w_k − w_y‖.
func minDistLinear(m *linearModel, x []float32, y int) float64 {
	z := m.logits64(x)
	d := len(x)
	best := math.Inf(1)
	for k := range z {
		if k == y {
			continue
		}
		var s float64
		for j := range d {
			v := m.W[k*d+j] - m.W[y*d+j]
			s += v * v
		}
		best = math.Min(best, math.Abs(z[k]-z[y])/math.Sqrt(s))
	}
	return best
}

// CW and DeepFool fool ≥ 95 % of the samples, and on the linear model no
// adversarial example is closer than the nearest decision boundary. CW runs
// 100 steps instead of torchattacks' 50: 50 Adam steps of 0.01 in tanh space
// move a pixel by at most ≈ 0.25, less than some of these samples need.
func TestMinimumNormAttacks(t *testing.T) {
	for _, tm := range testModels() {
		x, y := testData(tm.m, 60, 51)
		for _, a := range []Attack{
			CW{C: 1, Steps: 100, LR: 0.01, BinarySearchSteps: 5, AbortEarly: true},
			DeepFool{Steps: 50, Overshoot: 0.02, Candidates: 10, StepScale: 1},
		} {
			r, err := Run(context.Background(), a, tm.m, x, y, Options{BatchSize: 32})
			if err != nil {
				t.Fatal(err)
			}
			s := r.Summary()
			if s.Correct != 60 || s.SuccessRate < 0.95 {
				t.Errorf("%s/%s: success %.3f of %d correct, want ≥ 0.95 of 60", tm.name, a.Name(), s.SuccessRate, s.Correct)
			}
			if lin, ok := tm.m.(*linearModel); ok {
				const d = 48
				for i := range r.N {
					if dist := minDistLinear(lin, x[i*d:(i+1)*d], y[i]); r.Success[i] && r.L2[i] < dist*(1-1e-5) {
						t.Errorf("%s: sample %d: L2 %g below the minimum distance %g", a.Name(), i, r.L2[i], dist)
					}
				}
			}
		}
	}
}

// On a linear model DeepFool's first step lands on the nearest boundary, so
// a sample whose step stays inside the box ends at
// L2 = (1 + overshoot)·(dist + 1e−4), dist = min_k |z_k − z_y|/‖w_k − w_y‖.
func TestDeepFoolOneStepLinear(t *testing.T) {
	m := newLinear(3, 4, 4, 5, 3, 55)
	const n, d = 40, 48
	rng := rand.New(rand.NewPCG(56, 0))
	x := make([]float32, n*d)
	for j := range x {
		x[j] = float32(0.3 + 0.4*rng.Float64()) // interior pixels, away from 0 and 1
	}
	logits, _, _ := m.Forward(x, n)
	y := make([]int, n)
	for i := range y {
		y[i] = argmax(logits[i*5 : (i+1)*5])
	}
	for _, overshoot := range []float64{0.02, 0.5} {
		r, err := Run(context.Background(), DeepFool{Steps: 50, Overshoot: overshoot, Candidates: 0, StepScale: 1}, m, x, y, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for i := range n {
			if slices.IndexFunc(r.Adv[i*d:(i+1)*d], func(v float32) bool { return v == 0 || v == 1 }) >= 0 {
				continue // clipped: the closed form does not apply
			}
			checked++
			want := (1 + overshoot) * (minDistLinear(m, x[i*d:(i+1)*d], y[i]) + 1e-4)
			if !r.Success[i] || math.Abs(r.L2[i]-want) > 1e-5*want+1e-7 { // float32 rounding of x'
				t.Errorf("overshoot %g, sample %d: L2 %g success %v, want L2 %g and success", overshoot, i, r.L2[i], r.Success[i], want)
			}
		}
		if checked < n/2 {
			t.Errorf("overshoot %g: only %d of %d samples stayed inside the box", overshoot, checked, n)
		}
	}
}

// Same seed ⇒ the same bytes, whatever the number of workers and the batch
// size; another seed changes the random starts.
func TestDeterminism(t *testing.T) {
	m := newMLP(3, 4, 4, 5, 16, 61)
	x, y := testData(m, 37, 62)
	for _, a := range attackCases() {
		ref, err := Run(context.Background(), a, m, x, y, Options{BatchSize: 8, Workers: 1, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		for _, opt := range []Options{{BatchSize: 8, Workers: 1, Seed: 9}, {BatchSize: 8, Workers: 2, Seed: 9}, {BatchSize: 5, Workers: 3, Seed: 9}, {BatchSize: 64, Seed: 9}} {
			r, err := Run(context.Background(), a, m, x, y, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !sameBits(ref.Adv, r.Adv) || !slices.Equal(ref.Pred, r.Pred) {
				t.Errorf("%+v: options %+v give different images than batch 8, 1 worker", a, opt)
			}
		}
		other, err := Run(context.Background(), a, m, x, y, Options{Seed: 10})
		if err != nil {
			t.Fatal(err)
		}
		random := false
		switch a := a.(type) {
		case PGD:
			random = a.RandomStart
		case PGDL2:
			random = a.RandomStart
		}
		if same := sameBits(ref.Adv, other.Adv); same == random {
			t.Errorf("%+v: seeds 9 and 10 give equal images: %v, want %v", a, same, !random)
		}
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// BIM-A stops each sample at its first misclassified iterate: with a large
// step every sample is fooled after one step and stays where BIM with one
// step puts it.
func TestBIMEarlyStop(t *testing.T) {
	m := newLinear(3, 4, 4, 5, 3, 71)
	x, y := testData(m, 30, 72)
	one, err := Run(context.Background(), BIM{Eps: 0.5, Alpha: 0.5, Steps: 1}, m, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := one.Summary(); s.SuccessRate != 1 {
		t.Fatalf("one BIM step of 0.5 fools %v of the samples, the test needs all", s.SuccessRate)
	}
	a, err := Run(context.Background(), BIM{Eps: 0.5, Alpha: 0.5, Steps: 20, EarlyStop: true}, m, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), BIM{Eps: 0.5, Alpha: 0.5, Steps: 20}, m, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(a.Adv, one.Adv) {
		t.Error("BIM-A with 20 steps differs from the first iterate")
	}
	if sameBits(b.Adv, one.Adv) {
		t.Error("BIM-B with 20 steps equals the first iterate; the early stop was not exercised")
	}
}

// A CW run with one binary-search step and a large constant is torchattacks'
// CW; more binary-search steps can only shrink each sample's best L2.
func TestCWBinarySearchShrinks(t *testing.T) {
	m := newMLP(3, 4, 4, 5, 16, 81)
	x, y := testData(m, 30, 82)
	fixed, err := Run(context.Background(), CW{C: 10, Steps: 40, LR: 0.02, BinarySearchSteps: 1, AbortEarly: true}, m, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	search, err := Run(context.Background(), CW{C: 10, Steps: 40, LR: 0.02, BinarySearchSteps: 4, AbortEarly: true}, m, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sf, ss float64
	for i := range fixed.N {
		if fixed.Success[i] && (!search.Success[i] || search.L2[i] > fixed.L2[i]) {
			t.Errorf("sample %d: binary search lost the first round's example (L2 %g → %g, success %v)", i, fixed.L2[i], search.L2[i], search.Success[i])
		}
		sf += fixed.L2[i]
		ss += search.L2[i]
	}
	if ss >= sf {
		t.Errorf("mean L2 %g with binary search, %g without: want smaller", ss/30, sf/30)
	}
}

func TestRunErrors(t *testing.T) {
	m := newLinear(1, 2, 2, 3, 1, 91)
	x := []float32{0, 0.5, 1, 0.25, 0.1, 0.2, 0.3, 0.4}
	for _, tc := range []struct {
		name string
		a    Attack
		x    []float32
		y    []int
		want string
	}{
		{"label", FGSM{Eps: 0.1}, x, []int{0, 3}, "sample 1 has label 3, want 0..2"},
		{"negative label", FGSM{Eps: 0.1}, x, []int{-1, 0}, "sample 0 has label -1"},
		{"pixel", FGSM{Eps: 0.1}, []float32{0, 0.5, 1, 0.25, 0.1, 1.5, 0.3, 0.4}, []int{0, 1}, "sample 1 has pixel value 1.5 outside [0,1]"},
		{"nan pixel", FGSM{Eps: 0.1}, []float32{float32(math.NaN()), 0.5, 1, 0.25, 0.1, 0.5, 0.3, 0.4}, []int{0, 1}, "sample 0 has pixel value NaN"},
		{"params", BIM{Eps: -1, Alpha: 0.1, Steps: 1}, x, []int{0, 1}, "bim: eps = -1"},
		{"candidates", DeepFool{Steps: 1, Candidates: 1, StepScale: 1}, x, []int{0, 1}, "candidates = 1"},
	} {
		_, err := Run(context.Background(), tc.a, m, tc.x, tc.y, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "attacks: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Run with len(x) ≠ n·C·H·W did not panic")
			}
		}()
		Run(context.Background(), FGSM{}, m, x[:7], []int{0, 1}, Options{})
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, PGD{Eps: 0.1, Alpha: 0.01, Steps: 5}, m, x, []int{0, 1}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: error %v, want context.Canceled", err)
	}
	r, err := Run(context.Background(), FGSM{Eps: 0.1}, m, nil, nil, Options{})
	if err != nil || r.N != 0 {
		t.Errorf("empty run: %v, %v", r, err)
	}
}
