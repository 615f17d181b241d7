package lnddetect

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Options says where to look for lnd. Every field is optional; a flag the
// user gave always wins over everything found on disk.
type Options struct {
	// LndDir is --lnddir: lnd's base directory. When set it must exist.
	LndDir string

	// Network is --network: mainnet, testnet, testnet4, signet, regtest
	// or simnet.
	Network string

	// LndHost is --lnd-host: lnd's gRPC address, host:port.
	LndHost string

	// TLSCertPath is --lnd-tls: lnd's tls.cert.
	TLSCertPath string

	// MacaroonDir is --lnd-macdir: the directory holding the macaroons.
	MacaroonDir string

	// Home is the user's home directory; empty means os.UserHomeDir.
	Home string

	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string

	// GOOS decides the platform's default directories; empty means
	// runtime.GOOS.
	GOOS string

	// FS reads the file system; nil means the real one. Tests give one
	// that refuses some paths, to check the permission reports as root.
	FS FS

	// root is prefixed to the absolute paths of the appliance layouts
	// (Umbrel, RaspiBlitz, ...), so that tests can build them in a
	// temporary directory.
	root string
}

// FS is the part of the file system Find reads.
type FS interface {
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

// osFS is FS on the real file system.
type osFS struct{}

// Stat implements FS.
func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// ReadFile implements FS.
func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// ReadDir implements FS.
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) {
	return os.ReadDir(name)
}

// env is Options with its defaults filled in, plus what Find learns on the
// way.
type env struct {
	Options
	notes []string
}

// newEnv fills in the defaults of opts.
func newEnv(opts Options) *env {
	e := &env{Options: opts}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.GOOS == "" {
		e.GOOS = runtime.GOOS
	}
	if e.FS == nil {
		e.FS = osFS{}
	}
	if e.Home == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			e.note("cannot tell your home directory (%v); only "+
				"--lnddir, $LND_DIR and system-wide layouts "+
				"are searched", err)
		}
		e.Home = home
	}
	return e
}

// note records something the user may want to know about the search.
func (e *env) note(format string, args ...any) {
	e.notes = append(e.notes, sprintf(format, args...))
}

// expand cleans a path from a flag or a config file the way lnd does
// (lncfg.CleanAndExpandPath): the first "~" becomes the home directory,
// then $VARIABLES are expanded.
func (e *env) expand(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "~") {
		p = strings.Replace(p, "~", e.Home, 1)
	}
	return filepath.Clean(os.Expand(p, e.Getenv))
}

// appDataDir is btcutil.AppDataDir(app, false) for the configured
// platform and home: where lnd and litd keep their files by default. It
// returns "" when the platform's base directory is unknown.
func (e *env) appDataDir(app string) string {
	upper := strings.ToUpper(app[:1]) + app[1:]
	switch e.GOOS {
	case "windows":
		base := e.Getenv("LOCALAPPDATA")
		if base == "" {
			base = e.Getenv("APPDATA")
		}
		if base == "" {
			return ""
		}
		return filepath.Join(base, upper)
	case "darwin":
		return e.inHome("Library", "Application Support", upper)
	case "plan9":
		return e.inHome(app)
	default:
		return e.inHome("." + app)
	}
}

// inHome joins path elements under the home directory, or returns "" when
// the home directory is unknown.
func (e *env) inHome(elem ...string) string {
	if e.Home == "" {
		return ""
	}
	return filepath.Join(append([]string{e.Home}, elem...)...)
}

// system returns an absolute appliance path under the test root.
func (e *env) system(p string) string {
	if e.root == "" {
		return p
	}
	return filepath.Join(e.root, p)
}

// isDir says whether p is an existing directory.
func (e *env) isDir(p string) bool {
	if p == "" {
		return false
	}
	fi, err := e.FS.Stat(p)
	return err == nil && fi.IsDir()
}

// exists says whether anything is at p.
func (e *env) exists(p string) bool {
	if p == "" {
		return false
	}
	_, err := e.FS.Stat(p)
	return err == nil
}
