package report

import (
	"bytes"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// figDir is where figure tests write; set PURVIEW_REPORT_FIGDIR to keep the
// files for a look.
func figDir(t *testing.T) string {
	if d := os.Getenv("PURVIEW_REPORT_FIGDIR"); d != "" {
		return d
	}
	return t.TempDir()
}

// checkFigure asserts pathNoExt.png decodes to a w×h image and pathNoExt.svg
// is an SVG document, and that no temp file is left in the directory.
func checkFigure(t *testing.T, pathNoExt string, w, h int) {
	t.Helper()
	b, err := os.ReadFile(pathNoExt + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s.png: %v", pathNoExt, err)
	}
	if got := img.Bounds().Size(); got.X != w || got.Y != h {
		t.Errorf("%s.png is %v, want %dx%d", pathNoExt, got, w, h)
	}
	s, err := os.ReadFile(pathNoExt + ".svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(s, []byte("<?xml")) && !bytes.HasPrefix(s, []byte("<svg")) {
		t.Errorf("%s.svg starts with %.20q", pathNoExt, s)
	}
	ents, _ := os.ReadDir(filepath.Dir(pathNoExt))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

// gaussScores draws n scores from N(mu, 1) with a seeded PCG source.
func gaussScores(rng *rand.Rand, n int, mu float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = mu + rng.NormFloat64()
	}
	return s
}

func TestROCFigure(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dets := []string{"msp", "energy", "grad_norm", "purview-sum", "purview-gauss", "purview-mlp", "inverted"}
	shift := []float64{1.0, 1.3, 0.6, 2.0, 2.8, 3.5, -1.2}
	normal, anomalous := map[string][]float64{}, map[string][]float64{}
	for i, d := range dets {
		normal[d] = gaussScores(rng, 400, 0)
		anomalous[d] = gaussScores(rng, 300, shift[i])
	}
	curves, err := ROCCurves(dets, normal, anomalous)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range curves {
		if c.Label != dets[i] || len(c.FPR) != len(c.TPR) || c.FPR[0] != 0 || c.TPR[len(c.TPR)-1] != 1 {
			t.Errorf("curve %d: label %q, %d/%d points", i, c.Label, len(c.FPR), len(c.TPR))
		}
		// Sanity of the metrics call: N(δ,1) vs N(0,1) has AUROC Φ(δ/√2).
		want := 0.5 * math.Erfc(-shift[i]/2)
		if math.Abs(c.AUROC-want) > 0.05 {
			t.Errorf("%s: AUROC %.3f, want about %.3f", c.Label, c.AUROC, want)
		}
	}
	path := filepath.Join(figDir(t), "roc")
	if err := ROCFigure("mnist:test vs fashion-mnist:test", curves, path); err != nil {
		t.Fatal(err)
	}
	checkFigure(t, path, 750, 750)

	if _, err := ROCCurves([]string{"odin"}, normal, anomalous); err == nil || !strings.Contains(err.Error(), `no normal scores for detector "odin"`) {
		t.Errorf("err = %v", err)
	}
}

func TestROCFigureErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		curves []Curve
		want   string
	}{
		{"none", nil, "no curves"},
		{"lengths", []Curve{{Label: "a", FPR: []float64{0, 1}, TPR: []float64{0}}}, `curve "a" has 2 FPR and 1 TPR points`},
		{"range", []Curve{{Label: "b", FPR: []float64{0, 1.5}, TPR: []float64{0, 1}}}, `curve "b" point 1 is (1.5, 1), want both in [0,1]`},
		{"nan", []Curve{{Label: "c", FPR: []float64{0, math.NaN()}, TPR: []float64{0, 1}}}, `curve "c" point 1`},
	} {
		err := ROCFigure("t", c.curves, filepath.Join(dir, "x"))
		if err == nil || !strings.HasPrefix(err.Error(), "report: roc figure ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written despite errors: %v", ents)
	}
}

func TestThinROC(t *testing.T) {
	// (0,.5) sits in a vertical run, (.5,1) and (1,1)#4 in a horizontal one.
	fpr := []float64{0, 0, 0, 0.5, 1, 1}
	tpr := []float64{0, 0.5, 1, 1, 1, 1}
	got := thinROC(fpr, tpr)
	want := [][2]float64{{0, 0}, {0, 1}, {1, 1}}
	if len(got) != len(want) {
		t.Fatalf("thinROC = %v, want %v", got, want)
	}
	for i, p := range got {
		if p.X != want[i][0] || p.Y != want[i][1] {
			t.Errorf("point %d = %v, want %v", i, p, want[i])
		}
	}
	// A diagonal tie segment is a corner-free straight line too, but it is
	// not axis-parallel: it stays (and so does the area under it).
	if got := thinROC([]float64{0, 0.5, 1}, []float64{0, 0.5, 1}); len(got) != 3 {
		t.Errorf("diagonal thinned to %v", got)
	}
}

