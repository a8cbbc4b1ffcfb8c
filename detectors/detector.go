// Package detectors holds the anomaly detectors. Each detector lives in its own
// file, behind the Detector interface, and registers itself by name from that
// file's init function; adding a detector touches no other file.
//
// Scores follow one convention for every detector: higher = more anomalous.
package detectors

import (
	"github.com/purview-lab/purview/models"
)

// Matrix is a dense row-major matrix of float64, one row per sample.
type Matrix struct {
	Rows, Cols int
	Data       []float64
	Names      []string // optional column names
}

// Row returns row i (a view).
func (m Matrix) Row(i int) []float64 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Probe gives a detector what the model computes for one set of inputs. Each
// quantity is computed once, when first asked for, and cached.
type Probe interface {
	Len() int
	// Logits returns the n×C logits.
	Logits() (Matrix, error)
	// Penultimate returns the n×D penultimate-layer features.
	Penultimate() (Matrix, error)
	// GradNorms returns the n×P purview features r_l(x) for confound c, with
	// column names naming the parameter tensors.
	GradNorms(c models.Confound) (Matrix, error)
	// LayerFeatures returns the n×t.Dim(r) activations of the model's hidden
	// layer (tap) named tap, summarised by r; an error if the model is not a
	// models.Inspector or has no such tap.
	LayerFeatures(tap string, r models.Reduce) (Matrix, error)
	// DropoutLogits returns the n×C logits of one forward pass with dropout
	// active, its masks drawn from seed (models.Stochastic); an error if the
	// model has no such pass. A sample gets the same masks in every Subset.
	DropoutLogits(seed uint64) (Matrix, error)
	// Inputs returns the n images (NCHW float32, sample-major). The caller
	// must not modify x: it may be the probe's own slice.
	Inputs() (x []float32, n int, err error)
	// Labels returns the class of each sample (−1 where the set has none), or
	// nil when the probe has no labels at all.
	Labels() []int
	// Model returns the network the probe runs, for detectors that compute
	// on perturbed inputs (ODIN, Mahalanobis input preprocessing). Such a
	// detector type-asserts models.Inspector or models.Stochastic.
	Model() models.Network
	// Subset returns a probe over the samples at idx (in that order), sharing the cache.
	Subset(idx []int) Probe
}

// Kind says what data a detector needs before it can score.
type Kind int

const (
	// Unsupervised detectors need nothing (NeedsFit false) or in-distribution samples only.
	Unsupervised Kind = iota
	// Supervised detectors are trained on labelled normal and anomalous samples;
	// the experiment cross-validates them so that no sample is scored by a
	// detector that saw it.
	Supervised
)

// FitData is what Fit receives.
type FitData struct {
	// InDist holds in-distribution samples (from the training split), for
	// unsupervised detectors that fit statistics of normal data.
	InDist Probe
	// Normal and Anomalous hold labelled samples, for supervised detectors only.
	Normal, Anomalous Probe
	// Seed seeds any randomness of the fit.
	Seed uint64
}

// Detector scores samples; higher = more anomalous.
type Detector interface {
	// Name is the column label in tables, e.g. "energy" or "purview-logreg".
	Name() string
	// Kind says whether the detector trains on labelled anomalies.
	Kind() Kind
	// NeedsFit reports whether Fit must be called before Score.
	NeedsFit() bool
	// Fit estimates what the detector needs from d. Detectors that need no fit
	// return nil.
	Fit(d FitData) error
	// Score returns one score per sample of p.
	Score(p Probe) ([]float64, error)
}
