package regtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCopyTreeMakesWritableCopies(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "b", "f.go"), []byte("package b"),
		0o444)
	os.Symlink("f.go", filepath.Join(src, "a", "b", "link"))

	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "a", "b", "f.go"))
	if err != nil || string(got) != "package b" {
		t.Fatalf("copy: %q %v", got, err)
	}
	f, err := os.OpenFile(filepath.Join(dst, "a", "b", "f.go"), os.O_WRONLY,
		0)
	if err != nil {
		t.Fatalf("copy is not writable: %v", err)
	}
	f.Close()
	if _, err := os.Lstat(filepath.Join(dst, "a", "b", "link")); err == nil {
		t.Fatal("symlink was copied")
	}
}

func TestIsExecutable(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "exe")
	plain := filepath.Join(dir, "plain")
	os.WriteFile(exe, nil, 0o755)
	os.WriteFile(plain, nil, 0o644)
	if !isExecutable(exe) || isExecutable(plain) || isExecutable(dir) ||
		isExecutable(filepath.Join(dir, "none")) {
		t.Fatal("isExecutable is wrong")
	}
}

func TestEnsureBinariesUsesTheCache(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"lnd-" + LndVersion + "/lnd",
		"btcd-" + BtcdVersion + "/btcd"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755)
	}
	var log strings.Builder
	bins, err := EnsureBinaries(t.Context(), dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	if bins.Lnd != filepath.Join(dir, "lnd-"+LndVersion, "lnd") ||
		log.Len() != 0 {
		t.Fatalf("cached binaries rebuilt: %+v %q", bins, log.String())
	}

	t.Setenv("L402_REGTEST_CACHE", dir)
	if got, _ := DefaultCacheDir(); got != dir {
		t.Fatalf("L402_REGTEST_CACHE ignored: %s", got)
	}
}

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := lockFile(path)
		if err == nil {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("second lock taken while the first is held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("second lock not taken after release")
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := freePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range ports {
		if !strings.HasPrefix(p, "127.0.0.1:") || seen[p] {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
}

func TestProcessStopAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "node"), 0o755)
	pidPath := filepath.Join(dir, "node", "sleep.pid")

	p, err := startProcess("sleep", "/bin/sleep", []string{"60"},
		filepath.Join(dir, "node", "out"), pidPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pidPath); err != nil {
		t.Fatal("no pid file")
	}
	p.stop(5 * time.Second)
	if !p.exited() {
		t.Fatal("process still running after stop")
	}
	if _, err := os.Stat(pidPath); err == nil {
		t.Fatal("pid file left behind")
	}

	// A process whose PID file outlived its harness is killed by the
	// next Start in the same directory.
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)

	// A PID that runs another binary is left alone.
	killLeftovers(dir, "/nonexistent/lnd")
	if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
		t.Fatal("a process of another binary was killed")
	}
	os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	sleepBin, _ := exec.LookPath("sleep")
	sleepBin, _ = filepath.EvalSymlinks(sleepBin)
	killLeftovers(dir, sleepBin)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) ||
		ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("leftover not killed: %v", err)
	}
}

func TestWaitForReportsADeadProcess(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	p, err := startProcess("sh", "/bin/sh", []string{"-c",
		"echo the last words; exit 3"}, out, filepath.Join(dir, "sh.pid"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.done
	ctx := t.Context()
	err = waitFor(ctx, 5*time.Second, p, func(context.Context) error {
		return errors.New("not ready")
	})
	if !errors.Is(err, errStopped) || !strings.Contains(err.Error(),
		"the last words") {
		t.Fatalf("got %v", err)
	}

	calls := 0
	err = waitFor(ctx, 5*time.Second, nil, func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("waitFor: %v after %d calls", err, calls)
	}
	err = waitFor(ctx, 150*time.Millisecond, nil, func(context.Context) error {
		return errors.New("never")
	})
	if err == nil || !strings.Contains(err.Error(), "never") {
		t.Fatalf("timeout: %v", err)
	}

	// An ended context stops the wait at once.
	done, cancel := context.WithCancel(ctx)
	cancel()
	err = waitFor(done, time.Hour, nil, func(context.Context) error {
		return errors.New("never")
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
