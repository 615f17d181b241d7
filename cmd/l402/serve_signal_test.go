package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/l402/l402/internal/regtest"
)

// lockedLog collects a process's stderr lines for the test to read.
type lockedLog struct {
	mu    sync.Mutex
	lines []string
}

// add records one line.
func (l *lockedLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// String returns the lines so far.
func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// signalServeConfig is a serve without a node selling backend under
// pathRegexp.
func signalServeConfig(home, backend, pathRegexp string) string {
	return fmt.Sprintf(`listenaddr: "127.0.0.1:0"
insecure: true
authenticator:
  disable: true
sqlite:
  dbfile: %q
services:
  - name: api
    hostregexp: ".*"
    pathregexp: %q
    address: %q
    price: 10
`, filepath.Join(home, "serve.db"), pathRegexp,
		strings.TrimPrefix(backend, "http://"))
}

// TestServeBinaryReloadsOnHUPAndDrainsOnTERM runs the real `l402 serve`
// binary: SIGHUP makes it read its config again (the service moves from
// /api/ to /v2/), and SIGTERM makes it finish the request in flight
// before it exits 0, even when a SIGHUP or a second SIGTERM comes during
// the drain.
func TestServeBinaryReloadsOnHUPAndDrainsOnTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "backend "+r.URL.Path)
	}))
	defer backend.Close()
	defer close(release)

	dir := t.TempDir()
	bin := filepath.Join(dir, "l402")
	if out, err := exec.Command("go", "build", "-o", bin,
		".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	cfgPath := filepath.Join(home, "serve.yaml")
	os.WriteFile(cfgPath, []byte(signalServeConfig(home, backend.URL,
		"^/api/")), 0o600)

	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	log := &lockedLog{}
	addr, err := regtest.WaitServeListening(stderr, log.add, time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	base := "http://" + addr
	if code, body := httpGet(t, base+"/api/x"); code != 200 ||
		body != "backend /api/x" {
		t.Fatalf("before the reload: %d %q", code, body)
	}

	os.WriteFile(cfgPath, []byte(signalServeConfig(home, backend.URL,
		"^/v2/")), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, log, func() bool {
		code, _ := httpGet(t, base+"/v2/x")
		return code == 200
	})
	if code, _ := httpGet(t, base+"/api/x"); code != 404 ||
		!strings.Contains(log.String(), "config reloaded") {
		t.Fatalf("after SIGHUP the old route answers %d\n%s", code, log)
	}

	// A request in flight when SIGTERM arrives is answered in full.
	slow := make(chan string, 1)
	go func() {
		code, body := httpGet(t, base+"/v2/slow")
		slow <- fmt.Sprintf("%d %s", code, body)
	}()
	<-entered
	cmd.Process.Signal(syscall.SIGTERM)
	waitUntil(t, log, func() bool {
		return strings.Contains(log.String(), "draining")
	})
	// A SIGHUP or another SIGTERM during the drain neither kills serve
	// nor cuts the drain short.
	cmd.Process.Signal(syscall.SIGHUP)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	release <- struct{}{}
	if got := <-slow; got != "200 backend /v2/slow" {
		t.Fatalf("the request in flight got %q", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, log)
	}
}

// httpGet returns a GET's status and body; a failed request is code 0.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUntil polls cond for up to 20 seconds.
func waitUntil(t *testing.T, log fmt.Stringer, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(
		deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within 20s; serve's log:\n%s", log)
}
