package detectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/purview-lab/purview/models"
)

func init() {
	Register("lid", "local intrinsic dimensionality (Ma et al. 2018): per-layer MLE LID −(1/k Σ log(r_i/r_k))⁻¹ against a batch of normal samples, "+
		"combined by logistic regression (supervised). Params k (default 20), batch (default 100), l2 (default 1e-2)",
		newLID)
}

// Defaults of the LID detector.
const (
	DefaultLIDK     = 20  // neighbours, the reference README's CIFAR example
	DefaultLIDBatch = 100 // reference minibatch size
)

// lidStream is the PCG stream of the reference-batch shuffle.
const lidStream = 0x4c4944 // "LID"

// LID is the local-intrinsic-dimensionality detector of Ma et al. (ICLR
// 2018; xingjunm/lid_adversarial_subspace_detection). For every hidden layer
// of the model (the taps, flattened: models.Flatten) and the logits, the
// maximum-likelihood estimate of the LID of a sample x is
//
//	LID(x) = −( (1/k) Σ_{i=1..k} log(r_i(x)/r_k(x)) )⁻¹,
//
// with r_1 ≤ … ≤ r_k the Euclidean distances from x's activations to its k
// nearest normal samples within one reference batch. A logistic regression on
// the per-layer LIDs, fitted on FitData.Normal (0) and FitData.Anomalous (1)
// like the purview logreg head, gives score = wᵀℓ̃ + b, the log-odds of
// "anomalous"; higher = more anomalous.
//
// Reference batches. Fit shuffles the normal training samples with a PCG
// source seeded with (FitData.Seed, lidStream) and cuts them into
// B = ⌈N/batch⌉ consecutive batches whose sizes differ by at most one (so at
// least 2 members each, as batch ≥ 4 and N ≥ 2). A
// normal training sample's neighbours are the other members of its batch (its
// zero self-distance is skipped); every other sample — an anomalous training
// sample, or a scored sample — at position j of its probe is compared with all
// members of batch j mod B. A scored sample that is itself a member (scoring
// the training set through the same probe cache) gets its fit-time batch and
// skips itself, so it scores as in training. k is min(k, m − 1) for a batch
// of m members, so every LID of a batch uses the same k.
//
// The reference estimator's quirk (util.mle_batch): it sorts the distances
// from each query to the clean samples of the minibatch and always drops the
// first, also for adversarial and noisy queries, which are not in that batch
// — and whose batch holds the clean images they were crafted from, so the
// dropped neighbour is usually the query's own source. Here anomalies are not
// paired with normal samples, and only a true self-distance is skipped.
//
// Degenerate distances: r_k = 0 (k duplicates of x) gives LID 0, as does any
// r_i = 0 (the sum is −∞); all k distances equal and positive makes the
// estimate infinite, reported as an error naming the sample and layer.
//
// The reference MinMax-scales the LIDs before LogisticRegressionCV. The
// logistic regression here standardises every column, which absorbs any
// per-column positive affine scaling, so MinMax scaling would change nothing;
// λ is fixed instead of cross-validated.
//
// Memory. The flattened activations of every layer are large (189k values
// per ResNet-34 image), so they are never kept for a whole set: LIDs are
// computed one reference batch at a time, from that batch's activations and
// those of the samples compared with it, in chunks of lidChunk, computed from
// the samples' inputs and dropped (a model probe's cache is bypassed). A
// reference batch's activations are recomputed for every set scored — one
// forward pass per normal training sample and set, traded for memory that
// stays O(batch + lidChunk) instead of O(N) per set.
//
// Supervised; needs a models.Inspector. Fit must not run concurrently with Score.
//
// TOML parameters: k (int ≥ 1, default 20), batch (int ≥ 4, default 100),
// l2 (float > 0, default 1e-2).
type LID struct {
	K, Batch int
	L2       float64

	layers  []string // taps then "logits"
	ref     Probe    // the normal training samples the reference batches are cut from
	batches [][]int  // members of each batch: positions in ref

	refMu     sync.Mutex
	refKept   [][]Matrix // activations of each batch (nil: not kept), see refFeatures
	refTooBig bool
	members   map[int][2]int
	cache     *probeCache // identifies members: cache row → (batch, position)
	logreg    *logregHead

	trainN, trainA Matrix // the LIDs the regression was fitted on
}

