// Package atomicfile writes files whole or not at all: a reader, or a
// process started after a crash, sees the old content or the new one,
// never a part.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data. The bytes go to a temporary file in the
// same directory (so that the rename cannot cross file systems), whose
// mode is set before any byte is written (a secret is never readable by
// others, not even for a moment); the file is synced to disk and then
// renamed over path. The directory is synced too, where the system
// allows it, so that the rename survives a crash.
func Write(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".atomic-*")
	if err != nil {
		return fmt.Errorf("unable to create a temporary file for %s: %w",
			path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed

	if err := fill(f, data, mode); err != nil {
		f.Close()
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("unable to put %s in place: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// fill sets the temporary file's mode, writes data and syncs it, in that
// order: the mode first so that the content is never exposed.
func fill(f *os.File, data []byte, mode os.FileMode) error {
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes a rename in dir durable. It is best effort: some file
// systems refuse to sync a directory, and the file itself is already on
// disk.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
