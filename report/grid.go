package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/olekukonko/tablewriter/tw"
)

// Unit says how a Grid column's values are shown to people. Machine-facing
// CSV always keeps the full-precision value.
type Unit int

const (
	// Percent shows a fraction ×100 with one decimal ("97.3").
	Percent Unit = iota
	// Plain shows four significant digits ("0.3", "1.234").
	Plain
	// Seconds shows one decimal and an "s" ("12.5 s").
	Seconds
)

// Grid is a labelled matrix of numbers that is not a detector × set result
// table: one detector's AUROC per corruption (rows) and severity (columns),
// the attack summary (attacks × accuracy, success rate, perturbation norms),
// the model's accuracy per corruption. NaN values are shown as "-".
type Grid struct {
	Title  string
	Corner string   // header of the row-label column, e.g. "corruption"
	Rows   []string // row labels
	Cols   []string // column headers
	Units  []Unit   // one per column; nil = all Percent
	Values [][]float64
	// Note is printed under the table (Markdown and terminal), e.g. the
	// legend of the columns.
	Note string
}

func (g *Grid) check() error {
	if len(g.Values) != len(g.Rows) {
		return errorf("grid %q: %d rows of values for %d row labels", g.Title, len(g.Values), len(g.Rows))
	}
	for i, r := range g.Values {
		if len(r) != len(g.Cols) {
			return errorf("grid %q: row %q has %d values for %d columns", g.Title, g.Rows[i], len(r), len(g.Cols))
		}
	}
	if g.Units != nil && len(g.Units) != len(g.Cols) {
		return errorf("grid %q: %d units for %d columns", g.Title, len(g.Units), len(g.Cols))
	}
	return nil
}

func (g *Grid) text(col int, v float64) string {
	if math.IsNaN(v) {
		return missing
	}
	u := Percent
	if g.Units != nil {
		u = g.Units[col]
	}
	switch u {
	case Plain:
		return strconv.FormatFloat(v, 'g', 4, 64)
	case Seconds:
		return strconv.FormatFloat(v, 'f', 1, 64) + " s"
	}
	return pct(v)
}

func (g *Grid) cells() (header []string, rows [][]string) {
	header = append([]string{g.Corner}, g.Cols...)
	for i, r := range g.Values {
		row := []string{g.Rows[i]}
		for j, v := range r {
			row = append(row, g.text(j, v))
		}
		rows = append(rows, row)
	}
	return header, rows
}

// Markdown writes "## Title", the table and the note.
func (g *Grid) Markdown(w io.Writer) error {
	if err := g.check(); err != nil {
		return err
	}
	header, rows := g.cells()
	if _, err := fmt.Fprintf(w, "## %s\n\n", mdEscape(g.Title)); err != nil {
		return errorf("grid %q: %w", g.Title, err)
	}
	writeMarkdownTable(w, header, rows, 1)
	if g.Note != "" {
		fmt.Fprintf(w, "\n%s\n", g.Note)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// CSV writes one line per row: the row label then every value at full
// precision (empty for NaN), under a header of Corner and Cols.
func (g *Grid) CSV(w io.Writer) error {
	if err := g.check(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write(append([]string{g.Corner}, g.Cols...))
	for i, r := range g.Values {
		row := []string{g.Rows[i]}
		for _, v := range r {
			row = append(row, emptyIfNaN(v))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// Terminal writes the title, an ASCII box table and the note.
func (g *Grid) Terminal(w io.Writer) error {
	if err := g.check(); err != nil {
		return err
	}
	header, rows := g.cells()
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignRight
	}
	align[0] = tw.AlignLeft
	if _, err := fmt.Fprintln(w, g.Title); err != nil {
		return errorf("grid %q: %w", g.Title, err)
	}
	if err := asciiTable(w, header, rows, align); err != nil {
		return errorf("grid %q: %w", g.Title, err)
	}
	if g.Note != "" {
		fmt.Fprintln(w, g.Note)
	}
	return nil
}
