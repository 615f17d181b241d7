package lnddetect

import (
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/macaroon.v2"
)

// tree builds fake lnd layouts in a temporary home and a temporary
// file-system root.
type tree struct {
	t    *testing.T
	home string
	root string
	env  map[string]string
}

// newTree returns an empty home and root.
func newTree(t *testing.T) *tree {
	t.Helper()
	base := t.TempDir()
	tr := &tree{
		t:    t,
		home: filepath.Join(base, "home"),
		root: filepath.Join(base, "root"),
	}
	tr.env = map[string]string{"HOME": tr.home}
	tr.mkdir(tr.home)
	tr.mkdir(tr.root)
	return tr
}

// opts returns Options that search only the tree.
func (tr *tree) opts() Options {
	return Options{
		Home:   tr.home,
		Getenv: func(k string) string { return tr.env[k] },
		GOOS:   "linux",
		root:   tr.root,
	}
}

// path joins elements under the home directory.
func (tr *tree) path(elem ...string) string {
	return filepath.Join(append([]string{tr.home}, elem...)...)
}

// sys is an appliance path under the tree's root.
func (tr *tree) sys(p string) string {
	return filepath.Join(tr.root, p)
}

// mkdir makes a directory and its parents.
func (tr *tree) mkdir(dir string) {
	tr.t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tr.t.Fatal(err)
	}
}

// write writes a file, making its directory.
func (tr *tree) write(path string, data []byte) {
	tr.t.Helper()
	tr.mkdir(filepath.Dir(path))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tr.t.Fatal(err)
	}
}

// lnd makes an lnd directory with a tls.cert and lnd's three macaroons
// for each network.
func (tr *tree) lnd(dir string, networks ...string) {
	tr.t.Helper()
	tr.write(filepath.Join(dir, "tls.cert"), testCert)
	for _, n := range networks {
		tr.macaroons(filepath.Join(dir, "data", "chain", "bitcoin", n))
	}
	tr.mkdir(filepath.Join(dir, "data", "graph"))
}

// macaroons writes admin, invoice and readonly.macaroon into dir.
func (tr *tree) macaroons(dir string, names ...string) {
	tr.t.Helper()
	if len(names) == 0 {
		names = standardMacaroons
	}
	for _, name := range names {
		tr.write(filepath.Join(dir, name+".macaroon"), testMacaroon(tr.t))
	}
}

// conf writes a config file from lines.
func (tr *tree) conf(path string, lines ...string) {
	tr.t.Helper()
	tr.write(path, []byte(strings.Join(lines, "\n")+"\n"))
}

// testCert is a PEM block of type CERTIFICATE; its body is not parsed.
var testCert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
	Bytes: []byte("not really DER")})

// testMacaroon returns a binary version 2 macaroon like lnd's.
func testMacaroon(t *testing.T) []byte {
	t.Helper()
	m, err := macaroon.New([]byte("root key"), []byte("\x030"), "lnd",
		macaroon.V2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// denyFS is the real file system, refusing reads of some paths as a
// file owned by another user with mode 0600 would: the tests run as root,
// whom chmod does not stop.
type denyFS struct {
	stat, read, list map[string]bool
}

// Stat implements FS.
func (d denyFS) Stat(name string) (fs.FileInfo, error) {
	for dir := range d.stat {
		if strings.HasPrefix(name, dir+string(filepath.Separator)) {
			return nil, &fs.PathError{Op: "stat", Path: name,
				Err: fs.ErrPermission}
		}
	}
	return os.Stat(name)
}

// ReadFile implements FS.
func (d denyFS) ReadFile(name string) ([]byte, error) {
	if d.read[name] {
		return nil, &fs.PathError{Op: "open", Path: name,
			Err: fs.ErrPermission}
	}
	return os.ReadFile(name)
}

// ReadDir implements FS.
func (d denyFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if d.list[name] {
		return nil, &fs.PathError{Op: "open", Path: name,
			Err: fs.ErrPermission}
	}
	return os.ReadDir(name)
}

// mustFind runs Find and fails the test on an error.
func mustFind(t *testing.T, opts Options) *Result {
	t.Helper()
	r, err := Find(opts)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	return r
}

// hasNote says whether a note contains s.
func hasNote(r *Result, s string) bool {
	for _, n := range r.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// errorAs is errors.As returning the target.
func errorAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}
