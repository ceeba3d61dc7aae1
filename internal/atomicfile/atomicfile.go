// Package atomicfile writes a file so that readers see either the old
// content or the new, never half of it, and so that the file never exists,
// even briefly, with wider permissions than asked for. keywarden writes
// secrets (the encrypted store), reports and baselines that must be 0600,
// and git hooks that must be executable: all go through Write.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data. The data goes to a temporary file in the
// same directory, whose mode is set to perm before anything is written,
// is synced to disk, and is then renamed over path. On any error path is
// left as it was and the temporary file is removed.
func Write(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keywarden-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once the rename has happened
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
