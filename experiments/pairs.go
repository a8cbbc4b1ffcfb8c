package experiments

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
	"github.com/purview-lab/purview/internal/atomicfile"
	"github.com/purview-lab/purview/metrics"
	"github.com/purview-lab/purview/report"
)

// evalSet is a set the detectors score, with the probe that caches what the
// model computes for it. Sets shared by several pairs (the in-distribution
// test samples of an OOD run) are one evalSet, so unsupervised detectors score
// them once.
type evalSet struct {
	set   *datasets.Set
	probe detectors.Probe
}

// pair is one detection task, one column of the result table: tell the
// samples of normal from those of anom. The OOD protocol pairs the
// in-distribution test samples with each anomaly set; the adversarial one
// pairs clean images with their successful adversarial versions; the
// corruption one clean images with their corrupted versions.
type pair struct {
	name         string // column label: anomaly set, attack or "corruption/severity"
	normal, anom *evalSet
}

// scored holds one detector's scores on one pair. With repeated
// cross-validation the scores are those of the first repeat and res holds the
// metrics averaged over repeats.
type scored struct {
	normal, anomalous []float64
	folds             []float64 // per-fold AUROC over every repeat, supervised only
	res               *metrics.Result
}

// scoreOptions says how scorePairs runs the detectors.
type scoreOptions struct {
	folds   int
	repeats int // cross-validation repeats with different fold seeds (≥ 1)
	fit     detectors.Probe
	fitName string
	log     io.Writer
	quiet   bool // no line per detector and call (the corruption protocol logs per task)
}

// scorer runs the detectors on pairs. Unsupervised detectors are fit once,
// on opts.fit, and score each distinct evalSet once however many pairs share
// it and however many calls score them; supervised detectors are
// cross-validated per pair, opts.repeats times, with fold seeds
// Seed("folds:"+pair) for the first repeat and Seed("folds:"+pair+"#r") for
// repeat r ≥ 1.
type scorer struct {
	cfg    *Config
	st     *setup
	opts   scoreOptions
	fitted bool
	cache  []map[*evalSet][]float64 // per detector
	took   []time.Duration          // per detector, summed over calls
}

func newScorer(cfg *Config, st *setup, opts scoreOptions) *scorer {
	sc := &scorer{cfg: cfg, st: st, opts: opts, cache: make([]map[*evalSet][]float64, len(st.dets)), took: make([]time.Duration, len(st.dets))}
	for i := range sc.cache {
		sc.cache[i] = map[*evalSet][]float64{}
	}
	return sc
}

// fit fits every unsupervised detector that needs it, once.
func (sc *scorer) fit(ctx context.Context) error {
	if sc.fitted {
		return nil
	}
	for di, d := range sc.st.dets {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Kind() == detectors.Supervised || !d.NeedsFit() {
			continue
		}
		name := sc.st.names[di]
		start := time.Now()
		if err := d.Fit(detectors.FitData{InDist: sc.opts.fit, Seed: sc.cfg.Seed("fit:" + name)}); err != nil {
			return fmt.Errorf("detector %s: fit on %s: %w", name, sc.opts.fitName, err)
		}
		sc.took[di] += time.Since(start)
	}
	sc.fitted = true
	return nil
}

// forget drops the cached scores of e (a set no later pair uses).
func (sc *scorer) forget(e *evalSet) {
	for _, c := range sc.cache {
		delete(c, e)
	}
}