// lidLogits names the logits layer among LID's layers.
const lidLogits = "logits"

func newLID(_ Env, params Decoder) (Detector, error) {
	const typ = "lid"
	cfg := struct {
		K     int     `toml:"k"`
		Batch int     `toml:"batch"`
		L2    float64 `toml:"l2"`
	}{K: DefaultLIDK, Batch: DefaultLIDBatch, L2: DefaultL2}
	if err := decodeParams(typ, params, &cfg); err != nil {
		return nil, err
	}
	if cfg.K < 1 {
		return nil, fmt.Errorf("detectors: %s: key \"k\": want an integer ≥ 1, got %d", typ, cfg.K)
	}
	if cfg.Batch < 4 {
		return nil, fmt.Errorf("detectors: %s: key \"batch\": want an integer ≥ 4, got %d", typ, cfg.Batch)
	}
	if err := checkPositive(typ, "l2", cfg.L2); err != nil {
		return nil, err
	}
	return &LID{K: cfg.K, Batch: cfg.Batch, L2: cfg.L2}, nil
}

// Name is "lid", or "lid[k=<k>,batch=<m>,l2=<λ>]" listing the values that
// differ from the defaults.
func (d *LID) Name() string {
	var extra []string
	if d.K != DefaultLIDK {
		extra = append(extra, fmt.Sprintf("k=%d", d.K))
	}
	if d.Batch != DefaultLIDBatch {
		extra = append(extra, fmt.Sprintf("batch=%d", d.Batch))
	}
	if d.L2 != DefaultL2 {
		extra = append(extra, "l2="+formatFloat(d.L2))
	}
	return withParams("lid", extra)
}

func (*LID) Kind() Kind     { return Supervised }
func (*LID) NeedsFit() bool { return true }

// lidLayers returns the feature matrix of every LID layer of p.
func lidLayers(typ string, p Probe, layers []string) ([]Matrix, error) {
	out := make([]Matrix, len(layers))
	for l, name := range layers {
		get := func() (Matrix, error) { return p.LayerFeatures(name, models.Flatten) }
		what := fmt.Sprintf("activations of layer %q", name)
		if name == lidLogits {
			get, what = p.Logits, "logits"
		}
		m, err := featureRows(typ, what, p, get)
		if err != nil {
			return nil, err
		}
		out[l] = m
	}
	return out, nil
}

// lidChunk is how many compared samples' activations are held at once.
const lidChunk = 256

// lidLayersOf is lidLayers without leaving the flattened activations in a
// model probe's cache: a model probe's samples go through the model here,
// on their own inputs (per-sample results do not depend on the batch, so
// they equal the cached ones); other probes are asked as usual.
func lidLayersOf(typ string, p Probe, layers []string) ([]Matrix, error) {
	q, ok := p.(*probe)
	if !ok {
		return lidLayers(typ, p, layers)
	}
	ins, err := inspector(typ, p)
	if err != nil {
		return nil, err
	}
	var taps []string
	for _, name := range layers {
		if name != lidLogits {
			taps = append(taps, name)
		}
	}
	x, n, err := probeInputs(typ, q)
	if err != nil {
		return nil, err
	}
	var acts [][]float32
	if n > 0 && len(taps) > 0 {
		if acts, err = ins.LayerFeatures(x, n, taps, models.Flatten); err != nil {
			return nil, fmt.Errorf("detectors: %s: activations of layers %v: %w", typ, taps, err)
		}
	}
	if n > 0 && len(acts) != len(taps) {
		return nil, fmt.Errorf("detectors: %s: the model gave %d activation matrices for layers %v", typ, len(acts), taps)
	}
	out := make([]Matrix, len(layers))
	t := 0
	for l, name := range layers {
		get, what := p.Logits, "logits"
		if name != lidLogits {
			what = fmt.Sprintf("activations of layer %q", name)
			var m Matrix
			if n > 0 {
				if len(acts[t])%n != 0 {
					return nil, fmt.Errorf("detectors: %s: %s: %d values for %d samples", typ, what, len(acts[t]), n)
				}
				m = Matrix{Rows: n, Cols: len(acts[t]) / n, Data: widen(acts[t])}
			}
			t++
			get = func() (Matrix, error) { return m, nil }
		}
		m, err := featureRows(typ, what, p, get)
		if err != nil {
			return nil, err
		}
		out[l] = m
	}
	return out, nil
}

