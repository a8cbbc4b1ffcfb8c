package experiments

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/purview-lab/purview/report"
)

// PurviewType is the detector type of the paper's method; every
// [[detector]] of this type (any head, label or activation) belongs to the
// purview family of a claim, every other type is a baseline.
const PurviewType = "purview"

// paperClaims are the abstract's headline numbers (Lee et al., IEEE Access
// 11:32716–32732, 2023, arXiv 2304.02834): purview beats the best baseline
// by up to this many AUROC points.
var paperClaims = map[string]float64{
	ProtocolOOD:         2.7,
	ProtocolAdversarial: 19.8,
	ProtocolCorruption:  35.6,
}

// PaperClaim returns the abstract's "up to" improvement in AUROC points for
// a protocol ("ood" 2.7, "adversarial" 19.8, "corruption" 35.6), and false
// for an unknown protocol.
func PaperClaim(protocol string) (float64, bool) {
	v, ok := paperClaims[protocol]
	return v, ok
}

// claimTitles name what each protocol detects.
var claimTitles = map[string]string{
	ProtocolOOD:         "out-of-distribution detection",
	ProtocolAdversarial: "adversarial-example detection",
	ProtocolCorruption:  "corrupted-input detection",
}

// Claim sets the paper's headline claim for one protocol beside the number
// measured by a run: for every task (anomaly set, attack, or corruption at
// one severity)
//
//	points = 100 · (max AUROC over purview detectors − max AUROC over baselines)
//
// then the largest (the measured "up to") and the mean over tasks. Positive
// points mean purview wins the task.
type Claim struct {
	Protocol string  `json:"protocol"`
	Paper    float64 `json:"paper_points"` // the abstract's "up to", in AUROC points
	// Tasks lists every task with a finite best AUROC on both sides, in the
	// table's column order.
	Tasks []ClaimTask `json:"tasks"`
	// Max is the largest Points over Tasks, MaxTask the first task reaching
	// it; Mean is the mean of Points. Nil when Tasks is empty.
	Max     *float64 `json:"max_points"`
	MaxTask string   `json:"max_task"`
	Mean    *float64 `json:"mean_points"`
	// Skipped lists the tasks left out because no purview detector or no
	// baseline had a finite AUROC on them (e.g. an attack that fooled no image).
	Skipped []string `json:"skipped,omitempty"`
}

// ClaimTask is one task of a Claim: the best detector of each side.
type ClaimTask struct {
	Task               string  `json:"task"`
	Purview            string  `json:"purview"` // the best purview detector
	PurviewAUROC       float64 `json:"purview_auroc"`
	PurviewSupervised  bool    `json:"purview_supervised"`
	Baseline           string  `json:"baseline"` // the best baseline
	BaselineAUROC      float64 `json:"baseline_auroc"`
	BaselineSupervised bool    `json:"baseline_supervised"`
	Points             float64 `json:"points"` // 100·(PurviewAUROC − BaselineAUROC)
}

// ComputeClaim computes the claim of protocol from the result table t;
// isPurview says which of t's detectors belong to the purview family. Ties
// go to the detector listed first. It fails on an unknown protocol or when
// t lacks detectors of either side.
func ComputeClaim(protocol string, t *report.Table, isPurview func(detector string) bool) (*Claim, error) {
	paper, ok := PaperClaim(protocol)
	if !ok {
		return nil, fmt.Errorf("experiments: claim: unknown protocol %q", protocol)
	}
	var nP, nB int
	for _, d := range t.Detectors {
		if isPurview(d) {
			nP++
		} else {
			nB++
		}
	}
	if nP == 0 || nB == 0 {
		return nil, fmt.Errorf("experiments: claim: table %q has %d purview detectors and %d baselines; want at least one of each", t.Title, nP, nB)
	}
	cells := map[[2]string]report.Cell{}
	for _, c := range t.Cells {
		cells[[2]string{c.Detector, c.Set}] = c
	}
	cl := &Claim{Protocol: protocol, Paper: paper, Tasks: []ClaimTask{}}
	var sum float64
	for _, set := range t.Sets {
		var best [2]*report.Cell // purview, baseline
		for _, d := range t.Detectors {
			c, ok := cells[[2]string{d, set}]
			if !ok || math.IsNaN(c.Metrics.AUROC) || math.IsInf(c.Metrics.AUROC, 0) {
				continue
			}
			side := 1
			if isPurview(d) {
				side = 0
			}
			if best[side] == nil || c.Metrics.AUROC > best[side].Metrics.AUROC {
				best[side] = &c
			}
		}
		if best[0] == nil || best[1] == nil {
			cl.Skipped = append(cl.Skipped, set)
			continue
		}
		p, b := best[0], best[1]
		task := ClaimTask{Task: set, Purview: p.Detector, PurviewAUROC: p.Metrics.AUROC, PurviewSupervised: p.Supervised,
			Baseline: b.Detector, BaselineAUROC: b.Metrics.AUROC, BaselineSupervised: b.Supervised,
			Points: 100 * (p.Metrics.AUROC - b.Metrics.AUROC)}
		cl.Tasks = append(cl.Tasks, task)
		sum += task.Points
		if cl.Max == nil || task.Points > *cl.Max {
			v := task.Points
			cl.Max, cl.MaxTask = &v, set
		}
	}
	if n := len(cl.Tasks); n > 0 {
		m := sum / float64(n)
		cl.Mean = &m
	}
	return cl, nil
}

