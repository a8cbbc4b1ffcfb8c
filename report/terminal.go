package report

import (
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Terminal writes the title and the AUROC ×100 matrix as a plain ASCII box
// table (readable in any log): one row per detector; columns detector,
// supervised (yes/no), one per anomaly set, and mean (the mean AUROC over the
// sets, "-" if a set is missing). A supervised detector's cell reads
// "99.6 ± 0.1": Metrics.AUROC ± the sample standard deviation over its folds.
func (t *Table) Terminal(w io.Writer) error {
	g, err := t.index()
	if err != nil {
		return err
	}
	header, rows := g.matrix()
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignRight
	}
	align[0], align[1] = tw.AlignLeft, tw.AlignLeft

	if _, err := fmt.Fprintf(w, "%s\nAUROC ×100, in-distribution %s vs each anomaly set (anomalies positive)\n", t.Title, t.InDist); err != nil {
		return fmt.Errorf("report: terminal table: %w", err)
	}
	if err := asciiTable(w, header, rows, align); err != nil {
		return fmt.Errorf("report: terminal table: %w", err)
	}
	return nil
}

// asciiTable writes a plain ASCII box table (readable in any log) with one
// alignment per column, cells as given.
func asciiTable(w io.Writer, header []string, rows [][]string, align []tw.Align) error {
	tbl := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		// Auto-format would turn "fashion-mnist:test" into "FASHION-MNIST:TEST".
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
	tbl.Header(header)
	if err := tbl.Bulk(rows); err != nil {
		return err
	}
	return tbl.Render()
}