// lenetNames are the parameter tensors of the reference LeNet-5.
var lenetNames = []string{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
	"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"}

// featureMatrix draws n×P log-normal features with per-parameter level
// base[l]+shift[l], plus exact zeros in column zeroCol (floored to 1e-30).
func featureMatrix(rng *rand.Rand, name string, n int, base, shift []float64, zeroCol int) NamedMatrix {
	P := len(base)
	m := NamedMatrix{Name: name, Rows: n, Cols: P, Data: make([]float64, n*P)}
	for i := range n {
		for l := range P {
			m.Data[i*P+l] = math.Pow(10, base[l]+shift[l]+0.4*rng.NormFloat64())
		}
		if zeroCol >= 0 && i%7 == 0 {
			m.Data[i*P+zeroCol] = 0
		}
	}
	return m
}

func TestFeatureFigure(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	P := len(lenetNames)
	base := []float64{-2, -3, -1.5, -2.5, -1, -2, -1.2, -2.2, -0.8, -1.8}
	zero := make([]float64, P)
	fash := []float64{-0.8, -0.6, -0.5, -0.4, -0.3, -0.2, -0.2, -0.1, -0.1, 0}
	noise := []float64{-1.5, -1.2, -1, -0.8, -0.5, -0.4, -0.3, -0.2, -0.1, -0.05}
	in := featureMatrix(rng, "mnist:test", 300, base, zero, -1)
	sets := []NamedMatrix{
		featureMatrix(rng, "fashion-mnist:test", 300, base, fash, -1),
		featureMatrix(rng, "noise:uniform", 200, base, noise, 1),
	}
	path := filepath.Join(figDir(t), "features")
	if err := FeatureFigure("LeNet-5 on mnist: purview features", lenetNames, in, sets, path); err != nil {
		t.Fatal(err)
	}
	checkFigure(t, path, 1140, 593) // at 150 dpi: two 3.8-inch panels; 3.2 in + 7 chars·3.6 pt + 0.4 in title = 284.4 pt
}

func TestFeatureFigureManyParams(t *testing.T) {
	// A ResNet-20-sized profile: 65 tensors and three sets, to exercise label
	// thinning and wrapping panels into rows.
	rng := rand.New(rand.NewPCG(5, 6))
	var names []string
	for b := range 9 {
		for _, s := range []string{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias", "x"} {
			if s != "x" {
				names = append(names, "blocks."+string(rune('0'+b))+"."+s)
			}
		}
	}
	names = append([]string{"conv1.weight", "bn1.weight", "bn1.bias"}, names...)
	names = append(names, "blocks.3.shortcut.0.weight", "blocks.3.shortcut.1.weight", "fc.weight", "fc.bias")
	P := len(names)
	base, zero, up := make([]float64, P), make([]float64, P), make([]float64, P)
	for l := range P {
		base[l] = -3 + 2*math.Sin(float64(l)/5)
		up[l] = 0.3 * float64(l) / float64(P)
	}
	in := featureMatrix(rng, "cifar10:test", 100, base, zero, -1)
	sets := []NamedMatrix{
		featureMatrix(rng, "svhn:test", 100, base, up, -1),
		featureMatrix(rng, "lsun:resize", 100, base, up, -1),
		featureMatrix(rng, "pgd-linf-8", 100, base, up, -1),
	}
	path := filepath.Join(figDir(t), "features-resnet")
	if err := FeatureFigure("ResNet-20 on cifar10: purview features", names, in, sets, path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path + ".png")
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz.X > 16*150 || sz.Y <= sz.X/4 {
		t.Errorf("size %v: want at most 16 inches wide and panels wrapped into rows", sz)
	}
}

func TestFeatureFigureErrors(t *testing.T) {
	dir := t.TempDir()
	ok := NamedMatrix{Name: "in", Rows: 1, Cols: 2, Data: []float64{1, 2}}
	for _, c := range []struct {
		name  string
		names []string
		in    NamedMatrix
		sets  []NamedMatrix
		want  string
	}{
		{"no names", nil, ok, []NamedMatrix{ok}, "no parameter names"},
		{"no sets", []string{"a", "b"}, ok, nil, "no anomaly sets"},
		{"cols", []string{"a", "b", "c"}, ok, []NamedMatrix{ok}, `matrix "in" has 2 columns, want one per parameter name (3)`},
		{"short data", []string{"a", "b"}, ok, []NamedMatrix{{Name: "s", Rows: 2, Cols: 2, Data: []float64{1, 2, 3}}}, `matrix "s": 3 values for 2×2`},
		{"negative", []string{"a", "b"}, ok, []NamedMatrix{{Name: "s", Rows: 2, Cols: 2, Data: []float64{1, 2, 3, -4}}}, `matrix "s" row 1, parameter "b": r = -4, want a finite r ≥ 0`},
		{"nan", []string{"a", "b"}, ok, []NamedMatrix{{Name: "s", Rows: 1, Cols: 2, Data: []float64{math.NaN(), 2}}}, `matrix "s" row 0, parameter "a": r = NaN`},
		{"inf", []string{"a", "b"}, ok, []NamedMatrix{{Name: "s", Rows: 1, Cols: 2, Data: []float64{1, math.Inf(1)}}}, `r = +Inf`},
	} {
		err := FeatureFigure("t", c.names, c.in, c.sets, filepath.Join(dir, "f"))
		if err == nil || !strings.HasPrefix(err.Error(), "report: feature figure ") || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "report:") != 1 {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	// Expected values from numpy.quantile (default method "linear").
	for _, c := range []struct {
		x    []float64
		p    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0.25, 1.75},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4}, 0.75, 3.25},
		{[]float64{1, 2, 3}, 0.25, 1.5},
		{[]float64{7}, 0.75, 7},
		{[]float64{1, 2, 3, 4, 10}, 1, 10},
	} {
		if got := quantile(c.x, c.p); got != c.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.x, c.p, got, c.want)
		}
	}
}