func (d *LID) Fit(fd FitData) error {
	typ := d.Name()
	if fd.Normal == nil || fd.Anomalous == nil {
		return fmt.Errorf("detectors: %s: needs labelled normal and anomalous samples to fit on", typ)
	}
	nN := fd.Normal.Len()
	if nN < 2 {
		return fmt.Errorf("detectors: %s: needs at least 2 normal samples, got %d", typ, nN)
	}
	taps, err := modelTaps(typ, fd.Normal)
	if err != nil {
		return err
	}
	var layers []string
	for _, t := range taps {
		layers = append(layers, t.Name)
	}
	layers = append(layers, lidLogits)

	// Reference batches: a seeded shuffle cut into B near-equal pieces.
	perm := rand.New(rand.NewPCG(fd.Seed, lidStream)).Perm(nN)
	nb := (nN + d.Batch - 1) / d.Batch
	batches := make([][]int, nb)
	memberOf := make([][2]int, nN) // position in Normal → (batch, position in batch)
	for b := range batches {
		lo, hi := b*nN/nb, (b+1)*nN/nb
		batches[b] = perm[lo:hi]
		for k, i := range batches[b] {
			memberOf[i] = [2]int{b, k}
		}
	}
	d.layers, d.ref, d.batches, d.logreg, d.cache, d.members = layers, fd.Normal, batches, nil, nil, nil
	d.refKept, d.refTooBig = nil, false

	ln, err := d.lids(typ, fd.Normal, memberOf, "normal training")
	if err != nil {
		return err
	}
	la, err := d.lids(typ, fd.Anomalous, nil, "anomalous training")
	if err != nil {
		return err
	}
	lr, err := fitLogReg(ln, la, d.L2)
	if err != nil {
		return fmt.Errorf("detectors: %s: %w", typ, err)
	}
	d.logreg, d.trainN, d.trainA = lr, ln, la
	if cache, rows := sampleRows(fd.Normal); cache != nil {
		d.cache = cache
		d.members = make(map[int][2]int, nN)
		for i, r := range rows {
			d.members[r] = memberOf[i]
		}
	}
	return nil
}

func (d *LID) Score(p Probe) ([]float64, error) {
	l, err := d.Features(p)
	if err != nil {
		return nil, err
	}
	return d.logreg.score(l), nil
}

// Features returns the n×L matrix of per-layer LIDs of p's samples (layers
// named in the columns), as Score computes them before the regression.
func (d *LID) Features(p Probe) (Matrix, error) {
	typ := d.Name()
	if d.logreg == nil {
		return Matrix{}, fmt.Errorf("detectors: %s: called before Fit", typ)
	}
	var self [][2]int
	if cache, rows := sampleRows(p); cache != nil && cache == d.cache {
		self = make([][2]int, len(rows))
		for i, r := range rows {
			self[i] = [2]int{-1, -1}
			if m, ok := d.members[r]; ok {
				self[i] = m
			}
		}
	}
	return d.lids(typ, p, self, "scored")
}

