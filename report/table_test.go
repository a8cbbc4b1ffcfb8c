package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/metrics"
)

// testTable is two detectors (one supervised, with binary-exact fold AUROCs so
// the expected means and standard deviations are exact) on two sets whose
// names contain Markdown and LaTeX specials.
func testTable() *Table {
	return &Table{
		Title:     "mnist: LeNet-5, in-distribution mnist:test (2000 samples)",
		InDist:    "mnist:test",
		Sets:      []string{"fashion-mnist:test", "noise#50%"},
		Detectors: []string{"grad_norm", "purview|mlp"},
		Cells: []Cell{
			// Out of row order on purpose: rendering follows Detectors × Sets.
			{Detector: "purview|mlp", Supervised: true, Set: "noise#50%",
				Metrics:   metrics.Result{AUROC: 0.859375, AUPRIn: 0.875, AUPROut: 0.8125, FPR95: 0.5, FPR95In: 0.625, DetAcc: 0.8, Normal: 2000, Anomalous: 500},
				FoldAUROC: []float64{0.84375, 0.875}},
			{Detector: "grad_norm", Set: "fashion-mnist:test",
				Metrics: metrics.Result{AUROC: 0.9731, AUPRIn: 0.962, AUPROut: 0.981, FPR95: 0.153, FPR95In: 0.2105, DetAcc: 0.9125, Normal: 2000, Anomalous: 1000}},
			{Detector: "grad_norm", Set: "noise#50%",
				Metrics: metrics.Result{AUROC: 0.88449, AUPRIn: 0.9, AUPROut: 0.7, FPR95: 0.45, FPR95In: 0.55, DetAcc: 0.81, Normal: 2000, Anomalous: 500}},
			{Detector: "purview|mlp", Supervised: true, Set: "fashion-mnist:test",
				Metrics:   metrics.Result{AUROC: 0.99609375, AUPRIn: 0.998, AUPROut: 0.99, FPR95: 0.0125, FPR95In: 0.02, DetAcc: 0.985, Normal: 2000, Anomalous: 1000},
				FoldAUROC: []float64{0.99609375, 0.9921875, 1}},
		},
	}
}

// Expected values below were computed by hand and checked with Python's
// '%.1f' % (v*100) (same rounding as strconv: ties to even on the binary
// value, hence 91.25 → "91.2"): grad_norm mean (0.9731+0.88449)/2 = 0.928795
// → 92.9; purview|mlp mean (0.99609375+0.859375)/2 = 0.927734375 → 92.8;
// fold std of {255/256, 254/256, 1} = 1/256 → 0.4; of {27/32, 28/32} =
// √2/64 = 0.02209708691207961 (Python math.sqrt(2)/64) → 2.2.

const wantMarkdown = `# mnist: LeNet-5, in-distribution mnist:test (2000 samples)

AUROC ×100, in-distribution mnist:test vs each anomaly set (anomalies positive). Supervised detectors were trained on labelled anomalies (k-fold cross-validation) and show AUROC ± std over folds; mean is over the anomaly sets.

| detector     | supervised | fashion-mnist:test |  noise#50% | mean |
| :----------- | :--------- | -----------------: | ---------: | ---: |
| grad_norm    | no         |               97.3 |       88.4 | 92.9 |
| purview\|mlp | yes        |         99.6 ± 0.4 | 85.9 ± 2.2 | 92.8 |

## Per anomaly set

### fashion-mnist:test (2000 normal vs 1000 anomalous)

| detector     | supervised |      AUROC | AUPR-In | AUPR-Out | FPR95 (anom+) | FPR95 (ID+) | DetAcc |
| :----------- | :--------- | ---------: | ------: | -------: | ------------: | ----------: | -----: |
| grad_norm    | no         |       97.3 |    96.2 |     98.1 |          15.3 |        21.1 |   91.2 |
| purview\|mlp | yes        | 99.6 ± 0.4 |    99.8 |     99.0 |           1.2 |         2.0 |   98.5 |

` + longLegend + `

### noise#50% (2000 normal vs 500 anomalous)

| detector     | supervised |      AUROC | AUPR-In | AUPR-Out | FPR95 (anom+) | FPR95 (ID+) | DetAcc |
| :----------- | :--------- | ---------: | ------: | -------: | ------------: | ----------: | -----: |
| grad_norm    | no         |       88.4 |    90.0 |     70.0 |          45.0 |        55.0 |   81.0 |
| purview\|mlp | yes        | 85.9 ± 2.2 |    87.5 |     81.2 |          50.0 |        62.5 |   80.0 |

` + longLegend + `
`

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := testTable().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != wantMarkdown {
		t.Errorf("Markdown mismatch\n got:\n%s\nwant:\n%s", got, wantMarkdown)
	}
	if !strings.Contains(longLegend, "FPR95 (anom+)") || !strings.Contains(longLegend, "FPR95 (ID+)") || strings.Contains(longLegend, "\n") {
		t.Errorf("legend must be one line naming both FPR95 conventions: %q", longLegend)
	}
}