// score runs every detector on every pair and returns, per detector name,
// one scored per pair.
func (sc *scorer) score(ctx context.Context, pairs []pair) (map[string][]scored, error) {
	if err := sc.fit(ctx); err != nil {
		return nil, err
	}
	cfg, st, opts := sc.cfg, sc.st, sc.opts
	results := map[string][]scored{}
	for di, d := range st.dets {
		if err := ctx.Err(); err != nil { // Ctrl-C between detectors
			return nil, err
		}
		name := st.names[di]
		spec := cfg.Detectors[di]
		start := time.Now()
		res := make([]scored, len(pairs))
		if d.Kind() == detectors.Supervised {
			for i, p := range pairs {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if st.sharded && (p.normal.set.Len() < opts.folds || p.anom.set.Len() < opts.folds) {
					continue // a shard's part of a set can be too small to cross-validate
				}
				var all []metrics.Result
				for r := 0; r < max(opts.repeats, 1); r++ {
					purpose := "folds:" + p.name
					if r > 0 {
						purpose += fmt.Sprintf("#%d", r)
					}
					ns, as, folds, err := detectors.CrossValidateFit(func() (detectors.Detector, error) { return st.build(spec) },
						p.normal.probe, p.anom.probe, opts.fit, opts.folds, cfg.Seed(purpose))
					if err != nil {
						return nil, describeMetricError(err, name, p.normal.set, p.anom.set)
					}
					if r == 0 {
						res[i] = scored{normal: ns, anomalous: as}
					}
					res[i].folds = append(res[i].folds, folds...)
					if opts.repeats > 1 {
						m, err := metrics.Evaluate(ns, as)
						if err != nil {
							return nil, describeMetricError(err, name, p.normal.set, p.anom.set)
						}
						all = append(all, m)
					}
				}
				if len(all) > 1 {
					m := meanResult(all)
					res[i].res = &m
				}
			}
		} else {
			cache := sc.cache[di]
			score := func(e *evalSet) ([]float64, error) {
				if s, ok := cache[e]; ok {
					return s, nil
				}
				s, err := d.Score(e.probe)
				if err != nil {
					return nil, fmt.Errorf("detector %s on %s: %w", name, e.set.Name, err)
				}
				if len(s) != e.set.Len() {
					return nil, fmt.Errorf("detector %s on %s: %d scores for %d samples", name, e.set.Name, len(s), e.set.Len())
				}
				cache[e] = s
				return s, nil
			}
			for i, p := range pairs {
				ns, err := score(p.normal)
				if err != nil {
					return nil, err
				}
				as, err := score(p.anom)
				if err != nil {
					return nil, err
				}
				res[i] = scored{normal: ns, anomalous: as}
			}
		}
		results[name] = res
		sc.took[di] += time.Since(start)
		if !opts.quiet {
			fmt.Fprintf(opts.log, "detector %s: scored (%.1f s)\n", name, time.Since(start).Seconds())
		}
	}
	return results, nil
}

// report logs each detector's total time over all calls.
func (sc *scorer) report() {
	for di, name := range sc.st.names {
		fmt.Fprintf(sc.opts.log, "detector %s: scored (%.1f s)\n", name, sc.took[di].Seconds())
	}
}

// meanResult averages every metric of rs (the repeats of one cross-validated
// cell); the sample counts are those of one repeat.
func meanResult(rs []metrics.Result) metrics.Result {
	var m metrics.Result
	for _, r := range rs {
		m.AUROC += r.AUROC
		m.AUPRIn += r.AUPRIn
		m.AUPROut += r.AUPROut
		m.FPR95 += r.FPR95
		m.FPR95In += r.FPR95In
		m.DetAcc += r.DetAcc
	}
	n := float64(len(rs))
	m.AUROC /= n
	m.AUPRIn /= n
	m.AUPROut /= n
	m.FPR95 /= n
	m.FPR95In /= n
	m.DetAcc /= n
	m.Normal, m.Anomalous = rs[0].Normal, rs[0].Anomalous
	return m
}

// evaluatePair returns the metrics of one detector on one pair.
func evaluatePair(name string, p pair, r scored) (metrics.Result, error) {
	if r.res != nil {
		return *r.res, nil
	}
	m, err := metrics.Evaluate(r.normal, r.anomalous)
	if err != nil {
		return m, describeMetricError(err, name, p.normal.set, p.anom.set)
	}
	return m, nil
}

// distinctSets lists the evalSets of pairs in order of first appearance,
// normal before anomalous.
func distinctSets(pairs []pair) []*evalSet {
	seen := map[*evalSet]bool{}
	var out []*evalSet
	for _, p := range pairs {
		for _, e := range []*evalSet{p.normal, p.anom} {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// writeGrid writes g as pathNoExt.md and pathNoExt.csv, atomically.
func writeGrid(pathNoExt string, g *report.Grid) error {
	var md, csv strings.Builder
	if err := g.Markdown(&md); err != nil {
		return err
	}
	if err := g.CSV(&csv); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(pathNoExt+".md", []byte(md.String())); err != nil {
		return err
	}
	return atomicfile.WriteFile(pathNoExt+".csv", []byte(csv.String()))
}