// points formats AUROC points with a sign and one decimal: "+2.7", "−0.4".
func points(v float64) string {
	s := fmt.Sprintf("%+.1f", v)
	if s == "-0.0" || s == "+0.0" {
		return "0.0"
	}
	return strings.Replace(s, "-", "−", 1)
}

// Summary is the claim in one line, for the terminal.
func (cl *Claim) Summary() string {
	s := fmt.Sprintf("headline claim (%s): paper: purview beats the best baseline by up to %s AUROC points; measured: ", claimTitles[cl.Protocol], points(cl.Paper))
	if cl.Max == nil {
		return s + "no task has a finite AUROC on both sides"
	}
	return s + fmt.Sprintf("up to %s (%s), mean %s over %d task%s", points(*cl.Max), cl.MaxTask, points(*cl.Mean), len(cl.Tasks), plural(len(cl.Tasks)))
}

// Markdown renders the claim as claims.md: the paper's sentence, the
// measured one, and the per-task table.
func (cl *Claim) Markdown(run string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: headline claim, %s\n\n", run, claimTitles[cl.Protocol])
	fmt.Fprintf(&b, "Paper (Lee et al. 2023, abstract): purview beats the best baseline by up to **%s** AUROC points.\n\n", points(cl.Paper))
	if cl.Max == nil {
		b.WriteString("Measured here: no task has a finite AUROC for both a purview detector and a baseline.\n")
	} else {
		fmt.Fprintf(&b, "Measured here: up to **%s** AUROC points (%s), mean %s over %d task%s.\n",
			points(*cl.Max), mdEscape(cl.MaxTask), points(*cl.Mean), len(cl.Tasks), plural(len(cl.Tasks)))
	}
	b.WriteString("\nPer task: the best purview detector's AUROC minus the best baseline's, ×100 (negative: the baseline wins). " +
		"Supervised detectors (trained on labelled anomalies, cross-validated) are marked *.\n\n")
	b.WriteString("| task | best purview | AUROC | best baseline | AUROC | points |\n|---|---|---:|---|---:|---:|\n")
	star := func(s bool) string {
		if s {
			return "*"
		}
		return ""
	}
	for _, t := range cl.Tasks {
		fmt.Fprintf(&b, "| %s | %s%s | %.1f | %s%s | %.1f | %s |\n", mdEscape(t.Task), mdEscape(t.Purview), star(t.PurviewSupervised), 100*t.PurviewAUROC,
			mdEscape(t.Baseline), star(t.BaselineSupervised), 100*t.BaselineAUROC, points(t.Points))
	}
	if len(cl.Skipped) > 0 {
		fmt.Fprintf(&b, "\nSkipped (no finite AUROC on one side): %s.\n", mdEscape(strings.Join(cl.Skipped, ", ")))
	}
	return b.String()
}

// JSON is the claim as claims.json (indented, newline-terminated).
func (cl *Claim) JSON() []byte {
	b, err := json.MarshalIndent(cl, "", "  ")
	if err != nil { // finite floats and strings only
		panic(fmt.Sprintf("experiments: encoding claim: %v", err))
	}
	return append(b, '\n')
}

// mdEscape keeps table cells intact.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
