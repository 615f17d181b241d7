// Command modproxy writes one commit of this repository as a module
// version into a directory laid out as a Go module proxy (GOPROXY=file://),
// so that `go install github.com/l402/l402/cmd/l402@VERSION` can be tried
// before the module is published. scripts/install-check.sh runs it.
//
//	go run ./scripts/modproxy -dir /tmp/proxy [-rev HEAD] [-repo .]
//
// It prints the version it wrote: the pseudo-version of the commit,
// v0.0.0-YYYYMMDDhhmmss-<12 hex digits>.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// modulePath is the module this repository holds.
const modulePath = "github.com/l402/l402"

func main() {
	dir := flag.String("dir", "", "the proxy directory to write into")
	rev := flag.String("rev", "HEAD", "the git revision to write")
	repo := flag.String("repo", ".", "the repository's root")
	flag.Parse()
	if *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: modproxy -dir DIR [-rev REV] "+
			"[-repo DIR]")
		os.Exit(2)
	}

	v, err := writeVersion(*dir, *repo, *rev)
	if err != nil {
		fmt.Fprintf(os.Stderr, "modproxy: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(v)
}

// writeVersion writes rev of the repository at repo as a module version
// into the proxy at dir: @v/list, and the version's .info, .mod and .zip,
// the files GOPROXY=file:// reads. It returns the version.
func writeVersion(dir, repo, rev string) (string, error) {
	hash, err := git(repo, "rev-parse", "--verify", rev+"^{commit}")
	if err != nil {
		return "", err
	}
	secs, err := git(repo, "show", "-s", "--format=%ct", hash)
	if err != nil {
		return "", err
	}
	unix, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return "", fmt.Errorf("unable to read the commit time %q: %w",
			secs, err)
	}
	when := time.Unix(unix, 0).UTC()
	version := module.PseudoVersion("v0", "", when, hash[:12])

	gomod, err := git(repo, "show", hash+":go.mod")
	if err != nil {
		return "", err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    string
	}{version, when.Format(time.RFC3339)})
	if err != nil {
		return "", fmt.Errorf("unable to encode the .info file: %w", err)
	}

	vdir := filepath.Join(dir, modulePath, "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", fmt.Errorf("unable to make the proxy directory: %w", err)
	}
	files := map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": info,
		version + ".mod":  []byte(gomod + "\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(vdir, name), b, 0o644); err != nil {
			return "", fmt.Errorf("unable to write %s: %w", name, err)
		}
	}
	return version, writeZip(filepath.Join(vdir, version+".zip"), repo,
		hash, version)
}

// writeZip writes the module zip of commit hash, made the way the go
// command makes it from version control (files ignored by git left out).
func writeZip(path, repo, hash, version string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("unable to create the module zip: %w", err)
	}
	root, err := checkoutRoot(repo)
	if err != nil {
		f.Close()
		return err
	}
	m := module.Version{Path: modulePath, Version: version}
	if err := modzip.CreateFromVCS(f, m, root, hash, ""); err != nil {
		f.Close()
		return fmt.Errorf("unable to make the module zip: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unable to write the module zip: %w", err)
	}
	return nil
}

// checkoutRoot returns the directory whose .git holds the repository's
// objects. CreateFromVCS accepts only a directory with a .git directory, so
// a git worktree (whose .git is a file) is read through its main checkout;
// the commit is the same object there.
func checkoutRoot(repo string) (string, error) {
	common, err := git(repo, "rev-parse", "--path-format=absolute",
		"--git-common-dir")
	if err != nil {
		return "", err
	}
	if filepath.Base(common) != ".git" {
		return "", fmt.Errorf("the repository's git directory %s is not "+
			"a checkout's .git", common)
	}
	return filepath.Dir(common), nil
}

// git runs git in repo and returns its output without the final newline.
func git(repo string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", repo},
		args...)...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = ": " + strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("git %s: %w%s", strings.Join(args, " "),
			err, msg)
	}
	return strings.TrimRight(string(out), "\n"), nil
}