// lids computes the LID matrix of the samples of q; sample j is compared
// with batch j mod B, unless self[j] names its own (batch, position), when it
// is compared with the other members. Batch by batch, the members'
// activations and those of the samples compared with them (lidChunk at a
// time) are computed, used and dropped. Within a chunk, samples are spread
// over GOMAXPROCS goroutines; each writes only its own row, so the result
// does not depend on the split, and the error reported is the one of the
// lowest sample index.
func (d *LID) lids(typ string, q Probe, self [][2]int, which string) (Matrix, error) {
	L := len(d.layers)
	n := q.Len()
	out := Matrix{Rows: n, Cols: L, Data: make([]float64, n*L), Names: d.layers}
	nb := len(d.batches)
	groups := make([][]int, nb)
	for j := 0; j < n; j++ {
		b := j % nb
		if self != nil && self[j][0] >= 0 {
			b = self[j][0]
		}
		groups[b] = append(groups[b], j)
	}
	firstErr, errAt := error(nil), n
	for b, group := range groups {
		if len(group) == 0 {
			continue
		}
		refs, err := d.refFeatures(typ, b)
		if err != nil {
			return Matrix{}, err
		}
		// Members of the batch are its own reference rows; only the others
		// need their activations computed, lidChunk at a time.
		var members, others []int
		for _, j := range group {
			if self != nil && self[j][0] >= 0 {
				members = append(members, j)
			} else {
				others = append(others, j)
			}
		}
		score := func(chunk []int, f []Matrix) {
			m := len(chunk)
			workers := max(1, min(runtime.GOMAXPROCS(0), m))
			errs := make([]error, workers)
			at := make([]int, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for r := w * m / workers; r < (w+1)*m/workers; r++ {
						j, skip := chunk[r], -1
						if f == nil {
							skip = self[j][1]
						}
						for l := range d.layers {
							row := refs[l].Row(max(skip, 0))
							if f != nil {
								row = f[l].Row(r)
							}
							v, err := d.lidOf(refs[l], row, skip)
							if err != nil {
								errs[w], at[w] = fmt.Errorf("detectors: %s: %s sample %d, layer %q: %w", typ, which, j, d.layers[l], err), j
								return
							}
							out.Data[j*L+l] = v
						}
					}
				})
			}
			wg.Wait()
			for w, err := range errs {
				if err != nil && at[w] < errAt {
					firstErr, errAt = err, at[w]
				}
			}
		}
		score(members, nil)
		for c0 := 0; c0 < len(others); c0 += lidChunk {
			chunk := others[c0:min(c0+lidChunk, len(others))]
			f, err := lidLayersOf(typ, q.Subset(chunk), d.layers)
			if err != nil {
				return Matrix{}, err
			}
			for l := range d.layers {
				if f[l].Cols != refs[l].Cols {
					return Matrix{}, fmt.Errorf("detectors: %s: layer %q has %d features, fitted on %d", typ, d.layers[l], f[l].Cols, refs[l].Cols)
				}
			}
			score(chunk, f)
		}
	}
	if firstErr != nil {
		return Matrix{}, firstErr
	}
	return out, nil
}

// lidRefBudget bounds the reference batches' activations kept between
// calls (float64 values: 2 GiB). Below it, every batch is computed once per
// fit; above it — full-size CIFAR networks — they are recomputed for every
// set scored.
var lidRefBudget = 1 << 28 // a variable for the tests

// refFeatures returns the activations of reference batch b at every layer,
// kept for later calls while all batches fit lidRefBudget.
func (d *LID) refFeatures(typ string, b int) ([]Matrix, error) {
	d.refMu.Lock()
	defer d.refMu.Unlock()
	if d.refKept != nil && d.refKept[b] != nil {
		return d.refKept[b], nil
	}
	refs, err := lidLayersOf(typ, d.ref.Subset(d.batches[b]), d.layers)
	if err != nil {
		return nil, err
	}
	if d.refKept == nil && !d.refTooBig {
		per := 0
		for _, m := range refs {
			per += m.Cols
		}
		if total := per * d.ref.Len(); total <= lidRefBudget {
			d.refKept = make([][]Matrix, len(d.batches))
		} else {
			d.refTooBig = true
		}
	}
	if d.refKept != nil {
		d.refKept[b] = refs
	}
	return refs, nil
}

// lidOf is the MLE LID of q against the members of a reference batch (the
// rows of ref), leaving out member skip (−1: none).
func (d *LID) lidOf(ref Matrix, q []float64, skip int) (float64, error) {
	k := min(d.K, ref.Rows-1)
	dist := make([]float64, 0, ref.Rows)
	for m := 0; m < ref.Rows; m++ {
		if m == skip {
			continue
		}
		var s float64
		for j, v := range ref.Row(m) {
			e := v - q[j]
			s += e * e
		}
		dist = append(dist, math.Sqrt(s))
	}
	slices.Sort(dist)
	return mleLID(dist[:k])
}

// mleLID returns −k / Σ_{i=1..k} log(r_i/r_k) for ascending distances r.
func mleLID(r []float64) (float64, error) {
	k := len(r)
	rk := r[k-1]
	if rk == 0 {
		return 0, nil
	}
	var s float64
	for _, v := range r {
		s += math.Log(v / rk)
	}
	if s == 0 {
		return 0, fmt.Errorf("LID is infinite: the %d nearest normal samples are all at distance %g", k, rk)
	}
	return -float64(k) / s, nil
}
