// Package regtest builds pinned btcd and lnd from the Go module proxy and
// runs a regtest chain with two lnd nodes and a funded channel, for itests
// and the demo.
package regtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// LndVersion is the lnd release the harness builds and runs.
	LndVersion = "v0.21.3-beta"

	// BtcdVersion is the btcd release used as the regtest chain.
	BtcdVersion = "v0.26.2"

	// lndTags are the sub-servers l402 needs from lnd.
	lndTags = "signrpc walletrpc chainrpc invoicesrpc routerrpc peersrpc"
)

// Binaries are the paths of the built programs.
type Binaries struct {
	Lnd  string
	Btcd string
}

// DefaultCacheDir is where binaries are cached unless
// L402_REGTEST_CACHE says otherwise: outside any checkout, so that every
// clone and every CI run on the machine reuses them.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("L402_REGTEST_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set L402_REGTEST_CACHE: "+
			"%w", err)
	}
	return filepath.Join(base, "l402", "regtest"), nil
}

// EnsureBinaries returns the cached lnd and btcd, building whichever is
// missing. Builds are serialised across processes by a lock file, so that
// test packages started together build once.
func EnsureBinaries(ctx context.Context, cacheDir string, log io.Writer) (
	Binaries, error) {

	bins := Binaries{
		Lnd:  filepath.Join(cacheDir, "lnd-"+LndVersion, "lnd"),
		Btcd: filepath.Join(cacheDir, "btcd-"+BtcdVersion, "btcd"),
	}
	if isExecutable(bins.Lnd) && isExecutable(bins.Btcd) {
		return bins, nil
	}

	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return bins, err
	}
	unlock, err := lockFile(filepath.Join(cacheDir, ".build.lock"))
	if err != nil {
		return bins, err
	}
	defer unlock()

	// Work directories of builds that were killed are left over; no
	// build runs now that the lock is held.
	stale, _ := filepath.Glob(filepath.Join(cacheDir, "build-*"))
	for _, d := range stale {
		os.RemoveAll(d)
	}

	builds := []struct {
		module, version, pkg, tags, out string
	}{
		{"github.com/btcsuite/btcd", BtcdVersion, ".", "", bins.Btcd},
		{"github.com/lightningnetwork/lnd", LndVersion, "./cmd/lnd",
			lndTags, bins.Lnd},
	}
	for _, b := range builds {
		if isExecutable(b.out) {
			continue
		}
		start := time.Now()
		fmt.Fprintf(log, "regtest: building %s@%s (once; cached in %s)\n",
			b.module, b.version, cacheDir)
		err := buildModule(ctx, cacheDir, b.module, b.version, b.pkg,
			b.tags, b.out)
		if err != nil {
			return bins, fmt.Errorf("unable to build %s@%s: %w", b.module,
				b.version, err)
		}
		fmt.Fprintf(log, "regtest: built %s in %s\n", filepath.Base(b.out),
			time.Since(start).Round(time.Second))
	}
	return bins, nil
}

// isExecutable reports whether path is an executable regular file.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// lockFile takes an exclusive lock on path, waiting for other holders.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("unable to lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// buildModule downloads module@version through the module proxy, copies it
// out of the read-only module cache (go install refuses modules with
// replace directives, as lnd's has) and builds pkg inside the copy.
func buildModule(ctx context.Context, cacheDir, module, version, pkg,
	tags, out string) error {

	work, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	env := append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false",
		"GOWORK=off", "GO111MODULE=on")

	var stdout, stderr bytes.Buffer
	dl := exec.CommandContext(ctx, goBinary(), "mod", "download", "-json",
		module+"@"+version)
	dl.Dir, dl.Env, dl.Stdout, dl.Stderr = work, env, &stdout, &stderr
	dl.SysProcAttr = sysProcAttr()
	if err := dl.Run(); err != nil {
		return fmt.Errorf("go mod download: %w: %s%s", err,
			stderr.String(), stdout.String())
	}
	var info struct {
		Dir   string
		Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return fmt.Errorf("go mod download printed %q: %w",
			stdout.String(), err)
	}
	if info.Error != "" || info.Dir == "" {
		return fmt.Errorf("go mod download: %s", info.Error)
	}

	src := filepath.Join(work, "src")
	if err := copyTree(info.Dir, src); err != nil {
		return fmt.Errorf("unable to copy the module: %w", err)
	}

	tmpOut := filepath.Join(work, filepath.Base(out))
	args := []string{"build", "-trimpath", "-o", tmpOut}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	build := exec.CommandContext(ctx, goBinary(), append(args, pkg)...)
	stderr.Reset()
	build.Dir, build.Env, build.Stdout, build.Stderr = src, env, &stderr,
		&stderr
	build.SysProcAttr = sysProcAttr()
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w: %s", err, stderr.String())
	}

	// Move the finished binary in place in one step, so that a build
	// killed half-way never leaves a broken binary in the cache.
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.Rename(tmpOut, out)
}

// goBinary returns the go command to build with: the one on PATH, else the
// one of GOROOT.
func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// copyTree copies a directory tree of regular files, making the copies
// writable (the module cache is read-only).
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry,
		err error) error {

		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)

		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		return copyFile(path, dst)
	})
}

// copyFile copies one regular file.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// errStopped is returned when a process ends before it was ready.
var errStopped = errors.New("process exited")

// tail returns the last lines of a log file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
