package bake

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/l402/l402/internal/macaroons"
)

// maxMacaroonFile bounds what Inspect and Attenuate read: lnd's macaroons
// are a few hundred bytes.
const maxMacaroonFile = 1 << 20

// InspectOptions are what `l402 bake inspect` is asked.
type InspectOptions struct {
	// File is the macaroon (binary or hex); "-" reads In.
	File string
	In   io.Reader
}

// InspectReport is what a macaroon says about itself; `l402 bake inspect
// --json` prints it. The macaroon itself is not in it.
type InspectReport struct {
	Path string `json:"path"`
	macaroons.Info
	Expired bool   `json:"expired"`
	Revoke  string `json:"revoke,omitempty"`
}

// Inspect reads the macaroon in File, without any node: its id, lnd's
// root key ID and permissions, the role they match, the caveats, whether
// it has expired, and how to revoke it.
func Inspect(o InspectOptions) (InspectReport, error) {
	_, info, err := readMacaroon(o.In, o.File)
	if err != nil {
		return InspectReport{}, err
	}
	res := InspectReport{Path: o.File, Info: info,
		Expired: info.ExpiresAt != nil && !time.Now().Before(
			*info.ExpiresAt)}
	if info.RootKeyID != "" {
		res.Revoke = "lncli deletemacaroonid " + info.RootKeyID
	}
	return res, nil
}

// readMacaroon reads a macaroon file ("-" is in) and inspects it. A file
// that is missing, too large or not a macaroon is ErrBadOptions.
func readMacaroon(in io.Reader, path string) ([]byte, macaroons.Info,
	error) {

	r := in
	if path == "-" && r == nil {
		return nil, macaroons.Info{}, ErrBadOptions.Mark(errors.New(
			"- reads the macaroon from stdin, but there is none"))
	}
	if path != "-" {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, macaroons.Info{}, ErrBadOptions.Mark(fmt.Errorf(
				"%s does not exist: give a macaroon file", path))
		}
		if err != nil {
			return nil, macaroons.Info{}, err
		}
		defer f.Close()
		r = f
	}

	b, err := io.ReadAll(io.LimitReader(r, maxMacaroonFile+1))
	if err != nil {
		return nil, macaroons.Info{}, fmt.Errorf("unable to read %s: %w",
			path, err)
	}
	if len(b) > maxMacaroonFile {
		return nil, macaroons.Info{}, ErrBadOptions.Mark(fmt.Errorf(
			"%s is over 1 MiB: not a macaroon", path))
	}
	info, err := macaroons.Inspect(b)
	if err != nil {
		return nil, macaroons.Info{}, ErrBadOptions.Mark(fmt.Errorf(
			"%s: %w", path, err))
	}
	return b, info, nil
}
