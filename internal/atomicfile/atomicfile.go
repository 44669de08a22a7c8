// Package atomicfile writes files so that readers, and a restart after a crash,
// see either the old file or the complete new one, never a torn one.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes data to path so that a reader (or a restart after a
// crash) sees either no file or the complete file, never a torn one: it
// writes a temporary file in the same directory with the final mode, syncs
// it, renames it over path and syncs the directory.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// Set the mode before any secret byte is written (CreateTemp uses 0600,
	// but do not depend on it, and widen it only for public files).
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	if d, err := os.Open(dir); err == nil {
		// Best effort: persist the rename itself. Some filesystems refuse
		// fsync on directories; the file is complete either way.
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
