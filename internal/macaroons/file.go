package macaroons

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteSecretFile writes data to path readable by its owner alone (0600),
// atomically: readers see the old file or the whole new one, never a part.
// It refuses to replace an existing file unless force is set; without
// force, a file that appears while it writes is not replaced either.
func WriteSecretFile(path string, data []byte, force bool) error {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return existsError(path)
		}
	}

	tmp, err := writeTemp(filepath.Dir(path), data)
	if err != nil {
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	defer os.Remove(tmp)

	if err := install(tmp, path, force); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// existsError is the refusal to replace an existing file.
func existsError(path string) error {
	return fmt.Errorf("%s already exists: choose another file or "+
		"overwrite it with --force", path)
}

// writeTemp writes data to a new 0600 file in dir, synced to disk, and
// returns its name.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".l402-secret-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}

	// CreateTemp makes the file 0600 already; say so before the first
	// byte goes in, whatever the platform's default.
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// install moves the temporary file to path. Without force it links rather
// than renames, which fails instead of replacing a file that exists.
func install(tmp, path string, force bool) error {
	if force {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("unable to write %s: %w", path, err)
		}
		return nil
	}

	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return existsError(path)
	}

	// Some file systems have no hard links: fall back to a rename after
	// a last look.
	if _, lerr := os.Lstat(path); lerr == nil {
		return existsError(path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("unable to write %s: %w", path, err)
	}
	return nil
}

// syncDir makes the new directory entry durable as far as the platform
// allows. The file is in place either way, so a failure is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
