package experiments

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/purview-lab/purview/metrics"
	"github.com/purview-lab/purview/report"
)

// claimTable is a hand-made result table. Expected, by hand:
//
//	svhn: best purview purview-mlp 0.97, best baseline mahalanobis-lr 0.95 → +2.0
//	lsun: purview-mlp 0.98 vs mahalanobis-lr 0.99                        → −1.0
//	tiny: purview-sum and purview-mlp tie at 0.935 (the first listed, purview-sum,
//	      is named) vs mahalanobis-lr 0.90                               → +3.5
//	isun: every purview AUROC is NaN                                      → skipped
//
// so up to +3.5 (tiny), mean (2.0 − 1.0 + 3.5)/3 = 1.5 over 3 tasks.
func claimTable() *report.Table {
	t := &report.Table{Title: "t", InDist: "cifar10:test", Sets: []string{"svhn", "lsun", "tiny", "isun"},
		Detectors: []string{"msp", "purview-sum", "mahalanobis-lr", "purview-mlp"}}
	auroc := map[string][]float64{
		"msp":            {0.90, 0.85, 0.80, 0.70},
		"purview-sum":    {0.93, 0.96, 0.935, math.NaN()},
		"mahalanobis-lr": {0.95, 0.99, 0.90, 0.75},
		"purview-mlp":    {0.97, 0.98, 0.935, math.NaN()},
	}
	for _, d := range t.Detectors {
		for i, s := range t.Sets {
			t.Cells = append(t.Cells, report.Cell{Detector: d, Set: s, Supervised: strings.HasSuffix(d, "-lr") || d == "purview-mlp",
				Metrics: metrics.Result{AUROC: auroc[d][i]}})
		}
	}
	return t
}

func isPurviewName(d string) bool { return strings.HasPrefix(d, "purview") }

func TestComputeClaim(t *testing.T) {
	cl, err := ComputeClaim(ProtocolOOD, claimTable(), isPurviewName)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	want := []struct {
		task, purview, baseline string
		points                  float64
	}{
		{"svhn", "purview-mlp", "mahalanobis-lr", 2.0},
		{"lsun", "purview-mlp", "mahalanobis-lr", -1.0},
		{"tiny", "purview-sum", "mahalanobis-lr", 3.5},
	}
	if len(cl.Tasks) != len(want) {
		t.Fatalf("tasks %+v, want %d", cl.Tasks, len(want))
	}
	for i, w := range want {
		g := cl.Tasks[i]
		if g.Task != w.task || g.Purview != w.purview || g.Baseline != w.baseline || !near(g.Points, w.points) {
			t.Errorf("task %d = %+v, want %+v", i, g, w)
		}
	}
	if cl.Paper != 2.7 || cl.Max == nil || !near(*cl.Max, 3.5) || cl.MaxTask != "tiny" || cl.Mean == nil || !near(*cl.Mean, 1.5) {
		t.Errorf("claim: paper %v, max %v (%s), mean %v", cl.Paper, cl.Max, cl.MaxTask, cl.Mean)
	}
	if strings.Join(cl.Skipped, ",") != "isun" {
		t.Errorf("skipped %v, want [isun]", cl.Skipped)
	}
	if !cl.Tasks[0].PurviewSupervised || cl.Tasks[2].PurviewSupervised || !cl.Tasks[0].BaselineSupervised {
		t.Errorf("supervised flags: %+v", cl.Tasks)
	}

	if got, want := cl.Summary(), "headline claim (out-of-distribution detection): paper: purview beats the best baseline by up to +2.7 AUROC points; measured: up to +3.5 (tiny), mean +1.5 over 3 tasks"; got != want {
		t.Errorf("Summary\n got %s\nwant %s", got, want)
	}
	md := cl.Markdown("run")
	for _, line := range []string{
		"# run: headline claim, out-of-distribution detection",
		"Measured here: up to **+3.5** AUROC points (tiny), mean +1.5 over 3 tasks.",
		"| svhn | purview-mlp* | 97.0 | mahalanobis-lr* | 95.0 | +2.0 |",
		"| lsun | purview-mlp* | 98.0 | mahalanobis-lr* | 99.0 | −1.0 |",
		"| tiny | purview-sum | 93.5 | mahalanobis-lr* | 90.0 | +3.5 |",
		"Skipped (no finite AUROC on one side): isun.",
	} {
		if !strings.Contains(md, line+"\n") {
			t.Errorf("claims.md lacks %q:\n%s", line, md)
		}
	}
	var back Claim
	if err := json.Unmarshal(cl.JSON(), &back); err != nil || back.MaxTask != "tiny" || len(back.Tasks) != 3 {
		t.Errorf("claims.json round trip: %+v, %v", back, err)
	}

	// The other protocols carry their own paper numbers.
	for p, v := range map[string]float64{ProtocolAdversarial: 19.8, ProtocolCorruption: 35.6} {
		if cl, err := ComputeClaim(p, claimTable(), isPurviewName); err != nil || cl.Paper != v {
			t.Errorf("%s: paper %v, %v; want %v", p, cl.Paper, err, v)
		}
	}
	// No task measured: no max or mean, and the summary says so.
	nan := claimTable()
	for i := range nan.Cells {
		nan.Cells[i].Metrics.AUROC = math.NaN()
	}
	if cl, err := ComputeClaim(ProtocolOOD, nan, isPurviewName); err != nil || cl.Max != nil || cl.Mean != nil || len(cl.Skipped) != 4 ||
		!strings.HasSuffix(cl.Summary(), "measured: no task has a finite AUROC on both sides") {
		t.Errorf("all NaN: %+v, %v", cl, err)
	}
	if _, err := ComputeClaim(ProtocolOOD, claimTable(), func(string) bool { return true }); err == nil ||
		err.Error() != `experiments: claim: table "t" has 4 purview detectors and 0 baselines; want at least one of each` {
		t.Errorf("no baseline: %v", err)
	}
	if _, err := ComputeClaim("x", claimTable(), isPurviewName); err == nil {
		t.Errorf("unknown protocol accepted")
	}
}
