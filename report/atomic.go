package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes path through write so that readers (and a run killed
// half-way) see either the old file or the complete new one, never a partial
// file: write goes to a temporary file in the same directory, which is
// flushed, fsynced, closed, made mode 0644 and renamed over path; the
// directory is then fsynced (best effort) so the rename survives a crash. If
// any step fails — including write returning an error or panicking — the
// temporary file is removed and path is left untouched.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("report: write %s: fsync: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		done = true
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	done = true
	// Persist the directory entry; some file systems do not support syncing
	// a directory, which is not worth failing a finished write for.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

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
		if err := WriteFileAtomic(filepath.Join(dir, out.name), out.write); err != nil {
			return err
		}
	}
	return nil
}
