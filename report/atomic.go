package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/purview-lab/purview/internal/atomicfile"
)

// WriteAll writes table.md, table.csv, table.json and table.tex into dir
// (created if needed), each atomically.
func (t *Table) WriteAll(dir string) error {
	if _, err := t.index(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, out := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"table.md", t.Markdown},
		{"table.csv", t.CSV},
		{"table.json", t.JSON},
		{"table.tex", t.LaTeX},
	} {
		if err := atomicfile.Write(filepath.Join(dir, out.name), out.write); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}
