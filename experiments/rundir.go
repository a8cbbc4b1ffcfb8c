package experiments

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/purview-lab/purview/internal/atomicfile"
)

// CreateRunDir creates the run directory root/name (and root) if needed and
// returns its path. name must be a safe directory name: letters, digits, '.',
// '_' and '-', starting with a letter or digit, so it cannot climb out of root.
// An existing directory is kept with its contents: a run rewrites its own
// files atomically, and a resumed run reuses what a killed one left.
func CreateRunDir(root, name string) (string, error) {
	if !safeName.MatchString(name) {
		return "", fmt.Errorf("experiments: run name %q is not a safe directory name (%s)", name, safeNameRule)
	}
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("experiments: create run directory: %w", err)
	}
	return dir, nil
}

// WriteFileAtomic writes data to path so that readers, and a run killed
// half-way, see either the old file or the complete new one: the bytes go to a
// temporary file in the same directory, which is fsynced and renamed over
// path; on failure the temporary file is removed and path is untouched. The
// file gets mode 0644.
func WriteFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	return nil
}
