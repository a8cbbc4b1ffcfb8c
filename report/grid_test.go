package report

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func sampleGrid() *Grid {
	return &Grid{
		Title:  "purview-logreg: AUROC ×100",
		Corner: "corruption",
		Rows:   []string{"gaussian_noise", "fog"},
		Cols:   []string{"1", "2", "time"},
		Units:  []Unit{Percent, Plain, Seconds},
		Values: [][]float64{{0.97349, 0.3, 12.34}, {math.NaN(), 1.23456, 0}},
		Note:   "severities 1–2",
	}
}

func TestGridMarkdown(t *testing.T) {
	var b strings.Builder
	if err := sampleGrid().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	want := "## purview-logreg: AUROC ×100\n\n" +
		"| corruption     |    1 |     2 |   time |\n" +
		"| :------------- | ---: | ----: | -----: |\n" +
		"| gaussian_noise | 97.3 |   0.3 | 12.3 s |\n" +
		"| fog            |    - | 1.235 |  0.0 s |\n" +
		"\nseverities 1–2\n\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestGridCSV(t *testing.T) {
	var b strings.Builder
	if err := sampleGrid().CSV(&b); err != nil {
		t.Fatal(err)
	}
	want := "corruption,1,2,time\ngaussian_noise,0.97349,0.3,12.34\nfog,,1.23456,0\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestGridTerminal(t *testing.T) {
	var b strings.Builder
	if err := sampleGrid().Terminal(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"purview-logreg: AUROC ×100\n", "gaussian_noise", "97.3", "12.3 s", "severities 1–2\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("terminal output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestGridErrors(t *testing.T) {
	for name, g := range map[string]*Grid{
		"rows":  {Title: "t", Rows: []string{"a"}, Cols: []string{"x"}},
		"cols":  {Title: "t", Rows: []string{"a"}, Cols: []string{"x"}, Values: [][]float64{{1, 2}}},
		"units": {Title: "t", Rows: []string{"a"}, Cols: []string{"x"}, Values: [][]float64{{1}}, Units: []Unit{Plain, Plain}},
	} {
		var b strings.Builder
		err := g.Markdown(&b)
		if err == nil || !strings.HasPrefix(err.Error(), `report: grid "t"`) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestSeverityFigure(t *testing.T) {
	dir := figDir(t)
	panels := []SeverityPanel{
		{"gaussian_noise", [][]float64{{0.6, 0.7, 0.8, 0.9, 0.95}, {0.5, 0.55, 0.6, 0.65, 0.7}}},
		{"fog", [][]float64{{0.45, 0.5, math.NaN(), 0.7, 0.8}, {0.3, 0.4, 0.5, 0.6, 0.7}}},
		{"snow", [][]float64{{0.9, 0.9, 0.9, 0.9, 0.9}, {1, 1, 1, 1, 1}}},
		{"pixelate", [][]float64{{0.5, 0.5, 0.5, 0.5, 0.5}, {0.5, 0.5, 0.5, 0.5, 0.5}}},
		{"jpeg", [][]float64{{0.5, 0.6, 0.7, 0.8, 0.9}, {0.5, 0.5, 0.5, 0.5, 0.5}}},
	}
	path := filepath.Join(dir, "severity")
	if err := SeverityFigure("AUROC against severity", []string{"msp", "purview-logreg"}, []int{1, 2, 3, 4, 5}, panels, path); err != nil {
		t.Fatal(err)
	}
	// 4 panels of 2.2 in per row at 150 dpi; 2 rows of 1.9 in + title 0.4 +
	// one legend line 0.2 + 0.15.
	checkFigure(t, path, 1320, int(math.Round((2*1.9+0.4+0.2+0.15)*150)))
}

func TestSeverityFigureErrors(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		dets   []string
		panels []SeverityPanel
		want   string
	}{
		"no panels":      {[]string{"a"}, nil, "want panels"},
		"detector count": {[]string{"a", "b"}, []SeverityPanel{{"fog", [][]float64{{0.5}}}}, `panel "fog" has 1 detectors, want 2`},
		"value count":    {[]string{"a"}, []SeverityPanel{{"fog", [][]float64{{0.5, 0.6}}}}, `has 2 values, want 1`},
		"range":          {[]string{"a"}, []SeverityPanel{{"fog", [][]float64{{1.5}}}}, `AUROC 1.5 outside [0,1]`},
	} {
		err := SeverityFigure("t", c.dets, []int{1}, c.panels, filepath.Join(dir, "x"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}
