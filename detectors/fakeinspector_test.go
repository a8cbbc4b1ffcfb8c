package detectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/models"
)

// tanhNet is a pure-Go models.Inspector and models.Stochastic over 1×1×2
// images x = (x1, x2) with 2 classes:
//
//	t1 = tanh(A x + a)    4 units, tap "t1" shaped 2×1×2 (channel c = units 2c, 2c+1)
//	t2 = tanh(B t1 + b)   2 units, tap "t2" shaped 2×1×1: the penultimate features
//	z  = V t2 + c         logits
//
// Gradients are closed-form backpropagation in float64. With drop > 0,
// DropoutForward applies inverted dropout to t2: sample i's unit u is kept
// (scaled by 1/(1−drop)) when the u-th Float64 of PCG(seed, i) is ≥ drop.
// The weights make class 0 sit near (0.9, 0.1), class 1 near (0.1, 0.9), and
// inputs near (0.5, 0.5) ambiguous.
type tanhNet struct {
	drop float64

	forwards, layerCalls atomic.Int32
	mu                   sync.Mutex
	lastForward          []float32 // x of the last Forward call
}

var (
	tnA = [4][2]float64{{3, -3}, {-3, 3}, {2, 2}, {1, -1}}
	tna = [4]float64{0, 0, -2, 0}
	tnB = [2][4]float64{{1, -1, 0.5, 1}, {-1, 1, 0.5, -1}}
	tnb = [2]float64{0.8, 0.8}
	tnV = [2][2]float64{{4, -4}, {-4, 4}}
	tnc = [2]float64{0.1, -0.1}
)

func (*tanhNet) Arch() string              { return "tanh" }
func (*tanhNet) Classes() int              { return 2 }
func (*tanhNet) InputShape() (c, h, w int) { return 1, 1, 2 }
func (*tanhNet) FeatureDim() int           { return 2 }
func (*tanhNet) Params() []models.Param    { return nil }
func (*tanhNet) GradNames() []string       { return nil }
func (*tanhNet) GradNorms([]float32, int, models.Confound, []float64) error {
	return fmt.Errorf("tanh: no gradient norms")
}
func (*tanhNet) Taps() []models.Tap {
	return []models.Tap{{Name: "t1", C: 2, H: 1, W: 2}, {Name: "t2", C: 2, H: 1, W: 1}}
}

// tnActs is one sample's activations.
type tnActs struct {
	x      [2]float64
	t1     [4]float64
	t2, z  [2]float64
	masked [2]float64 // t2 after dropout (= t2 without)
}

func tnForward(x [2]float64, mask [2]float64) tnActs {
	var a tnActs
	a.x = x
	for u := range 4 {
		a.t1[u] = math.Tanh(tnA[u][0]*x[0] + tnA[u][1]*x[1] + tna[u])
	}
	for v := range 2 {
		s := tnb[v]
		for u := range 4 {
			s += tnB[v][u] * a.t1[u]
		}
		a.t2[v] = math.Tanh(s)
		a.masked[v] = a.t2[v] * mask[v]
	}
	for c := range 2 {
		a.z[c] = tnc[c] + tnV[c][0]*a.masked[0] + tnV[c][1]*a.masked[1]
	}
	return a
}

var noMask = [2]float64{1, 1}

// tnBackT2 returns ∂ℓ/∂x given ∂ℓ/∂t2.
func tnBackT2(a tnActs, gt2 [2]float64) [2]float64 {
	var gt1 [4]float64
	for v := range 2 {
		d := gt2[v] * (1 - a.t2[v]*a.t2[v])
		for u := range 4 {
			gt1[u] += tnB[v][u] * d
		}
	}
	return tnBackT1(a, gt1)
}

// tnBackT1 returns ∂ℓ/∂x given ∂ℓ/∂t1.
func tnBackT1(a tnActs, gt1 [4]float64) [2]float64 {
	var gx [2]float64
	for u := range 4 {
		d := gt1[u] * (1 - a.t1[u]*a.t1[u])
		gx[0] += tnA[u][0] * d
		gx[1] += tnA[u][1] * d
	}
	return gx
}

