// Package atomicfile writes files whole or not at all: a reader, or a
// process started after a crash, sees the old content or the new one,
// never a part.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is WriteNew's refusal to replace a file; it wraps
// fs.ErrExist.
var ErrExists = fmt.Errorf("file exists: %w", fs.ErrExist)

// Write replaces path with data. The bytes go to a temporary file in the
// same directory (so that the rename cannot cross file systems), whose
// mode is set before any byte is written (a secret is never readable by
// others, not even for a moment); the file is synced to disk and then
// renamed over path. The directory is synced too, where the system
// allows it, so that the rename survives a crash.
func Write(path string, data []byte, mode os.FileMode) error {
	tmp, err := temp(path, data, mode)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed

	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("unable to put %s in place: %w", path, err)
	}
	SyncDir(filepath.Dir(path))
	return nil
}

// WriteNew writes data to path as Write does, but never replaces a file:
// one that is there, or appears while the data is written, is left alone
// and ErrExists returned. It links the temporary file into place, which
// fails rather than replace; on a file system without hard links it
// renames after a last look.
func WriteNew(path string, data []byte, mode os.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	tmp, err := temp(path, data, mode)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)

	err = os.Link(tmp, path)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s: %w", path, ErrExists)
	case err != nil:
		if _, lerr := os.Lstat(path); lerr == nil {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("unable to put %s in place: %w", path, err)
		}
	}
	SyncDir(filepath.Dir(path))
	return nil
}

// temp writes data to a new temporary file beside path, mode first, and
// syncs it; it returns the file's name.
func temp(path string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".atomic-*")
	if err != nil {
		return "", fmt.Errorf("unable to write %s (creating a temporary "+
			"file beside it): %w", path, err)
	}
	if err := fill(f, data, mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("unable to write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("unable to write %s: %w", path, err)
	}
	return f.Name(), nil
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

// SyncDir makes a rename or a link in dir durable. It is best effort:
// some file systems refuse to sync a directory, and the file itself is
// already on disk.
func SyncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
