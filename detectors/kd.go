package detectors

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/purview-lab/purview/internal/logexp"
)

func init() {
	Register("kd", "kernel density (Feinman et al. 2017): score = −log Gaussian-KDE density of the penultimate features under the "+
		"in-distribution samples of the predicted class; param bandwidth (default 1.2, the MNIST value)", newKD)
}

// DefaultKDBandwidth is Feinman et al.'s KDE bandwidth for MNIST; their
// values for CIFAR-10 and SVHN are 0.26 and 1.00, and the LID repository
// uses 3.7926 for MNIST (reference/anchors.md §4.4).
const DefaultKDBandwidth = 1.20

// KD is the kernel-density detector of Feinman, Curtin, Shintre and Gardner
// ("Detecting adversarial samples from artifacts", 2017;
// rfeinman/detecting-adversarial-samples). Fit builds one Gaussian kernel
// density estimate per class c from the penultimate features h_j of the
// in-distribution fit samples (FitData.InDist) whose true label is c; a
// sample x with penultimate features h and predicted class ŷ = argmax z is
// scored under the KDE of ŷ:
//
//	log p(h | ŷ) = log Σ_{j: y_j = ŷ} exp(−‖h − h_j‖²/(2σ²)) − log N_ŷ − (D/2)·log(2π) − D·log σ,
//	score(x)     = −log p(h | ŷ),   higher = more anomalous,
//
// which is sklearn's KernelDensity(kernel="gaussian", bandwidth=σ)
// .score_samples (the reference's density feature) negated. The sum is a
// log-sum-exp with the maximum subtracted, so a far-away sample gets a large
// finite score. Squared distances are computed as ‖h‖² + ‖h_j‖² − 2h·h_j
// (one matrix product per class; clamped at 0).
//
// A sample that is itself one of the fit samples of class ŷ (the same row of
// the same probe cache, as when cross-validation fits on a fold's normal
// samples and trains a regression on them) is left out of its own density:
// its term is dropped and N_ŷ becomes N_ŷ − 1; otherwise its self-term
// exp(0) would dominate. A predicted class without fit samples (or with only
// the sample itself) is an error.
//
// Unsupervised (fitted on labelled in-distribution samples). Fit keeps the
// fit features. Fit must not run concurrently with Score.
//
// TOML parameters: bandwidth (float > 0, default 1.2).
type KD struct {
	Bandwidth float64
	kde       *classKDE
}

func newKD(_ Env, params Decoder) (Detector, error) {
	cfg := struct {
		Bandwidth float64 `toml:"bandwidth"`
	}{Bandwidth: DefaultKDBandwidth}
	if err := decodeParams("kd", params, &cfg); err != nil {
		return nil, err
	}
	if err := checkPositive("kd", "bandwidth", cfg.Bandwidth); err != nil {
		return nil, err
	}
	return &KD{Bandwidth: cfg.Bandwidth}, nil
}

// Name is "kd", or "kd[h=<σ>]" for a bandwidth other than 1.2.
func (d *KD) Name() string {
	if d.Bandwidth == DefaultKDBandwidth {
		return "kd"
	}
	return "kd[h=" + formatFloat(d.Bandwidth) + "]"
}

func (*KD) Kind() Kind     { return Unsupervised }
func (*KD) NeedsFit() bool { return true }

func (d *KD) Fit(fd FitData) error {
	if fd.InDist == nil {
		return fmt.Errorf("detectors: %s: no in-distribution samples to fit on", d.Name())
	}
	k, err := fitKDE(d.Name(), fd.InDist, d.Bandwidth)
	if err != nil {
		return err
	}
	d.kde = k
	return nil
}

func (d *KD) Score(p Probe) ([]float64, error) {
	if d.kde == nil {
		return nil, fmt.Errorf("detectors: %s: Score called before Fit", d.Name())
	}
	return d.kde.negLogDensity(d.Name(), p)
}

// classKDE is one Gaussian KDE per class of penultimate features.
type classKDE struct {
	h       float64
	dim     int
	classes map[int]*kdeClass
	cache   *probeCache    // identifies fit samples, nil if unknown
	members map[int][2]int // cache row → (class, row in that class)
}

type kdeClass struct {
	x     *mat.Dense // N_c × D
	norms []float64  // ‖x_j‖²
}