func TestFeatureProfileFloorsZeros(t *testing.T) {
	m := NamedMatrix{Name: "z", Rows: 3, Cols: 1, Data: []float64{0, 0, 100}}
	pr, err := featureProfile(m, []string{"w"})
	if err != nil {
		t.Fatal(err)
	}
	// sorted log10: −30, −30, 2 → q1 = −30, median −30, q3 = −14.
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 } // Go's log10(1e-30) is −29.999999999999996
	if !near(pr.q1[0], -30) || !near(pr.med[0], -30) || !near(pr.q3[0], -14) {
		t.Errorf("profile %+v, want q1 −30, median −30, q3 −14", pr)
	}
}

func TestShortParamName(t *testing.T) {
	for in, want := range map[string]string{"conv1.weight": "conv1.w", "blocks.3.bn1.bias": "blocks.3.bn1.b", "weight": "weight", "fc.weighted": "fc.weighted"} {
		if got := shortParamName(in); got != want {
			t.Errorf("shortParamName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecadeTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{-4.3, 0.6, "-4 -3 -2 -1 0"},
		{-29.9, 1.2, "-25 -20 -15 -10 -5 0"}, // 31 decades: step 5 gives 6 labels
		{-0.5, 2.5, "0 1 2"},                 // no "-0"
		{-12.5, -0.5, "-12 -10 -8 -6 -4 -2"},
		{0.2, 0.8, ""},
	} {
		var got []string
		for _, tk := range (decadeTicks{}).Ticks(c.lo, c.hi) {
			got = append(got, tk.Label)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("Ticks(%v, %v) = %v, want %q", c.lo, c.hi, got, c.want)
		}
	}
}

func TestScoreFigure(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var dets []DetectorScores
	for i, d := range []string{"msp", "energy", "purview-gauss", "purview-mlp"} {
		dets = append(dets, DetectorScores{Detector: d, Normal: gaussScores(rng, 500, 0), Anomalous: gaussScores(rng, 300, float64(i))})
	}
	dets[0].Anomalous = []float64{3, 3, 3} // a spike: still drawn
	path := filepath.Join(figDir(t), "scores")
	if err := ScoreFigure("score densities", "mnist:test", "fashion-mnist:test", dets, path); err != nil {
		t.Fatal(err)
	}
	checkFigure(t, path, 3*540, 960) // 3×2 panels of 3.6×3 in, + 0.4 in title, at 150 dpi

	err := ScoreFigure("t", "a", "b", []DetectorScores{{Detector: "odin", Normal: []float64{1}, Anomalous: []float64{math.NaN()}}}, filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.HasPrefix(err.Error(), "report: score figure ") || !strings.Contains(err.Error(), `detector "odin"`) {
		t.Errorf("err = %v", err)
	}
}

func TestDensityHist(t *testing.T) {
	// Hand-computed: width 1/40; 0 → bin 0, 0.5 → bin 20, 1 → last bin
	// (closed); density = count / (4 · 0.025).
	h := densityHist([]float64{0, 0.5, 1, 1}, 0, 1)
	want := map[int]float64{0: 10, 20: 10, 39: 20}
	area := 0.0
	for i, b := range h.Bins {
		if b.Weight != want[i] {
			t.Errorf("bin %d weight %v, want %v", i, b.Weight, want[i])
		}
		area += b.Weight * (b.Max - b.Min)
	}
	if math.Abs(area-1) > 1e-12 {
		t.Errorf("area %v, want 1", area)
	}
}

func TestTidyTicks(t *testing.T) {
	var got []string
	for _, tk := range (tidyTicks{}).Ticks(0, 7.6) {
		if tk.Label != "" {
			got = append(got, tk.Label)
		}
	}
	// gonum's DefaultTicks puts majors at 0, 2.5, 5, 7.5 here, labelled "0.00" etc.
	if want := "0 2.5 5 7.5"; strings.Join(got, " ") != want {
		t.Errorf("labels %v, want %q", got, want)
	}
}
