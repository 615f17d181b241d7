package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lnddetect"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestRunDisabledMetricsReload runs the whole server without a node
// (authenticator.disable): it proxies, serves /metrics on its own
// address, reloads when a value arrives on RunOptions.Reload and stops
// when its context ends.
func TestRunDisabledMetricsReload(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "backend "+r.URL.Path)
	}))
	defer backend.Close()
	cfg := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)
	cfg = strings.Replace(cfg, `"localhost:8081"`, `"127.0.0.1:0"`, 1)
	cfg = strings.Replace(cfg, "  network:", "  disable: true\n  network:", 1)
	cfg = strings.Replace(cfg, `dbfile: "~/.aperture/aperture.db"`,
		`dbfile: "`+t.TempDir()+`/serve.db"`, 1)
	cfg += "prometheus:\n  enabled: true\n  listenaddr: 127.0.0.1:0\n"
	path := writeConfig(t, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	reload := make(chan struct{})
	go func() {
		done <- Run(ctx, RunOptions{ConfigPath: path, Dir: t.TempDir(),
			Log: log, Ready: func(addr string) { ready <- addr },
			Reload: reload})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v\n%s", err, log)
	case <-time.After(10 * time.Second):
		t.Fatalf("not listening:\n%s", log)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + addr + "/api/x"); code != 200 ||
		body != "backend /api/x" {
		t.Fatalf("proxied: %d %q", code, body)
	}
	m := regexp.MustCompile(`metrics on (http://\S+/metrics)`).
		FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no metrics address in:\n%s", log)
	}
	if _, body := get(m[1]); !strings.Contains(body,
		`l402_free_requests_total{reason="auth_disabled",service="api"} 1`) {
		t.Fatalf("metrics:\n%s", body)
	}
	if code, _ := get("http://" + addr + "/metrics"); code != 404 {
		t.Fatalf("metrics on the proxy's port: %d", code)
	}

	// A reload moves the service; a bad config is refused.
	os.WriteFile(path, []byte("listenaddr: [\n"), 0o600)
	reload <- struct{}{}
	waitFor(t, func() bool {
		return strings.Contains(log.String(), "reload refused")
	})
	if code, _ := get("http://" + addr + "/api/x"); code != 200 {
		t.Fatalf("after a refused reload: %d", code)
	}
	os.WriteFile(path, []byte(strings.Replace(cfg, `"^/api/.*$"`,
		`"^/v2/.*$"`, 1)), 0o600)
	reload <- struct{}{}
	waitFor(t, func() bool {
		code, _ := get("http://" + addr + "/v2/x")
		return code == 200
	})
	if code, _ := get("http://" + addr + "/api/x"); code != 404 {
		t.Fatalf("old route after reload: %d", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("Run did not stop")
	}
	if !strings.Contains(log.String(), "l402 serve: draining") {
		t.Fatalf("no drain in the log:\n%s", log)
	}
	if strings.Contains(log.String(), "macaroon=") {
		t.Fatal("a credential in the log")
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(
		deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

// TestRunConditions checks that Run's known failures carry their codes: a
// bad config is bad_config, and an lnd whose files are not there is lnd's
// cause (file_missing), so that l402 serve reports them as setup does.
func TestRunConditions(t *testing.T) {
	dir := t.TempDir()
	bad := writeConfig(t, strings.Replace(apertureSkillConfig,
		"price: 100", "price: -1", 1))
	err := Run(context.Background(), RunOptions{ConfigPath: bad, Dir: dir,
		Log: io.Discard})
	if !errors.Is(err, config.ErrBad) || fault.Code(err) != "bad_config" {
		t.Fatalf("bad price: %v (code %q)", err, fault.Code(err))
	}

	cfg := strings.Replace(apertureSkillConfig, `"localhost:8081"`,
		`"127.0.0.1:0"`, 1)
	cfg = strings.Replace(cfg, `dbfile: "~/.aperture/aperture.db"`,
		`dbfile: "`+dir+`/serve.db"`, 1)
	cfg = strings.Replace(cfg, `tlspath: "~/.lnd/tls.cert"`,
		`tlspath: "`+dir+`/no-such-tls.cert"`, 1)
	err = Run(context.Background(), RunOptions{
		ConfigPath: writeConfig(t, cfg), Dir: dir, Log: io.Discard})
	var p *lnddetect.Problem
	if !errors.As(err, &p) || fault.Code(err) != "file_missing" ||
		!strings.Contains(err.Error(), "no-such-tls.cert") {
		t.Fatalf("missing tls.cert: %v (code %q)", err, fault.Code(err))
	}

	// What only building the chain finds is the config's too, and names
	// the file.
	cfg = strings.Replace(cfg, "  network:", "  disable: true\n  network:", 1)
	cfg += "    capabilityrules:\n      - methods: [POST]\n" +
		"        capabilities: [write]\n"
	path := writeConfig(t, cfg)
	err = Run(context.Background(), RunOptions{ConfigPath: path, Dir: dir,
		Log: io.Discard})
	if fault.Code(err) != "bad_config" || !strings.Contains(err.Error(),
		path) {
		t.Fatalf("capabilityrules without capabilities: %v (code %q)", err,
			fault.Code(err))
	}
}

// TestRunStoppedBeforeReady: a stop (SIGTERM or Ctrl-C end l402 serve's
// ctx) that comes while Run still reaches the database or the node is not
// their failure: Run returns nil, as after a drain, rather than a
// database, lnd_unreachable or lnc_unreachable error (a deadline on ctx
// still is one: TestRunLNCPhraseSources). (Before Run took a
// ctx from l402 serve, such a signal ended the process with no message.)
func TestRunStoppedBeforeReady(t *testing.T) {
	dir := t.TempDir()
	cfg := strings.Replace(apertureSkillConfig, `"localhost:8081"`,
		`"127.0.0.1:0"`, 1)
	cfg = strings.Replace(cfg, `dbfile: "~/.aperture/aperture.db"`,
		`dbfile: "`+dir+`/serve.db"`, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	log := &syncBuffer{}
	err := Run(ctx, RunOptions{ConfigPath: writeConfig(t, cfg), Dir: dir,
		Log: log})
	if err != nil {
		t.Fatalf("stopped while starting: %v (code %q)", err,
			fault.Code(err))
	}
	if !strings.Contains(log.String(), "l402 serve: stopped") {
		t.Fatalf("no stop in the log:\n%s", log)
	}
}
