package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/purview-lab/purview/corruptions"
	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
	"github.com/purview-lab/purview/models"
	"github.com/purview-lab/purview/report"
)

// corruptionGroups are the names corruption.corruptions accepts besides the
// corruptions themselves.
var corruptionGroups = []string{"all", "cifar10-c", "extra", "mnist-c"}

// corruptionGroup is the group name of c in corruption.corruptions.
func corruptionGroup(c corruptions.Corruption) string {
	switch {
	case c.Source == corruptions.SourceMNISTC:
		return "mnist-c"
	case c.Benchmark:
		return "cifar10-c"
	}
	return "extra"
}

// expandCorruptions resolves corruption.corruptions to corruption names in
// canonical order, without repeats.
func expandCorruptions(cfg *Config) ([]string, error) {
	out, err := ExpandCorruptions(cfg.Corruption.Names)
	if err != nil {
		var ue *unknownCorruption
		if errors.As(err, &ue) {
			return nil, cfg.KeyError(fmt.Sprintf("corruption.corruptions[%d]", ue.index), "%s", ue.msg)
		}
		return nil, err
	}
	return out, nil
}

type unknownCorruption struct {
	index int
	msg   string
}

func (e *unknownCorruption) Error() string { return e.msg }

// ExpandCorruptions resolves a list of corruption names and groups ("all",
// "cifar10-c" for the 15 benchmark corruptions, "extra" for the 4 extra
// ones, "mnist-c" for the MNIST-C ones CIFAR-10-C lacks) to corruption names
// in canonical order (corruptions.All), without repeats.
func ExpandCorruptions(list []string) ([]string, error) {
	all := corruptions.All()
	want := map[string]bool{}
	for i, n := range list {
		matched := false
		for _, c := range all {
			if n == "all" || n == c.Name || n == corruptionGroup(c) {
				want[c.Name] = true
				matched = true
			}
		}
		if !matched {
			return nil, &unknownCorruption{i, fmt.Sprintf("unknown corruption %q (known: %s; groups: %s)", n, strings.Join(corruptions.Names(), ", "), strings.Join(corruptionGroups, ", "))}
		}
	}
	if len(want) == 0 {
		return nil, errors.New("no corruptions named")
	}
	var out []string
	for _, c := range all {
		if want[c.Name] {
			out = append(out, c.Name)
		}
	}
	return out, nil
}

// corruptionRun is what the corruption protocol produced, for the reports.
type corruptionRun struct {
	names      []string // corruptions, rows
	severities []int
	accuracy   [][]float64 // model accuracy per corruption and severity
	// auroc[d][c][s] is detector d's AUROC on corruption c at severity s.
	auroc  [][][]float64
	pairs  []pair              // every task, corruption-major
	result map[string][]scored // per detector, per pair
	worst  []*evalSet          // each corruption at the highest severity, for the feature figure
}

// runCorruptions corrupts the in-distribution samples with every corruption
// at every severity and scores each (clean, corrupted) pair as soon as it is
// made, so only one corrupted set (plus the highest severity of each, for the
// feature figure) is held in memory.
func runCorruptions(ctx context.Context, cfg *Config, st *setup, net models.Network, in *evalSet, sc *scorer, workers int, log io.Writer) (*corruptionRun, error) {
	names := st.corruptions
	sev := cfg.Corruption.Severities
	cr := &corruptionRun{names: names, severities: sev, result: map[string][]scored{}}
	cr.auroc = make([][][]float64, len(st.names))
	for d := range cr.auroc {
		cr.auroc[d] = make([][]float64, len(names))
	}
	s := in.set
	labelled := !slices.Contains(s.Labels, -1)
	top := slices.Max(sev)
	for ci, name := range names {
		accRow := make([]float64, len(sev))
		for d := range cr.auroc {
			cr.auroc[d][ci] = make([]float64, len(sev))
		}
		for si, v := range sev {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			label := name + "/" + strconv.Itoa(v)
			x, err := corruptSet(ctx, cfg, name, v, s, workers)
			if err != nil {
				return nil, err
			}
			set := &datasets.Set{Name: label, C: s.C, H: s.H, W: s.W, Images: x, Labels: slices.Clone(s.Labels), Index: slices.Clone(s.Index)}
			e := &evalSet{set: set, probe: detectors.NewSetProbe(net, set)}
			accRow[si] = math.NaN()
			if labelled {
				if accRow[si], err = accuracyOf(net, set); err != nil {
					return nil, err
				}
			}
			p := pair{name: label, normal: in, anom: e}
			res, err := sc.score(ctx, []pair{p})
			if err != nil {
				return nil, err
			}
			cr.pairs = append(cr.pairs, p)
			for d, dn := range st.names {
				r := res[dn][0]
				cr.result[dn] = append(cr.result[dn], r)
				m, err := evaluatePair(dn, p, r)
				if err != nil {
					return nil, err
				}
				cr.auroc[d][ci][si] = m.AUROC
			}
			if v == top {
				cr.worst = append(cr.worst, e)
			} else {
				sc.forget(e)
				e.probe = nil // the scores are kept; the model quantities are not needed any more
			}
			fmt.Fprintf(log, "corruption %s: model accuracy %s\n", label, pctText(accRow[si]))
		}
		cr.accuracy = append(cr.accuracy, accRow)
	}
	return cr, nil
}