const wantCSV = `detector,supervised,set,n_normal,n_anomalous,auroc,aupr_in,aupr_out,fpr95_anom_tpr,fpr95_in_tpr,det_acc,auroc_fold_mean,auroc_fold_std
grad_norm,false,fashion-mnist:test,2000,1000,0.9731,0.962,0.981,0.153,0.2105,0.9125,,
grad_norm,false,noise#50%,2000,500,0.88449,0.9,0.7,0.45,0.55,0.81,,
purview|mlp,true,fashion-mnist:test,2000,1000,0.99609375,0.998,0.99,0.0125,0.02,0.985,0.99609375,0.00390625
purview|mlp,true,noise#50%,2000,500,0.859375,0.875,0.8125,0.5,0.625,0.8,0.859375,0.02209708691207961
`

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := testTable().CSV(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != wantCSV {
		t.Errorf("CSV mismatch\n got:\n%s\nwant:\n%s", got, wantCSV)
	}
}

func TestTerminal(t *testing.T) {
	var b bytes.Buffer
	if err := testTable().Terminal(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// Title, subtitle, then a 2-row ASCII box: 3 rules + header + 2 rows.
	if len(lines) != 2+6 {
		t.Fatalf("got %d lines, want 8:\n%s", len(lines), out)
	}
	for _, want := range []string{
		"| detector    | supervised | fashion-mnist:test |  noise#50% | mean |", // header not upper-cased
		"| grad_norm   | no         |               97.3 |       88.4 | 92.9 |",
		"| purview|mlp | yes        |         99.6 ± 0.4 | 85.9 ± 2.2 | 92.8 |",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("missing line %q in\n%s", want, out)
		}
	}
	for _, l := range lines[2:] {
		if l[0] != '+' && l[0] != '|' {
			t.Errorf("line %q is not plain ASCII box drawing", l)
		}
	}
}

