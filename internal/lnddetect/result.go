package lnddetect

import (
	"encoding/pem"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"gopkg.in/macaroon.v2"
)

// Result is the lnd Find found: where it is, how to reach it, and which
// of its files l402 can use.
type Result struct {
	// LndDir is lnd's base directory; empty when only flags (or litd in
	// remote mode) said where lnd's files are.
	LndDir string

	// Network is lnd's network (see Networks); empty only when
	// --lnd-macdir was given and nothing told the network.
	Network string

	// RPCHost is lnd's gRPC address to dial.
	RPCHost string

	// TLSCertPath is lnd's tls.cert; TLSCertProblem says why it cannot
	// be used, or is empty.
	TLSCertPath    string
	TLSCertProblem string

	// MacaroonDir holds the network's macaroons.
	MacaroonDir string

	// Macaroons are the macaroon files found, by file name without
	// ".macaroon": "admin", "invoice", "readonly", or baked ones.
	Macaroons map[string]MacaroonFile

	// Source says, for humans, where lnd was found: "--lnddir",
	// "$LND_DIR", "~/.lnd", "litd ~/.lit", "Umbrel", "flags", ...
	Source string

	// Notes are things the user may want to know: other lnd
	// directories seen, settings lnd ignores, files l402 cannot read.
	Notes []string

	tlsErr error
}

// MacaroonFile is one macaroon file.
type MacaroonFile struct {
	Path string

	// Problem says why the file cannot be used ("permission denied
	// (mode 0600)", "is empty", ...), or is empty.
	Problem string

	err error
}

// standardMacaroons are the macaroons lnd writes itself when its wallet is
// created or unlocked.
var standardMacaroons = []string{"admin", "readonly", "invoice"}

// Macaroon returns the path of the named macaroon ("invoice" or
// "invoice.macaroon"), or a *FileError that says why it cannot be used and
// what to run.
func (r *Result) Macaroon(name string) (string, error) {
	name = strings.TrimSuffix(name, ".macaroon")
	m, ok := r.Macaroons[name]
	if !ok {
		return "", &FileError{
			What:    "macaroon",
			Path:    filepath.Join(r.MacaroonDir, name+".macaroon"),
			Problem: "does not exist" + r.onNetwork(),
			Fix:     missingMacaroonFix(name),
			Err:     ErrMissing,
		}
	}
	if m.Problem != "" {
		return "", &FileError{What: "macaroon", Path: m.Path,
			Problem: m.Problem, Fix: macaroonFix(m.err), Err: m.err}
	}
	return m.Path, nil
}

// TLSCert returns the path of lnd's TLS certificate, or a *FileError that
// says why it cannot be used and what to run.
func (r *Result) TLSCert() (string, error) {
	if r.TLSCertProblem == "" {
		return r.TLSCertPath, nil
	}
	return "", &FileError{What: "TLS certificate", Path: r.TLSCertPath,
		Problem: r.TLSCertProblem, Fix: tlsFix(r.tlsErr), Err: r.tlsErr}
}

// FileError says that one of lnd's files cannot be used, why, and what to
// do. It wraps ErrMissing, ErrBadFile or fs.ErrPermission.
type FileError struct {
	What    string // "macaroon", "TLS certificate"
	Path    string
	Problem string
	Fix     string
	Err     error
}

// Error implements error.
func (e *FileError) Error() string {
	return e.What + " " + e.Path + " " + e.Problem + ": " + e.Fix
}

// Unwrap returns the error errors.Is should see.
func (e *FileError) Unwrap() error { return e.Err }

// onNetwork names the network for an error message.
func (r *Result) onNetwork() string {
	if r.Network == "" {
		return ""
	}
	return " (network " + r.Network + ")"
}

// missingMacaroonFix says how to get a macaroon that is not there.
func missingMacaroonFix(name string) string {
	switch name {
	case "admin", "readonly":
		return "lnd writes it when its wallet is created or unlocked " +
			"(run `lncli create` or `lncli unlock`); if lnd runs on " +
			"another network pass --network, and if it keeps its " +
			"macaroons elsewhere pass --lnd-macdir"
	case "invoice":
		return "bake one with `l402 bake invoice-only` (or let `l402 " +
			"setup --bake` do it); lnd also writes one with its " +
			"wallet, so if lnd runs on another network pass " +
			"--network, and if it keeps its macaroons elsewhere " +
			"pass --lnd-macdir"
	}
	return "bake it with `l402 setup --bake`, or pass --lnd-macdir " +
		"with the directory that holds it"
}

