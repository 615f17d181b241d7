package serve

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/hashmail"
	"nhooyr.io/websocket"
)

// TestRunWriteTimeoutSparesTheRelay: writetimeout bounds the services'
// answers (one that cannot be written in 1ns is dropped) but not the
// relay's streams, which last as long as their LNC sessions.
func TestRunWriteTimeoutSparesTheRelay(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "backend")
	}))
	defer backend.Close()
	r := startRun(t, disabled(relayConfig(t, backend.URL, "127.0.0.1:0",
		false))+"writetimeout: 1ns\n")

	if resp, err := http.Get("http://" + r.addr + "/api/x"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) == "backend" {
			t.Fatal("an answer was written after writetimeout")
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+r.addr+hashmail.ReceivePath+
		"?method=POST", nil)
	if err != nil {
		t.Fatalf("the relay's websocket under writetimeout: %v", err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"stream_id":"`+
		strings.Repeat("A", 86)+`=="}`)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil ||
		!strings.Contains(string(got), "stream not found") {
		t.Fatalf("relay answer %q %v", got, err)
	}
}

// TestRunBaseDirAndProfile: basedir holds serve's own files (the default
// database and the self-signed certificate) instead of l402's directory,
// and profile serves pprof on localhost.
func TestRunBaseDirAndProfile(t *testing.T) {
	base := filepath.Join(t.TempDir(), "aperture")
	_, port, _ := net.SplitHostPort(freeAddr(t))
	cfg := strings.Replace(disabled(apertureSkillConfig),
		"insecure: true", "insecure: false", 1)
	cfg = strings.Replace(cfg, "sqlite:\n  dbfile: \"~/.aperture/aperture.db\"\n",
		"", 1)
	cfg = strings.Replace(cfg, `"localhost:8081"`, `"127.0.0.1:0"`, 1)
	r := startRun(t, cfg+"basedir: "+base+"\nprofile: "+port+"\n")

	for _, name := range []string{"serve.db", "tls.cert", "tls.key"} {
		if _, err := os.Stat(filepath.Join(base, name)); err != nil {
			t.Errorf("%s not in basedir: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(r.dir, name)); err == nil {
			t.Errorf("%s in l402's directory despite basedir", name)
		}
	}

	resp, err := http.Get("http://localhost:" + port + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b),
		"goroutine") || !strings.Contains(r.log.String(), "pprof on") {
		t.Fatalf("pprof: %d %.80s\n%s", resp.StatusCode, b, r.log)
	}
}

// TestRunSkipMigrationsNeedsTheDatabase: with sqlite.skipmigrations serve
// does not create a database: a missing one stops it with what to do.
func TestRunSkipMigrationsNeedsTheDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "serve.db")
	cfg := strings.Replace(disabled(apertureSkillConfig),
		`dbfile: "~/.aperture/aperture.db"`, `dbfile: "`+db+`"
  skipmigrations: true`, 1)
	cfg = strings.Replace(cfg, `"localhost:8081"`, `"127.0.0.1:0"`, 1)
	err := Run(context.Background(), RunOptions{
		ConfigPath: writeConfig(t, cfg), Dir: t.TempDir(), Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "must exist") {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("the database was created with migrations skipped")
	}
}

// TestHTTPServerTimeouts: the listener takes Aperture's timeouts.
func TestHTTPServerTimeouts(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, apertureSkillConfig+
		"idletimeout: 1m\nwritetimeout: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cfg: cfg, log: newLogger(io.Discard, cfg)}
	srv := s.httpServer()
	if srv.IdleTimeout != time.Minute || srv.ReadTimeout !=
		DefaultReadTimeout || srv.WriteTimeout != 0 {
		t.Fatalf("idle %s read %s write %s", srv.IdleTimeout,
			srv.ReadTimeout, srv.WriteTimeout)
	}
}

// TestReloadNamesApertureRestartKeys: the listener's timeouts, basedir,
// strictverify, profile and the websocket pings take effect at the next
// start; a reload that changes them says so.
func TestReloadNamesApertureRestartKeys(t *testing.T) {
	a, err := LoadConfig(writeConfig(t, apertureSkillConfig))
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadConfig(writeConfig(t, apertureSkillConfig+
		"readtimeout: 1m\nbasedir: /srv\nstrictverify: true\n"+
		"profile: 9999\nwspinginterval: 30s\ncors:\n"+
		"  alloworigins: [\"https://a.example\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(restartKeys(a, b), ", ")
	for _, key := range []string{"readtimeout", "basedir", "strictverify",
		"profile", "hashmail"} {
		if !strings.Contains(got, key) {
			t.Errorf("restart keys %q lack %s", got, key)
		}
	}
	if strings.Contains(got, "cors") {
		t.Errorf("cors needs no restart: %q", got)
	}
}
