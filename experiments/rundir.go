package experiments

import (
	"fmt"
	"os"
	"path/filepath"
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
