package fetch

import (
	"fmt"
	"os"
	"path/filepath"
)

// Output is a file written in full or not at all: the body goes to a
// temporary file beside the target, which replaces the target only on
// Commit.
type Output struct {
	*os.File
	target string
}

// CreateOutput starts writing the file at path.
func CreateOutput(path string) (*Output, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".l402-*")
	if err != nil {
		return nil, fmt.Errorf("unable to write to %s: %w", dir, err)
	}
	// A file being replaced keeps its mode; a new one is 0644.
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &Output{File: f, target: path}, nil
}

// Commit makes the written body the target file.
func (o *Output) Commit() error {
	if err := o.File.Sync(); err != nil {
		o.Abort()
		return err
	}
	if err := o.File.Close(); err != nil {
		os.Remove(o.File.Name())
		return err
	}
	if err := os.Rename(o.File.Name(), o.target); err != nil {
		os.Remove(o.File.Name())
		return fmt.Errorf("unable to write %s: %w", o.target, err)
	}
	return nil
}

// Abort discards what was written; the target is left as it was.
func (o *Output) Abort() {
	o.File.Close()
	os.Remove(o.File.Name())
}
