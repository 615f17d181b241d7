package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// depsList runs `deps.sh --list` with only the named tools on PATH (real
// ones, linked), plus a gcc of the test's choosing, and returns the
// Debian packages it says are missing.
func depsList(t *testing.T, gcc string) []string {
	t.Helper()
	bin := t.TempDir()
	// as and ld are binutils', which gcc runs from PATH; mktemp and rm
	// are coreutils', which every Debian has.
	for _, tool := range []string{"make", "curl", "jq", "perl", "initdb",
		"as", "ld", "mktemp", "rm"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if gcc != "" {
		if err := os.Symlink(gcc, filepath.Join(bin, "gcc")); err != nil {
			t.Fatal(err)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command(bash, "deps.sh", "--list")
	cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deps.sh --list: %v %s", err, out)
	}
	return strings.Fields(string(out))
}

// TestDepsInstallsWhatRaceNeeds: `go test -race` needs cgo, so gcc and
// libc's headers and start files (libc6-dev), which minimal images leave
// out even when gcc is there. deps.sh names libc6-dev whenever gcc cannot
// build a C program, with gcc when gcc is missing too.
func TestDepsInstallsWhatRaceNeeds(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "gcc")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\n"+
		"echo 'stdlib.h: No such file or directory' >&2\nexit 1\n"),
		0o755); err != nil {
		t.Fatal(err)
	}
	if got := depsList(t, broken); !slices.Contains(got, "libc6-dev") ||
		slices.Contains(got, "gcc") {
		t.Errorf("gcc without libc6-dev: %q, want libc6-dev and not gcc",
			got)
	}
	if got := depsList(t, ""); !slices.Contains(got, "libc6-dev") ||
		!slices.Contains(got, "gcc") {
		t.Errorf("no gcc: %q, want gcc and libc6-dev", got)
	}

	// This machine's gcc builds C (-race runs here): nothing to add.
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc here")
	}
	if got := depsList(t, gcc); slices.Contains(got, "libc6-dev") ||
		slices.Contains(got, "gcc") {
		t.Errorf("working gcc: %q", got)
	}
}

// TestDepsWritesNoDeviceFile: the gcc check links into a file of its own.
// A linker told `-o /dev/null` replaces its output file, and run as root
// it turns /dev/null into a regular file, which breaks everything after
// (initdb among them).
func TestDepsWritesNoDeviceFile(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	spy := filepath.Join(dir, "gcc")
	if err := os.WriteFile(spy, []byte("#!/bin/sh\necho \"$@\" >> "+args+
		"\ncat > /dev/null\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	depsList(t, spy)
	got, err := os.ReadFile(args)
	if err != nil {
		t.Fatalf("deps.sh did not run gcc: %v", err)
	}
	if strings.Contains(string(got), "/dev/") {
		t.Errorf("deps.sh runs gcc %s: it must link into a file of its own",
			got)
	}
}
