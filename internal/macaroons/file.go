package macaroons

import (
	"errors"
	"fmt"

	"github.com/l402/l402/internal/atomicfile"
)

// WriteSecretFile writes data to path readable by its owner alone (0600),
// atomically: readers see the old file or the whole new one, never a part.
// It refuses to replace an existing file unless force is set; without
// force, a file that appears while it writes is not replaced either.
func WriteSecretFile(path string, data []byte, force bool) error {
	if force {
		return atomicfile.Write(path, data, 0o600)
	}
	err := atomicfile.WriteNew(path, data, 0o600)
	if errors.Is(err, atomicfile.ErrExists) {
		return fmt.Errorf("%s already exists: choose another file or "+
			"overwrite it with --force", path)
	}
	return err
}
