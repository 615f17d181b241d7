package bake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/l402/l402/internal/macaroons"
)

// writeMacaroon writes the macaroon 0600, making its directory (0700)
// when needed.
func writeMacaroon(path string, mac []byte, force bool) error {
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	if err == nil {
		err = macaroons.WriteSecretFile(path, mac, force)
	}
	if errors.Is(err, fs.ErrPermission) {
		return ErrNotWritable.Mark(fmt.Errorf("%w: pass --save-to with a "+
			"file of yours, or run as the user that owns lnd's "+
			"directory", err))
	}
	return err
}