func fitKDE(typ string, p Probe, h float64) (*classKDE, error) {
	if err := checkPositive(typ, "bandwidth", h); err != nil {
		return nil, err
	}
	labels, err := fitLabels(typ, p)
	if err != nil {
		return nil, err
	}
	f, err := featureRows(typ, "penultimate features", p, p.Penultimate)
	if err != nil {
		return nil, err
	}
	if f.Rows == 0 || f.Cols == 0 {
		return nil, fmt.Errorf("detectors: %s: no in-distribution features to fit on (%d×%d)", typ, f.Rows, f.Cols)
	}
	k := &classKDE{h: h, dim: f.Cols, classes: map[int]*kdeClass{}}
	byClass := map[int][]int{}
	pos := make([]int, f.Rows)
	for i, c := range labels {
		pos[i] = len(byClass[c])
		byClass[c] = append(byClass[c], i)
	}
	for c, idx := range byClass {
		x := selectRows(f, idx)
		kc := &kdeClass{x: mat.NewDense(x.Rows, x.Cols, x.Data), norms: make([]float64, x.Rows)}
		for j := range kc.norms {
			kc.norms[j] = dot(x.Row(j), x.Row(j))
		}
		k.classes[c] = kc
	}
	if cache, rows := sampleRows(p); cache != nil {
		k.cache = cache
		k.members = make(map[int][2]int, len(rows))
		for i, r := range rows {
			k.members[r] = [2]int{labels[i], pos[i]}
		}
	}
	return k, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// kdeChunk bounds the queries per matrix product, and so the memory of one
// block of distances.
const kdeChunk = 256

// negLogDensity returns −log p(h | ŷ) for every sample of p.
func (k *classKDE) negLogDensity(typ string, p Probe) ([]float64, error) {
	z, err := logits(typ, p)
	if err != nil {
		return nil, err
	}
	f, err := featureRows(typ, "penultimate features", p, p.Penultimate)
	if err != nil {
		return nil, err
	}
	if f.Rows != z.Rows {
		return nil, fmt.Errorf("detectors: %s: %d rows of penultimate features for %d rows of logits", typ, f.Rows, z.Rows)
	}
	if f.Rows > 0 && f.Cols != k.dim {
		return nil, fmt.Errorf("detectors: %s: %d penultimate features, fitted on %d", typ, f.Cols, k.dim)
	}
	self := make([]int, f.Rows) // row of the sample in its predicted class's KDE, or −1
	for i := range self {
		self[i] = -1
	}
	if cache, rows := sampleRows(p); cache != nil && cache == k.cache {
		for i, r := range rows {
			if m, ok := k.members[r]; ok && m[0] == argmax(z.Row(i)) {
				self[i] = m[1]
			}
		}
	}
	byClass := map[int][]int{}
	var order []int // classes in order of first appearance, for deterministic errors
	for i := 0; i < z.Rows; i++ {
		c := argmax(z.Row(i))
		if _, ok := byClass[c]; !ok {
			order = append(order, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	out := make([]float64, f.Rows)
	d := float64(k.dim)
	norm := d/2*math.Log(2*math.Pi) + d*math.Log(k.h)
	inv := 1 / (2 * k.h * k.h)
	for _, c := range order {
		idx := byClass[c]
		kc := k.classes[c]
		if kc == nil {
			return nil, fmt.Errorf("detectors: %s: sample %d is predicted as class %d, which has no in-distribution fit samples", typ, idx[0], c)
		}
		nc := len(kc.norms)
		for lo := 0; lo < len(idx); lo += kdeChunk {
			hi := min(lo+kdeChunk, len(idx))
			q := selectRows(f, idx[lo:hi])
			var g mat.Dense
			g.Mul(mat.NewDense(q.Rows, q.Cols, q.Data), kc.x.T())
			e := make([]float64, 0, nc)
			for r := 0; r < q.Rows; r++ {
				i := idx[lo+r]
				qn := dot(q.Row(r), q.Row(r))
				gr := g.RawRowView(r)
				e = e[:0]
				for j, xn := range kc.norms {
					if j == self[i] {
						continue
					}
					e = append(e, -max(qn+xn-2*gr[j], 0)*inv)
				}
				if len(e) == 0 {
					return nil, fmt.Errorf("detectors: %s: sample %d is predicted as class %d, whose only in-distribution fit sample is itself", typ, i, c)
				}
				out[i] = -(logexp.LogSumExp(e, 1) - math.Log(float64(len(e))) - norm)
			}
		}
	}
	return out, nil
}
