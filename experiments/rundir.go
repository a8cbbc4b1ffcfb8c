package experiments

import (
	"fmt"
	"os"
	"path/filepath"
)

// RunDir is a run directory under construction. A run writes into a
// temporary sibling of its final directory and Commit swaps it in, so the
// directory root/name always holds one complete run: the previous one until
// the new one has finished, never a mixture, and never files a previous run
// wrote that the new one did not (an anomaly set dropped from the config
// leaves no stale ROC figure behind).
type RunDir struct {
	Path  string // where to write: the temporary directory
	final string
}

// CreateRunDir creates root (if needed) and a temporary run directory for
// root/name. name must be a safe directory name: letters, digits, '.', '_'
// and '-', starting with a letter or digit, so it cannot climb out of root.
// Call Commit when the run is complete, or Discard when it failed.
func CreateRunDir(root, name string) (*RunDir, error) {
	if !safeName.MatchString(name) {
		return nil, fmt.Errorf("experiments: run name %q is not a safe directory name (%s)", name, safeNameRule)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("experiments: create run directory: %w", err)
	}
	tmp, err := os.MkdirTemp(root, "."+name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("experiments: create run directory: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("experiments: create run directory: %w", err)
	}
	return &RunDir{Path: tmp, final: filepath.Join(root, name)}, nil
}

// Final returns the directory the run ends up in.
func (d *RunDir) Final() string { return d.final }

// Commit replaces root/name by the finished run. The previous run, if any,
// is moved aside first and removed only after the new one is in place.
func (d *RunDir) Commit() error {
	old := ""
	if _, err := os.Stat(d.final); err == nil {
		old = d.Path + ".old"
		if err := os.Rename(d.final, old); err != nil {
			return fmt.Errorf("experiments: replace run directory: %w", err)
		}
	}
	if err := os.Rename(d.Path, d.final); err != nil {
		if old != "" {
			os.Rename(old, d.final) // put the previous run back
		}
		return fmt.Errorf("experiments: replace run directory: %w", err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("experiments: remove previous run: %w", err)
		}
	}
	return nil
}

// Discard removes the unfinished run; root/name is left as it was.
func (d *RunDir) Discard() { os.RemoveAll(d.Path) }
