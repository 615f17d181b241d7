//go:build itest && unix

package scripts

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installCheckTimeout bounds one run of install-check.sh: with a warm
// module and build cache it takes well under a minute.
const installCheckTimeout = 5 * time.Minute

// runInstallCheck runs install-check.sh of the repository at repo and
// returns its combined output and error.
func runInstallCheck(t *testing.T, repo string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(),
		installCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash",
		filepath.Join(repo, "scripts", "install-check.sh"))
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestItestGoInstall: `go install github.com/l402/l402/cmd/l402@VERSION`
// works from a new GOPATH, and the installed binary reports VERSION.
func TestItestGoInstall(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := runInstallCheck(t, repo)
	if err != nil {
		t.Fatalf("install-check.sh: %v\n%s", err, out)
	}
	if !strings.Contains(out, "install-check: ok: go install "+
		"github.com/l402/l402/cmd/l402@v0.0.0-") {
		t.Fatalf("install-check.sh said no ok:\n%s", out)
	}
	t.Log(out)
}

// TestItestGoInstallRefusesReplace: the check fails, as go install does,
// for a commit whose go.mod has a replace directive (the protobuf fork it
// had before), so a replace that comes back is caught.
func TestItestGoInstallRefusesReplace(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "l402")
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir,
			"-c", "user.name=install-check",
			"-c", "user.email=install-check@localhost"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(repo, "clone", "--quiet", "--no-hardlinks", repo, clone)

	gomod := filepath.Join(clone, "go.mod")
	b, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, []byte("\nreplace google.golang.org/protobuf => "+
		"github.com/lightninglabs/protobuf-go-hex-display "+
		"v1.33.0-hex-display\n")...)
	if err := os.WriteFile(gomod, b, 0o644); err != nil {
		t.Fatal(err)
	}
	git(clone, "commit", "--quiet", "-am", "a replace directive")

	out, err := runInstallCheck(t, clone)
	if err == nil {
		t.Fatalf("install-check.sh passed with a replace directive:\n%s",
			out)
	}
	if !strings.Contains(out, "replace directives") {
		t.Fatalf("install-check.sh failed for another reason: %v\n%s",
			err, out)
	}
}