// corruptSet applies corruption name at severity v to every image of s,
// block by block: a block's random draws come from
// Seed("corrupt:name/v#" + the first 16 hex digits of its pixels' SHA-256), so a
// shard (whole blocks) corrupts its images exactly as an unsharded run does.
func corruptSet(ctx context.Context, cfg *Config, name string, v int, s *datasets.Set, workers int) ([]float32, error) {
	d := s.Dim()
	out := make([]float32, len(s.Images))
	err := blocks(s.Len(), func(lo, hi int) error {
		x, err := corruptions.ApplySet(ctx, name, v, s.Images[lo*d:hi*d], hi-lo, s.C, s.H, s.W,
			cfg.Seed(fmt.Sprintf("corrupt:%s/%d#%s", name, v, pixelsChecksum(s.Images[lo*d : hi*d])[:16])), workers)
		if err != nil {
			return err
		}
		copy(out[lo*d:], x)
		return nil
	})
	return out, err
}

// accuracyOf is the share of set's samples net classifies correctly.
func accuracyOf(net models.Network, set *datasets.Set) (float64, error) {
	logits, _, err := net.Forward(set.Images, set.Len())
	if err != nil {
		return 0, err
	}
	C := net.Classes()
	ok := 0
	for i, y := range set.Labels {
		if argmax32(logits[i*C:(i+1)*C]) == y {
			ok++
		}
	}
	return float64(ok) / float64(set.Len()), nil
}

func pctText(v float64) string {
	if math.IsNaN(v) {
		return "n/a (unlabelled)"
	}
	return strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
}

// writeCorruptionReports writes, for the corruption protocol: one table per
// detector (corruption × severity, corruption_<detector>.{md,csv}), the
// summary (detectors × corruptions averaged over severities,
// corruption_summary.{md,csv}), the model's accuracy under each corruption
// (corruption_accuracy.{md,csv}) and the AUROC-against-severity figure
// (severity.{png,svg}). It returns the files written and the summary grid.
func writeCorruptionReports(dir string, cfg *Config, st *setup, net models.Network, in *evalSet, cr *corruptionRun) ([]string, *report.Grid, error) {
	var files []string
	cols := make([]string, len(cr.severities))
	for i, v := range cr.severities {
		cols[i] = "severity " + strconv.Itoa(v)
	}
	write := func(base string, g *report.Grid) error {
		if err := writeGrid(filepath.Join(dir, base), g); err != nil {
			return err
		}
		files = append(files, base+".md", base+".csv")
		return nil
	}
	n := in.set.Len()
	for d, dn := range st.names {
		g := &report.Grid{Title: fmt.Sprintf("%s: AUROC ×100 of %s, clean vs corrupted %s (%d + %d samples)", cfg.Name, dn, in.set.Name, n, n),
			Corner: "corruption", Rows: cr.names, Cols: append(slices.Clone(cols), "mean"), Values: nil}
		for ci := range cr.names {
			g.Values = append(g.Values, append(slices.Clone(cr.auroc[d][ci]), mean(cr.auroc[d][ci])))
		}
		if err := write("corruption_"+fileSafe(dn), g); err != nil {
			return nil, nil, err
		}
	}
	sum := &report.Grid{Title: fmt.Sprintf("%s: AUROC ×100 averaged over severities %v, clean vs corrupted %s", cfg.Name, cr.severities, in.set.Name),
		Corner: "detector", Rows: st.names, Cols: append(slices.Clone(cr.names), "mean")}
	for d := range st.names {
		var row []float64
		for ci := range cr.names {
			row = append(row, mean(cr.auroc[d][ci]))
		}
		sum.Values = append(sum.Values, append(row, mean(row)))
	}
	if err := write("corruption_summary", sum); err != nil {
		return nil, nil, err
	}
	acc := &report.Grid{Title: fmt.Sprintf("%s: accuracy ×100 of %s on corrupted %s", cfg.Name, net.Arch(), in.set.Name),
		Corner: "corruption", Rows: cr.names, Cols: cols, Values: cr.accuracy}
	if err := write("corruption_accuracy", acc); err != nil {
		return nil, nil, err
	}
	var panels []report.SeverityPanel
	for ci, name := range cr.names {
		p := report.SeverityPanel{Corruption: name}
		for d := range st.names {
			p.AUROC = append(p.AUROC, cr.auroc[d][ci])
		}
		panels = append(panels, p)
	}
	title := fmt.Sprintf("%s: clean vs corrupted %s (%s), AUROC against severity", cfg.Name, in.set.Name, net.Arch())
	if err := report.SeverityFigure(title, st.names, cr.severities, panels, filepath.Join(dir, "severity")); err != nil {
		return nil, nil, err
	}
	files = append(files, "severity.png", "severity.svg")
	return files, sum, nil
}
