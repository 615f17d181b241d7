package bake

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/l402/l402/internal/macaroons"
)

// AttenuateOptions are what `l402 bake attenuate` is asked.
type AttenuateOptions struct {
	// File is the macaroon to narrow (binary or hex); "-" reads In.
	File string
	In   io.Reader

	// Out is the file to write (default: File with .attenuated before
	// .macaroon); Force replaces an existing one.
	Out   string
	Force bool

	// Caveats are added; at least one is needed.
	Caveats Caveats
}

// AttenuateReport is what Attenuate wrote; `l402 bake attenuate --json`
// prints it.
type AttenuateReport struct {
	Path      string     `json:"path"`
	Source    string     `json:"source"`
	Added     []string   `json:"caveats_added"`
	Caveats   []string   `json:"caveats"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Attenuate narrows the macaroon in File, offline, and writes it 0600 to
// Out, never over an existing file without Force.
func Attenuate(o AttenuateOptions) (AttenuateReport, error) {
	opts, err := o.Caveats.options()
	if err != nil {
		return AttenuateReport{}, ErrBadOptions.Mark(err)
	}
	if opts == nil {
		return AttenuateReport{}, ErrBadOptions.Mark(errors.New(
			"nothing to add: give --timeout, --ip or --ip-range"))
	}

	mac, before, err := readMacaroon(o.In, o.File)
	if err != nil {
		return AttenuateReport{}, err
	}
	out := o.Out
	if out == "" {
		out = attenuatedPath(o.File)
	}
	if _, err := os.Lstat(out); err == nil && !o.Force {
		return AttenuateReport{}, ErrFileExists.Mark(fmt.Errorf("%s "+
			"already exists: choose another file with --out, or "+
			"replace it with --force", out))
	}

	narrowed, err := macaroons.Attenuate(mac, *opts)
	if err != nil {
		return AttenuateReport{}, ErrBadOptions.Mark(err)
	}
	after, err := macaroons.Inspect(narrowed)
	if err != nil {
		return AttenuateReport{}, err
	}
	if err := writeMacaroon(out, narrowed, o.Force); err != nil {
		return AttenuateReport{}, err
	}
	return AttenuateReport{Path: out, Source: o.File,
		Added: after.Caveats[len(before.Caveats):], Caveats: after.Caveats,
		ExpiresAt: after.ExpiresAt}, nil
}

// attenuatedPath returns file with ".attenuated" before ".macaroon", or
// after the name when it has no such suffix.
func attenuatedPath(file string) string {
	if file == "-" {
		return "attenuated.macaroon"
	}
	if base, ok := strings.CutSuffix(file, ".macaroon"); ok {
		return base + ".attenuated.macaroon"
	}
	return file + ".attenuated"
}
