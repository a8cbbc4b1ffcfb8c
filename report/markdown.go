package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Markdown writes the table as GitHub-flavoured Markdown: a heading with the
// title, the AUROC ×100 matrix (as in Terminal), then a "Per anomaly set"
// section with one table per anomaly set — rows = detectors, columns AUROC,
// AUPR-In, AUPR-Out, FPR95 (anom+), FPR95 (ID+) and detection accuracy, all
// ×100 — each followed by a one-line legend of the FPR95 conventions.
// "|" in names is escaped as "\|" so it cannot split a row.
func (t *Table) Markdown(w io.Writer) error {
	g, err := t.index()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", mdEscape(t.Title))
	fmt.Fprintf(bw, "AUROC ×100, in-distribution %s vs each anomaly set (anomalies positive). "+
		"Supervised detectors were trained on labelled anomalies (k-fold cross-validation) and show AUROC ± std over folds; "+
		"mean is over the anomaly sets.\n\n", mdEscape(t.InDist))
	header, rows := g.matrix()
	writeMarkdownTable(bw, header, rows, 2)

	fmt.Fprintf(bw, "\n## Per anomaly set\n")
	for _, s := range t.Sets {
		fmt.Fprintf(bw, "\n### %s%s\n\n", mdEscape(s), g.countsNote(s))
		var rows [][]string
		for _, d := range t.Detectors {
			rows = append(rows, longRow(d, g.supervised[d], g.cell(d, s)))
		}
		writeMarkdownTable(bw, longHeader, rows, 2)
		fmt.Fprintf(bw, "\n%s\n", longLegend)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: markdown table: %w", err)
	}
	return nil
}

// countsNote is " (2000 normal vs 1000 anomalous)" when every detector on set
// s saw the same sample counts, and "" otherwise (the CSV has them per row).
func (g *grid) countsNote(s string) string {
	var first *Cell
	for _, d := range g.t.Detectors {
		c := g.cell(d, s)
		if c == nil {
			continue
		}
		if first == nil {
			first = c
		} else if c.Metrics.Normal != first.Metrics.Normal || c.Metrics.Anomalous != first.Metrics.Anomalous {
			return ""
		}
	}
	if first == nil {
		return ""
	}
	return fmt.Sprintf(" (%d normal vs %d anomalous)", first.Metrics.Normal, first.Metrics.Anomalous)
}

// mdEscape keeps a name inside one Markdown table cell or heading.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\r\n", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// writeMarkdownTable writes a pipe table padded to aligned columns; the first
// nLeft columns are left-aligned, the rest right-aligned (numbers).
func writeMarkdownTable(w io.Writer, header []string, rows [][]string, nLeft int) {
	cells := make([][]string, 0, len(rows)+1)
	cells = append(cells, header)
	cells = append(cells, rows...)
	width := make([]int, len(header))
	for i := range width {
		width[i] = 3 // room for the ":--" / "--:" delimiter
	}
	for _, r := range cells {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(mdEscape(c)))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range r {
			c = mdEscape(c)
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i < nLeft {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		b.WriteString("\n")
		io.WriteString(w, b.String())
	}
	line(header)
	var b strings.Builder
	b.WriteString("|")
	for i := range header {
		if i < nLeft {
			b.WriteString(" :" + strings.Repeat("-", width[i]-1) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", width[i]-1) + ": |")
		}
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
	for _, r := range rows {
		line(r)
	}
}
