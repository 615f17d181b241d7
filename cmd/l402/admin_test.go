package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/serve"
)

// startAdminServe runs serve with the admin API on (no node:
// authenticator.disable) in home, and returns its serve.yaml.
func startAdminServe(t *testing.T, home string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`listenaddr: %q
insecure: true
sqlite:
  dbfile: %q
authenticator:
  disable: true
services:
  - name: api
    hostregexp: ".*"
    pathregexp: "^/api/"
    address: "127.0.0.1:9"
    price: 100
admin:
  enabled: true
`, addr, filepath.Join(home, "serve.db"))
	path := filepath.Join(home, "serve.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- serve.Run(ctx, serve.RunOptions{ConfigPath: path, Dir: home,
			Log: &strings.Builder{}, Ready: func(a string) { ready <- a }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return path
}

// TestAdminCommand: l402 admin finds serve from serve.yaml, changes a
// price, lists the services as JSON and as a table, and ends with the
// admin codes when refused.
func TestAdminCommand(t *testing.T) {
	home := t.TempDir()
	t.Setenv("L402_HOME", home)
	startAdminServe(t, home)

	out, errOut, code := run("admin", "health", "--json")
	if code != 0 || strings.TrimSpace(out) != `{"status":"ok"}` {
		t.Fatalf("health: %d %q %q", code, out, errOut)
	}
	out, errOut, code = run("admin", "services", "update", "api",
		"--price", "150", "--json")
	var svc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &svc) != nil ||
		svc["price"] != "150" || svc["source"] != "config+api" {
		t.Fatalf("update: %d %q %q", code, out, errOut)
	}
	out, _, code = run("admin", "services", "list")
	if code != 0 || !strings.Contains(out, "api\tconfig+api\t150 sat\ton") {
		t.Fatalf("list: %d %q", code, out)
	}
	out, _, code = run("admin", "stats", "--json")
	if code != 0 || !strings.Contains(out, `"total_revenue_sats":"0"`) {
		t.Fatalf("stats: %d %q", code, out)
	}

	for _, c := range []struct {
		args []string
		code int
		json string
	}{
		{[]string{"admin", "services", "update", "nope", "--price", "1",
			"--json"}, 1, `"code":"not_found"`},
		{[]string{"admin", "services", "update", "api", "--price", "-1",
			"--json"}, 2, `"code":"admin_refused"`},
		{[]string{"admin", "tokens", "revoke", "zz", "--json"}, 2,
			`"code":"admin_refused"`},
		{[]string{"admin", "info", "--macaroon", filepath.Join(home,
			"serve.yaml"), "--json"}, 5, `"code":"admin_unauthorized"`},
		{[]string{"admin", "info", "--host", "127.0.0.1:1", "--timeout",
			"2s", "--json"}, 4, `"code":"admin_unreachable"`},
	} {
		_, errOut, code := run(c.args...)
		if code != c.code || !strings.Contains(errOut, c.json) {
			t.Errorf("%v: %d %q", c.args, code, errOut)
		}
	}
}
