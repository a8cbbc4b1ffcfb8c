package detectors

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/purview-lab/purview/internal/logexp"
)

// tol is the relative tolerance for closed-form scores computed in float64.
const tol = 1e-14

// Hand-computed scores of the logit-based detectors. Values printed with
// Python's math module: -e/(e+1+1/e) = -0.6652409557748219,
// -log(e+1+1/e) = -1.4076059644443804, -2·log(e+1) = -2.6265233750364456,
// 1000 - log 3 = 998.9013877113318. The ±1000 rows prove the max is
// subtracted before exponentiating (a naive exp overflows to Inf/NaN).
func TestLogitDetectors(t *testing.T) {
	cases := []struct {
		name string
		det  Detector
		z    [][]float64
		want []float64
	}{
		{"msp/uniform", MSP{}, [][]float64{{0, 0}}, []float64{-0.5}},
		{"msp/1,0,-1", MSP{}, [][]float64{{1, 0, -1}}, []float64{-0.6652409557748219}},
		{"msp/large", MSP{}, [][]float64{{1000, 0, -1000}, {-1000, -1000, -1000}}, []float64{-1, -1.0 / 3}},
		{"msp/one class", MSP{}, [][]float64{{3}}, []float64{-1}},
		{"maxlogit", MaxLogit{}, [][]float64{{1, 5, -2}, {-3, -7, -4}}, []float64{-5, 3}},
		{"maxlogit/large", MaxLogit{}, [][]float64{{1000, 0, -1000}}, []float64{-1000}},
		{"energy/uniform", Energy{T: 1}, [][]float64{{0, 0}}, []float64{-0.6931471805599453}},
		{"energy/1,0,-1", Energy{T: 1}, [][]float64{{1, 0, -1}}, []float64{-1.4076059644443804}},
		{"energy/T=2", Energy{T: 2}, [][]float64{{2, 0}}, []float64{-2.6265233750364456}},
		{"energy/large", Energy{T: 1}, [][]float64{{1000, 0, -1000}, {-1000, -1000, -1000}}, []float64{-1000, 998.9013877113318}},
		{"empty", Energy{T: 1}, [][]float64{}, []float64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.det.Score(newFakeProbe(c.z, nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !allClose(got, c.want, tol) {
				t.Errorf("Score = %v, want %v", got, c.want)
			}
		})
	}
}

// GradNorm = (1/T)·‖h‖₁·Σ_j |C·p_j − 1|, score = −GradNorm. Hand values:
//   - z = [0, 0]: p uniform, C·p − 1 = 0 → 0.
//   - z = [log 3, 0]: p = [3/4, 1/4], |1.5−1| + |0.5−1| = 1; ‖[1,−2,3]‖₁ = 6 → −6.
//   - same with z doubled and T = 2: z/T identical, so 6·1/2 → −3.
//   - z = [1000, 0, −1000]: p = [1, 0, 0], |3−1| + 1 + 1 = 4; ‖h‖₁ = 1 → −4.
func TestGradNormHand(t *testing.T) {
	l3 := math.Log(3)
	cases := []struct {
		name string
		T    float64
		z, h [][]float64
		want []float64
	}{
		{"uniform", 1, [][]float64{{0, 0}}, [][]float64{{1, -2}}, []float64{0}},
		{"3/4,1/4", 1, [][]float64{{l3, 0}}, [][]float64{{1, -2, 3}}, []float64{-6}},
		{"T=2", 2, [][]float64{{2 * l3, 0}}, [][]float64{{1, -2, 3}}, []float64{-3}},
		{"large", 1, [][]float64{{1000, 0, -1000}}, [][]float64{{0.5, -0.5}}, []float64{-4}},
		{"two rows", 1, [][]float64{{0, 0, 0}, {l3, 0, 0}}, [][]float64{{2, 2}, {1, 0}},
			// row 2: p = [3/5, 1/5, 1/5], |9/5−1| + 2·|3/5−1| = 8/5.
			[]float64{0, -1.6}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := GradNorm{T: c.T}.Score(newFakeProbe(c.z, c.h, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !allClose(got, c.want, 1e-13) {
				t.Errorf("Score = %v, want %v", got, c.want)
			}
		})
	}
}

// The closed form equals the L1 norm of a central finite-difference gradient
// of L(W) = −Σ_c log softmax((W h + b)/T)_c with respect to W, on a random
// last layer.
func TestGradNormFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const c, d, T = 4, 3, 1.5
	w := make([]float64, c*d)
	b := make([]float64, c)
	h := make([]float64, d)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	for i := range h {
		h[i] = math.Abs(rng.NormFloat64()) // post-ReLU features
	}
	h[1] = -h[1] // ‖h‖₁ must use absolute values
	loss := func(w []float64) float64 {
		z := make([]float64, c)
		for j := range z {
			z[j] = b[j]
			for k := range h {
				z[j] += w[j*d+k] * h[k]
			}
		}
		lse := logexp.LogSumExp(z, T)
		var l float64
		for _, v := range z {
			l -= v/T - lse
		}
		return l
	}
	const eps = 1e-6
	var fd float64
	for i := range w {
		wp, wm := append([]float64(nil), w...), append([]float64(nil), w...)
		wp[i] += eps
		wm[i] -= eps
		fd += math.Abs((loss(wp) - loss(wm)) / (2 * eps))
	}
	z := make([]float64, c)
	for j := range z {
		z[j] = b[j]
		for k := range h {
			z[j] += w[j*d+k] * h[k]
		}
	}
	got, err := GradNorm{T: T}.Score(newFakeProbe([][]float64{z}, [][]float64{h}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !closeTo(-got[0], fd, 1e-7) {
		t.Errorf("GradNorm = %v, finite differences give %v", -got[0], fd)
	}
}

func TestLogitDetectorErrors(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name    string
		det     Detector
		p       Probe
		wantErr string
	}{
		{"nan logit", MSP{}, newFakeProbe([][]float64{{0, 1}, {nan, 0}}, nil, nil), "logits of sample 1 are not finite"},
		{"inf logit", Energy{T: 1}, newFakeProbe([][]float64{{math.Inf(1), 0}}, nil, nil), "detectors: energy: logits of sample 0"},
		{"no logits", MaxLogit{}, newFakeProbe(nil, nil, nil), "fake probe: no logits"},
		{"no columns", MSP{}, newFakeProbe([][]float64{{}}, nil, nil), "logits have no columns"},
		{"bad T", Energy{T: 0}, newFakeProbe([][]float64{{0}}, nil, nil), "temperature"},
		{"gradnorm nan feature", GradNorm{T: 1}, newFakeProbe([][]float64{{0, 1}}, [][]float64{{nan}}, nil), "penultimate features of sample 0"},
		{"gradnorm rows", GradNorm{T: 1}, newFakeProbe([][]float64{{0, 1}}, [][]float64{{1}, {2}}, nil), "2 rows of penultimate features for 1 rows of logits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.det.Score(c.p)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestBaselineConfig(t *testing.T) {
	cases := []struct {
		typ, toml string
		wantName  string
		wantErr   string
	}{
		{"msp", "", "msp", ""},
		{"msp", "temperature = 2", "", "temperature"},
		{"maxlogit", "", "maxlogit", ""},
		{"energy", "", "energy", ""},
		{"energy", "temperature = 1000.0", "energy[T=1000]", ""},
		{"energy", "temperature = 0.5", "energy[T=0.5]", ""},
		{"energy", "temperature = -1.0", "", `detectors: energy: key "temperature": want a finite positive number, got -1`},
		{"energy", "temperature = 'hot'", "", "detectors: energy:"},
		{"gradnorm", "", "gradnorm", ""},
		{"gradnorm", "temperature = 2.0", "gradnorm[T=2]", ""},
		{"gradnorm", "temperature = 0.0", "", "temperature"},
		{"gradnorm", "temp = 2.0", "", "temp"},
	}
	for _, c := range cases {
		t.Run(c.typ+"/"+c.toml, func(t *testing.T) {
			d, err := New(c.typ, Env{Classes: 10}, tomlDecoder(c.toml))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Name() != c.wantName || d.Kind() != Unsupervised || d.NeedsFit() || d.Fit(FitData{}) != nil {
				t.Errorf("got name %q kind %v needsFit %v, want %q, unsupervised, no fit", d.Name(), d.Kind(), d.NeedsFit(), c.wantName)
			}
		})
	}
}