// macaroonFix says how to fix a macaroon file that cannot be used.
func macaroonFix(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "run as the user that owns lnd's directory, or copy the " +
			"macaroon to a directory of yours with mode 0600 and " +
			"pass that directory with --lnd-macdir"
	case errors.Is(err, ErrBadFile):
		return "copy it again from lnd's macaroon directory, or bake a " +
			"new one with `l402 setup --bake`"
	}
	return "check the path, or pass --lnd-macdir"
}

// tlsFix says how to fix a certificate file that cannot be used.
func tlsFix(err error) string {
	switch {
	case errors.Is(err, ErrMissing), errors.Is(err, fs.ErrNotExist):
		return "lnd writes tls.cert when it starts: start lnd, or pass " +
			"--lnd-tls with the path of its certificate"
	case errors.Is(err, fs.ErrPermission):
		return "run as the user that owns lnd's directory, or copy " +
			"tls.cert (it holds no secret) to a file of yours and " +
			"pass it with --lnd-tls"
	case errors.Is(err, ErrBadFile):
		return "pass --lnd-tls with lnd's tls.cert, a PEM file that " +
			"starts with -----BEGIN CERTIFICATE-----"
	}
	return "check the path, or pass --lnd-tls"
}

// fileKind says what a file must hold.
type fileKind int

const (
	kindMacaroon fileKind = iota
	kindCert
)

// checkFile stats and reads path, and returns why it cannot be used as a
// file of the given kind (and an error for errors.Is), or "" and nil.
func (e *env) checkFile(path string, kind fileKind) (string, error) {
	fi, err := e.FS.Stat(path)
	if err != nil {
		return describe(err), classifyFileErr(err)
	}
	if fi.IsDir() {
		return "is a directory", ErrBadFile
	}
	data, err := e.FS.ReadFile(path)
	if err != nil {
		problem := describe(err)
		if errors.Is(err, fs.ErrPermission) {
			problem = sprintf("%s (mode %04o)", problem,
				fi.Mode().Perm())
		}
		return problem, classifyFileErr(err)
	}
	if len(data) == 0 {
		return "is empty", ErrBadFile
	}
	return checkContent(data, kind)
}

// checkContent checks that data is a binary macaroon or a PEM certificate.
func checkContent(data []byte, kind fileKind) (string, error) {
	switch kind {
	case kindMacaroon:
		var m macaroon.Macaroon
		if err := m.UnmarshalBinary(data); err != nil {
			return "is not a binary macaroon (" + err.Error() + ")",
				ErrBadFile
		}
	case kindCert:
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" {
			return "holds no PEM certificate", ErrBadFile
		}
	}
	return "", nil
}

// describe says in a few words what a file error means.
func describe(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be read: permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot be read: " + pe.Err.Error()
	}
	return "cannot be read: " + err.Error()
}

// classifyFileErr keeps the error that errors.Is should see.
func classifyFileErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrMissing
	case errors.Is(err, fs.ErrPermission):
		return fs.ErrPermission
	}
	return err
}

// macaroonFiles lists the macaroons in dir, then adds those whose paths
// lnd's config file sets (they may live elsewhere).
func (e *env) macaroonFiles(dir string,
	confPaths map[string]string) map[string]MacaroonFile {

	files := map[string]MacaroonFile{}
	add := func(name, path string) {
		problem, err := e.checkFile(path, kindMacaroon)
		files[name] = MacaroonFile{Path: path, Problem: problem,
			err: err}
	}

	entries, err := e.FS.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.note("the macaroon directory %s does not exist", dir)
	case err != nil:
		e.note("cannot list %s (%s); looked for lnd's own macaroons "+
			"only", dir, describe(err))
		for _, name := range standardMacaroons {
			path := filepath.Join(dir, name+".macaroon")
			if _, err := e.FS.Stat(path); !errors.Is(err,
				fs.ErrNotExist) {

				add(name, path)
			}
		}
	}
	for _, entry := range entries {
		name, ok := strings.CutSuffix(entry.Name(), ".macaroon")
		if ok && name != "" && !entry.IsDir() {
			add(name, filepath.Join(dir, entry.Name()))
		}
	}

	for name, path := range confPaths {
		if path != "" {
			add(name, e.expand(path))
		}
	}
	return files
}
