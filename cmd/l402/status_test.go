package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/macaroons/macaroontest"
	"github.com/l402/l402/status"
)

// statusHome writes a fetch.yaml into a private home, paying through lnd
// with a macaroon of the role, and returns the home.
func statusHome(t *testing.T, role string) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("L402_HOME", home)
	mac := filepath.Join(home, role+".macaroon")
	os.WriteFile(mac, macaroontest.MintRole(t, role), 0o600)
	os.WriteFile(filepath.Join(home, "tls.cert"), []byte("pem"), 0o600)
	os.WriteFile(filepath.Join(home, "fetch.yaml"), []byte("lnd:\n"+
		"  host: 127.0.0.1:10009\n  tlscertpath: tls.cert\n"+
		"  macaroonpath: "+mac+"\nmaxcost: 70\n"), 0o600)
	return home
}

// TestStatusCommand: `l402 status` prints the report for people or as
// JSON on stdout and exits 0 when the node can pay; a node that cannot
// pay prints the report all the same and exits 3 (node_unusable); a bad
// fetch.yaml is bad_config with no report; arguments are refused.
func TestStatusCommand(t *testing.T) {
	home := statusHome(t, "pay-only")
	buyer, _ := memoryBuyer(t, 10)
	buyer.Deny("ListChannels")

	out, errOut, code := run("status", "--json")
	var rep status.Report
	if code != 0 || errOut != "" || json.Unmarshal([]byte(out), &rep) != nil ||
		!rep.Usable || rep.Node.Alias != "buyer" ||
		rep.Macaroon.Role != "pay-only" || !rep.Liquidity.Known ||
		rep.Budget.MaxCostSat != 70 ||
		rep.Files[0].Path != filepath.Join(home, "fetch.yaml") {
		t.Fatalf("status --json: %d %s %s", code, out, errOut)
	}
	out, _, code = run("status", "-v")
	if code != 0 || !strings.Contains(out, "usable    yes") ||
		!strings.Contains(out, "pay-only (l402 role pay-only)") {
		t.Fatalf("status: %d %s", code, out)
	}

	// --config names another fetch.yaml: one whose macaroon may not pay.
	other := statusHome(t, "invoice-only")
	out, errOut, code = run("status", "--json", "--config",
		filepath.Join(other, "fetch.yaml"))
	if code != 3 || json.Unmarshal([]byte(out), &rep) != nil || rep.Usable ||
		!strings.Contains(errOut, `"code":"node_unusable"`) ||
		!strings.Contains(errOut, "may not pay") {
		t.Fatalf("unusable: %d %s %s", code, out, errOut)
	}
	out, errOut, code = run("status")
	if code != 3 || !strings.Contains(out, "usable    no: ") ||
		!strings.HasPrefix(errOut, "l402: ") {
		t.Fatalf("unusable, for people: %d %s %s", code, out, errOut)
	}

	os.WriteFile(filepath.Join(other, "fetch.yaml"), []byte("maxcost: x\n"),
		0o600)
	if out, errOut, code := run("status", "--json"); code != 1 || out != "" ||
		!strings.Contains(errOut, `"code":"bad_config"`) {
		t.Fatalf("bad fetch.yaml: %d %s %s", code, out, errOut)
	}
	if _, _, code := run("status", "extra"); code != 2 {
		t.Fatalf("an argument: %d", code)
	}
	if _, _, code := run("status", "--config",
		filepath.Join(t.TempDir(), "none.yaml")); code != 1 {
		t.Fatalf("a missing --config: %d", code)
	}
}