func TestLaTeX(t *testing.T) {
	var b bytes.Buffer
	if err := testTable().LaTeX(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`\toprule`, `\midrule`, `\bottomrule`, `\caption{mnist: LeNet-5`, `\label{tab:auroc-mnist-test}`,
		`\begin{tabular}{lrrr}`,
		`Detector & fashion-mnist:test & noise\#50\% & Mean \\`,
		// fashion: 97.3 is the best unsupervised, 99.6 (supervised) the best
		// overall; noise and mean: grad_norm is best on both counts.
		`grad\_norm & \textbf{97.3} & \textbf{88.4} & \textbf{92.9} \\`,
		`purview\textbar{}mlp$^\dagger$ & \textbf{99.6} $\pm$ 0.4 & 85.9 $\pm$ 2.2 & 92.8 \\`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("LaTeX lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `\textbf{`); n != 4 {
		t.Errorf("%d bold values, want 4", n)
	}
}

func TestLaTeXTiesAllBold(t *testing.T) {
	tb := &Table{Title: "t", InDist: "a_b", Sets: []string{"s"}, Detectors: []string{"x", "y", "z"}, Cells: []Cell{
		{Detector: "x", Set: "s", Metrics: metrics.Result{AUROC: 0.9001}}, // prints 90.0, as y: tie
		{Detector: "y", Set: "s", Metrics: metrics.Result{AUROC: 0.8999}},
		{Detector: "z", Set: "s", Metrics: metrics.Result{AUROC: 0.5}},
	}}
	var b bytes.Buffer
	if err := tb.LaTeX(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`x & \textbf{90.0} & \textbf{90.0} \\`, `y & \textbf{90.0} & \textbf{90.0} \\`, `z & 50.0 & 50.0 \\`, `\label{tab:auroc-a-b}`} {
		if !strings.Contains(out, want) {
			t.Errorf("LaTeX lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `\dagger$:`) {
		t.Errorf("caption explains the dagger although no detector is supervised:\n%s", out)
	}
}

func TestTexEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a_b", `a\_b`},
		{"50% & #1", `50\% \& \#1`},
		{`x\y{z}$`, `x\textbackslash{}y\{z\}\$`},
		{"~^|<>", `\textasciitilde{}\textasciicircum{}\textbar{}\textless{}\textgreater{}`},
	} {
		if got := texEscape(c.in); got != c.want {
			t.Errorf("texEscape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tb := testTable()
	var b bytes.Buffer
	if err := tb.JSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "{\n  \"title\": ") || !strings.Contains(b.String(), `"fpr95_anom_tpr": 0.153,`) {
		t.Errorf("unexpected layout:\n%s", b.String())
	}
	got, err := ReadJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tb) {
		t.Errorf("round trip changed the table:\n got %+v\nwant %+v", got, tb)
	}
	var b2 bytes.Buffer
	if err := got.JSON(&b2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Error("re-encoding the decoded table gives different bytes")
	}
}

func TestJSONNaNIsNull(t *testing.T) {
	tb := testTable()
	tb.Cells[1].Metrics.AUPRIn = math.NaN()
	tb.Cells[0].FoldAUROC[1] = math.Inf(1)
	var b bytes.Buffer
	if err := tb.JSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"aupr_in": null`) {
		t.Errorf("NaN not written as null:\n%s", b.String())
	}
	got, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(got.Cells[1].Metrics.AUPRIn) || !math.IsNaN(got.Cells[0].FoldAUROC[1]) {
		t.Errorf("null not read back as NaN: %+v", got.Cells[:2])
	}
}

func TestReadJSONErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"unknown key", `{"title":"t","in_dist":"i","sets":["s"],"detectors":["d"],"cells":[],"extra":1}`, `unknown field "extra"`},
		{"bad number", `{"title":"t","sets":["s"],"detectors":["d"],"cells":[{"detector":"d","set":"s","metrics":{"auroc":"x"}}]}`, "want a number or null"},
		{"unknown set", `{"title":"t","sets":["s"],"detectors":["d"],"cells":[{"detector":"d","set":"q"}]}`, `anomaly set "q", which is not in Sets`},
	} {
		_, err := ReadJSON(strings.NewReader(c.in))
		if err == nil || !strings.HasPrefix(err.Error(), "report: read json: ") || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "report:") != 1 {
			t.Errorf("%s: err = %v, want prefix \"report: read json: \" and %q", c.name, err, c.want)
		}
	}
}

// jsonResult must mirror metrics.Result: same fields, same JSON tags.
func TestJSONResultMirrorsMetrics(t *testing.T) {
	tags := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			out = append(out, rt.Field(i).Tag.Get("json"))
		}
		return out
	}
	if got, want := tags(jsonResult{}), tags(metrics.Result{}); !slices.Equal(got, want) {
		t.Errorf("jsonResult tags %v, metrics.Result tags %v: update jsonResult and JSON/ReadJSON", got, want)
	}
}

func TestMissingCell(t *testing.T) {
	tb := testTable()
	tb.Cells = tb.Cells[1:] // drop purview|mlp on noise#50%
	var md, csvb bytes.Buffer
	if err := tb.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := tb.CSV(&csvb); err != nil {
		t.Fatal(err)
	}
	if want := "| purview\\|mlp | yes        |         99.6 ± 0.4 |         - |    - |"; !strings.Contains(md.String(), want) {
		t.Errorf("missing cell and mean should read -, want line %q in\n%s", want, md.String())
	}
	if n := strings.Count(csvb.String(), "\n"); n != 4 {
		t.Errorf("CSV has %d lines, want header + 3 rows:\n%s", n, csvb.String())
	}
	if want := "### noise#50% (2000 normal vs 500 anomalous)"; !strings.Contains(md.String(), want) {
		t.Errorf("missing %q", want)
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Table)
		want string
	}{
		{"unknown detector", func(tb *Table) { tb.Cells[0].Detector = "odin" }, `cell 0 names detector "odin", which is not in Detectors`},
		{"duplicate cell", func(tb *Table) { tb.Cells[3] = tb.Cells[0] }, `duplicate cell for detector "purview|mlp" on set "noise#50%"`},
		{"mixed supervision", func(tb *Table) { tb.Cells[3].Supervised = false }, `detector "purview|mlp" has supervised=true on set "noise#50%" but false on set "fashion-mnist:test"`},
		{"duplicate set", func(tb *Table) { tb.Sets[1] = tb.Sets[0] }, `duplicate anomaly set "fashion-mnist:test"`},
		{"no detectors", func(tb *Table) { tb.Detectors = nil }, "want at least one detector"},
	} {
		tb := testTable()
		c.edit(tb)
		for name, f := range map[string]func() error{
			"Terminal": func() error { return tb.Terminal(&bytes.Buffer{}) },
			"CSV":      func() error { return tb.CSV(&bytes.Buffer{}) },
			"WriteAll": func() error { return tb.WriteAll(t.TempDir()) },
		} {
			err := f()
			if err == nil || !strings.HasPrefix(err.Error(), "report: table ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s/%s: err = %v, want %q", c.name, name, err, c.want)
			}
		}
	}
}

func TestFoldStats(t *testing.T) {
	for _, c := range []struct {
		in        []float64
		mean, std float64 // NaN = undefined
	}{
		{nil, math.NaN(), math.NaN()},
		{[]float64{0.75}, 0.75, math.NaN()},
		{[]float64{0.5, 1}, 0.75, math.Sqrt(0.125)}, // (0.25²·2)/(2−1)
		{[]float64{1, 2, 3, 4}, 2.5, math.Sqrt(5.0 / 3)},
	} {
		m, s := foldStats(c.in)
		if !same(m, c.mean) || !same(s, c.std) {
			t.Errorf("foldStats(%v) = %v, %v; want %v, %v", c.in, m, s, c.mean, c.std)
		}
	}
}

func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func TestWriteAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "tables") // created by WriteAll
	if err := testTable().WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"table.csv", "table.json", "table.md", "table.tex"}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want exactly %v", names, want)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "table.md"))
	if string(md) != wantMarkdown {
		t.Error("table.md differs from Markdown output")
	}
	st, _ := os.Stat(filepath.Join(dir, "table.csv"))
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}