func (n *tanhNet) sample(x []float32, i int) [2]float64 {
	return [2]float64{float64(x[2*i]), float64(x[2*i+1])}
}

func (n *tanhNet) check(x []float32, k int) error {
	if k < 0 || len(x) != 2*k {
		return fmt.Errorf("tanh: %d values for %d images", len(x), k)
	}
	return nil
}

func (n *tanhNet) Forward(x []float32, k int) (logits, feats []float32, err error) {
	if err := n.check(x, k); err != nil {
		return nil, nil, err
	}
	n.forwards.Add(1)
	n.mu.Lock()
	n.lastForward = append([]float32(nil), x...)
	n.mu.Unlock()
	for i := range k {
		a := tnForward(n.sample(x, i), noMask)
		logits = append(logits, float32(a.z[0]), float32(a.z[1]))
		feats = append(feats, float32(a.t2[0]), float32(a.t2[1]))
	}
	return logits, feats, nil
}

func (n *tanhNet) LayerFeatures(x []float32, k int, taps []string, r models.Reduce) ([][]float32, error) {
	if err := n.check(x, k); err != nil {
		return nil, err
	}
	n.layerCalls.Add(1)
	if taps == nil {
		taps = []string{"t1", "t2"}
	}
	out := make([][]float32, len(taps))
	for j, tap := range taps {
		for i := range k {
			a := tnForward(n.sample(x, i), noMask)
			switch {
			case tap == "t1" && r == models.ChannelMean:
				out[j] = append(out[j], float32((a.t1[0]+a.t1[1])/2), float32((a.t1[2]+a.t1[3])/2))
			case tap == "t1":
				for _, v := range a.t1 {
					out[j] = append(out[j], float32(v))
				}
			case tap == "t2":
				out[j] = append(out[j], float32(a.t2[0]), float32(a.t2[1]))
			default:
				return nil, fmt.Errorf("tanh: no tap %q", tap)
			}
		}
	}
	return out, nil
}

func (n *tanhNet) InputGrad(x []float32, k int, loss models.LossFunc, grad []float32) ([]float32, []float64, error) {
	if err := n.check(x, k); err != nil {
		return nil, nil, err
	}
	var logits []float32
	losses := make([]float64, k)
	for i := range k {
		a := tnForward(n.sample(x, i), noMask)
		z := []float32{float32(a.z[0]), float32(a.z[1])}
		g := make([]float32, 2)
		losses[i] = loss(i, z, g)
		var gt2 [2]float64
		for c := range 2 {
			for v := range 2 {
				gt2[v] += tnV[c][v] * float64(g[c])
			}
		}
		gx := tnBackT2(a, gt2)
		grad[2*i], grad[2*i+1] = float32(gx[0]), float32(gx[1])
		logits = append(logits, z...)
	}
	return logits, losses, nil
}

func (n *tanhNet) FeatureGrad(x []float32, k int, tap string, r models.Reduce, loss models.LossFunc, grad []float32) ([]float64, error) {
	if err := n.check(x, k); err != nil {
		return nil, err
	}
	losses := make([]float64, k)
	for i := range k {
		a := tnForward(n.sample(x, i), noMask)
		var gx [2]float64
		switch tap {
		case "t1":
			var f []float32
			if r == models.ChannelMean {
				f = []float32{float32((a.t1[0] + a.t1[1]) / 2), float32((a.t1[2] + a.t1[3]) / 2)}
			} else {
				f = []float32{float32(a.t1[0]), float32(a.t1[1]), float32(a.t1[2]), float32(a.t1[3])}
			}
			g := make([]float32, len(f))
			losses[i] = loss(i, f, g)
			var gt1 [4]float64
			for u := range 4 {
				if r == models.ChannelMean {
					gt1[u] = float64(g[u/2]) / 2
				} else {
					gt1[u] = float64(g[u])
				}
			}
			gx = tnBackT1(a, gt1)
		case "t2":
			f := []float32{float32(a.t2[0]), float32(a.t2[1])}
			g := make([]float32, 2)
			losses[i] = loss(i, f, g)
			gx = tnBackT2(a, [2]float64{float64(g[0]), float64(g[1])})
		default:
			return nil, fmt.Errorf("tanh: no tap %q", tap)
		}
		grad[2*i], grad[2*i+1] = float32(gx[0]), float32(gx[1])
	}
	return losses, nil
}

// tnMask is sample i's dropout mask under seed.
func (n *tanhNet) tnMask(seed uint64, i int) [2]float64 {
	if n.drop == 0 {
		return noMask
	}
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	var m [2]float64
	for u := range m {
		if rng.Float64() >= n.drop {
			m[u] = 1 / (1 - n.drop)
		}
	}
	return m
}

func (n *tanhNet) DropoutForward(x []float32, k int, seed uint64) ([]float32, error) {
	if err := n.check(x, k); err != nil {
		return nil, err
	}
	var logits []float32
	for i := range k {
		a := tnForward(n.sample(x, i), n.tnMask(seed, i))
		logits = append(logits, float32(a.z[0]), float32(a.z[1]))
	}
	return logits, nil
}

var (
	_ models.Inspector  = (*tanhNet)(nil)
	_ models.Stochastic = (*tanhNet)(nil)
)

// tanhSet returns nID in-distribution images (alternating classes 0 and 1:
// (0.9, 0.1) and (0.1, 0.9) plus uniform noise of ±0.05, labelled) and nAnom
// anomalies ((0.5, 0.5) ± 0.05, label −1), drawn from PCG(seed, 1).
func tanhSet(nID, nAnom int, seed uint64) (in, anom *datasets.Set) {
	rng := rand.New(rand.NewPCG(seed, 1))
	jitter := func(v float64) float32 { return float32(v + 0.1*(rng.Float64()-0.5)) }
	in = &datasets.Set{Name: "tanh:id", C: 1, H: 1, W: 2}
	for i := range nID {
		c := i % 2
		if c == 0 {
			in.Images = append(in.Images, jitter(0.9), jitter(0.1))
		} else {
			in.Images = append(in.Images, jitter(0.1), jitter(0.9))
		}
		in.Labels = append(in.Labels, c)
		in.Index = append(in.Index, i)
	}
	anom = &datasets.Set{Name: "tanh:anom", C: 1, H: 1, W: 2}
	for i := range nAnom {
		anom.Images = append(anom.Images, jitter(0.5), jitter(0.5))
		anom.Labels = append(anom.Labels, -1)
		anom.Index = append(anom.Index, i)
	}
	return in, anom
}

// tapsNet is a models.Inspector that only knows its taps, for fake probes
// that serve literal layer features.
type tapsNet struct{ taps []models.Tap }

func (tapsNet) Arch() string                                         { return "taps" }
func (tapsNet) Classes() int                                         { return 2 }
func (tapsNet) InputShape() (c, h, w int)                            { return 1, 1, 1 }
func (tapsNet) FeatureDim() int                                      { return 1 }
func (tapsNet) Params() []models.Param                               { return nil }
func (tapsNet) GradNames() []string                                  { return nil }
func (n tapsNet) Taps() []models.Tap                                 { return n.taps }
func (tapsNet) Forward([]float32, int) ([]float32, []float32, error) { return nil, nil, errNoCompute }
func (tapsNet) GradNorms([]float32, int, models.Confound, []float64) error {
	return errNoCompute
}
func (tapsNet) LayerFeatures([]float32, int, []string, models.Reduce) ([][]float32, error) {
	return nil, errNoCompute
}
func (tapsNet) InputGrad([]float32, int, models.LossFunc, []float32) ([]float32, []float64, error) {
	return nil, nil, errNoCompute
}
func (tapsNet) FeatureGrad([]float32, int, string, models.Reduce, models.LossFunc, []float32) ([]float64, error) {
	return nil, errNoCompute
}

var errNoCompute = fmt.Errorf("taps: computes nothing")
