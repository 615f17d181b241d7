package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/cli"
)

// runLnget runs the lnget personality with args, stdout a pipe (as
// agents and scripts have it), and returns stdout, stderr and the exit
// code main would use.
func runLngetArgs(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	streams := cli.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code := runLnget(streams, args)
	return out.String(), errOut.String(), code
}

// lngetEnv gives the test a home of its own (~/.lnget there), an empty
// working directory, and config.yaml's text, and returns the home.
func lngetEnv(t *testing.T, configYAML string) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("L402_HOME", filepath.Join(home, ".l402"))
	for _, v := range os.Environ() {
		if name, _, _ := strings.Cut(v, "="); strings.HasPrefix(name,
			"LNGET_") {
			t.Setenv(name, "")
		}
	}
	t.Chdir(t.TempDir())
	if configYAML != "" {
		dir := filepath.Join(home, ".lnget")
		os.MkdirAll(dir, 0o700)
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"),
			[]byte(configYAML), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func TestInvokedAsLnget(t *testing.T) {
	for name, want := range map[string]bool{"lnget": true,
		"/usr/local/bin/lnget": true, "./lnget": true, "l402": false,
		"/bin/lnget-old": false, "lnget.exe": true} {
		if invokedAsLnget(name) != want {
			t.Errorf("%s: %v", name, !want)
		}
	}
}

func TestLngetFileName(t *testing.T) {
	for url, want := range map[string]string{
		"http://h:1/api/data.json":  "data.json",
		"http://h:1/api/data?x=1#f": "data",
		"http://h:1/api/":           "api",
		"http://h:1/":               "h:1",
		"http://h:1":                "h:1",
	} {
		if got := lngetFileName(url); got != want {
			t.Errorf("%s: %q, want %q", url, got, want)
		}
	}
}

// TestLngetFetchDefaults: as lnget, in a pipe the result is JSON on
// stdout and the body goes to a file named after the URL; -q and -o -
// put the raw body on stdout; --human prints "Downloaded to"; a paid
// result carries lnget's duration and payment_scheme.
func TestLngetFetchDefaults(t *testing.T) {
	lngetEnv(t, "ln:\n  mode: none\n")
	_, srv := memoryBuyer(t, 10)

	out, errOut, code := runLngetArgs(srv.URL + "/api/data")
	m := decode(t, out)
	got, _ := os.ReadFile("data")
	if code != 0 || m["l402_paid"] != true || m["output_path"] != "data" ||
		m["payment_scheme"] != "L402" || m["duration"] == nil ||
		m["l402_amount_sat"] != 10.0 || string(got) != "paid content for GET" {
		t.Fatalf("%d %q %q file %q", code, out, errOut, got)
	}

	for _, args := range [][]string{{"-q"}, {"-o", "-"}} {
		out, errOut, code := runLngetArgs(append(args, srv.URL+"/api/data")...)
		if code != 0 || out != "paid content for GET" {
			t.Errorf("%q: %d %q %q", args, code, out, errOut)
		}
	}

	out, errOut, code = runLngetArgs("--human", "-o", "x.txt", srv.URL+"/a")
	if code != 0 || out != "" || !strings.Contains(errOut,
		"Downloaded to: x.txt") {
		t.Fatalf("--human: %d %q %q", code, out, errOut)
	}

	// --json --print-body carries the body beside the file.
	out, _, code = runLngetArgs("--json", "--print-body", srv.URL+"/b")
	if m = decode(t, out); code != 0 || m["body"] != "paid content for GET" ||
		m["output_path"] != "b" {
		t.Fatalf("--print-body: %d %q", code, out)
	}
}

// TestLngetConfigAndEnv: lnget's config.yaml sets the caps, LNGET_*
// variables win over it, flags over both; an unknown key is bad_config
// naming the nearest key; errors are lnget's JSON on stderr with its
// kinds and exit codes, l402's code beside.
func TestLngetConfigAndEnv(t *testing.T) {
	lngetEnv(t, "l402:\n  max_cost_sats: 20\nln:\n  mode: none\n")
	srv := challengeServer(t, 30)

	_, errOut, code := runLngetArgs(srv.URL)
	e := decode(t, errOut)
	if code != 2 || e["code"] != "payment_too_expensive" ||
		e["l402_code"] != "over_budget" || e["exit_code"] != 2.0 {
		t.Fatalf("over the config's cap: %d %q", code, errOut)
	}

	// The variable raises the cap; with no node the payment fails, 3.
	t.Setenv("LNGET_L402_MAX_COST_SATS", "40")
	_, errOut, code = runLngetArgs(srv.URL)
	if e = decode(t, errOut); code != 3 || e["code"] != "payment_failed" ||
		e["l402_code"] != "no_node" {
		t.Fatalf("no node: %d %q", code, errOut)
	}
	_, errOut, code = runLngetArgs("--max-cost", "25", srv.URL)
	if e = decode(t, errOut); code != 2 || e["code"] !=
		"payment_too_expensive" {
		t.Fatalf("--max-cost over the variable: %d %q", code, errOut)
	}

	t.Setenv("LNGET_L402_MAX_COST_SATS", "lots")
	if _, errOut, code = runLngetArgs(srv.URL); code != 1 ||
		!strings.Contains(errOut, "LNGET_L402_MAX_COST_SATS") {
		t.Fatalf("bad variable: %d %q", code, errOut)
	}
	t.Setenv("LNGET_L402_MAX_COST_SATS", "")

	lngetEnv(t, "l402:\n  max_cost_sat: 20\n")
	_, errOut, code = runLngetArgs(srv.URL)
	if e = decode(t, errOut); code != 1 || e["l402_code"] != "bad_config" ||
		!strings.Contains(errOut, "max_cost_sats") ||
		!strings.Contains(errOut, "line 2") {
		t.Fatalf("unknown key: %d %q", code, errOut)
	}

	lngetEnv(t, "ln:\n  mode: lnc\n  lnc:\n    pairing_phrase: a b c\n")
	if _, errOut, code = runLngetArgs(srv.URL); code != 1 ||
		!strings.Contains(errOut, "L402_LNC_PHRASE") {
		t.Fatalf("phrase in the config: %d %q", code, errOut)
	}

	// auto_pay: false never pays: the price is shown, exit 0.
	lngetEnv(t, "l402:\n  auto_pay: false\n")
	out, errOut, code := runLngetArgs(srv.URL)
	if m := decode(t, out); code != 0 || m["status_code"] != 402.0 ||
		m["l402_paid"] != false {
		t.Fatalf("auto_pay false: %d %q %q", code, out, errOut)
	}
}

// TestLngetDryRunAndExits: --dry-run prints the preview and exits 10
// with lnget's dry_run_passed; a network error is 4; bad arguments 2;
// --version names lnget.
func TestLngetDryRunAndExits(t *testing.T) {
	lngetEnv(t, "ln:\n  mode: none\n")
	srv := challengeServer(t, 30)
	out, errOut, code := runLngetArgs("--dry-run", srv.URL)
	m := decode(t, out)
	if code != 10 || m["dry_run"] != true || m["requires_l402"] != true ||
		m["within_budget"] != true || m["max_cost_sats"] != 1000.0 ||
		decode(t, errOut)["code"] != "dry_run_passed" {
		t.Fatalf("dry run: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Base(srv.URL)); err == nil {
		t.Fatal("a dry run wrote a file")
	}

	url := srv.URL
	srv.Close()
	if _, errOut, code = runLngetArgs(url); code != 4 ||
		decode(t, errOut)["code"] != "network_error" {
		t.Fatalf("network: %d %q", code, errOut)
	}
	if _, errOut, code = runLngetArgs("--bogus", url); code != 2 ||
		decode(t, errOut)["code"] != "invalid_args" {
		t.Fatalf("bad flag: %d %q", code, errOut)
	}
	out, _, code = runLngetArgs("--version")
	if code != 0 || !strings.HasPrefix(out, "lnget ") {
		t.Fatalf("--version: %d %q", code, out)
	}
}

// TestLngetSubcommands: tokens list/show/remove/clear in lnget's JSON
// (domain, created, pending beside l402's fields), show by host:port,
// config path/init/show, ln status.
func TestLngetSubcommands(t *testing.T) {
	home := lngetEnv(t, "ln:\n  mode: none\n")
	_, srv := memoryBuyer(t, 10)

	out, _, code := runLngetArgs("tokens", "list")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty list: %d %q", code, out)
	}
	if _, errOut, code := runLngetArgs("-q", srv.URL+"/a"); code != 0 {
		t.Fatalf("buy: %d %q", code, errOut)
	}
	hostport := strings.TrimPrefix(srv.URL, "http://")
	out, _, code = runLngetArgs("tokens", "list")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil ||
		len(list) != 1 || list[0]["domain"] != hostport ||
		list[0]["pending"] != false || list[0]["amount_sat"] != 10.0 ||
		list[0]["origin"] != srv.URL || list[0]["created"] == nil {
		t.Fatalf("list: %d %q", code, out)
	}
	out, _, _ = runLngetArgs("tokens", "list", "--fields", "domain,amount_sat")
	if strings.Contains(out, "payment_hash") || !strings.Contains(out,
		hostport) {
		t.Fatalf("--fields: %q", out)
	}
	out, _, code = runLngetArgs("tokens", "show", hostport)
	if m := decode(t, out); code != 0 || m["domain"] != hostport {
		t.Fatalf("show: %d %q", code, out)
	}
	if _, errOut, code := runLngetArgs("tokens", "clear"); code != 2 ||
		!strings.Contains(errOut, "--force") {
		t.Fatalf("clear without --force: %d %q", code, errOut)
	}
	out, _, code = runLngetArgs("tokens", "remove", hostport)
	if code != 0 || out != fmt.Sprintf("Removed token for %s\n", hostport) {
		t.Fatalf("remove: %d %q", code, out)
	}
	// One store, ledger and set of caps for every surface: the link
	// keeps its tokens in l402's tokens.db, not in tokens.dir.
	if _, err := os.Stat(filepath.Join(home, ".l402", "tokens.db")); err != nil {
		t.Fatalf("the store is not l402's tokens.db: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, ".lnget", "tokens",
		"tokens.db")); err == nil {
		t.Fatal("a second store was made in tokens.dir")
	}

	cfgPath := filepath.Join(home, ".lnget", "config.yaml")
	out, _, code = runLngetArgs("config", "path")
	if m := decode(t, out); code != 0 || m["path"] != cfgPath {
		t.Fatalf("config path: %d %q", code, out)
	}
	if _, errOut, code := runLngetArgs("config", "init"); code != 1 ||
		!strings.Contains(errOut, "already exists") {
		t.Fatalf("init over a file: %d %q", code, errOut)
	}
	os.Remove(cfgPath)
	out, _, code = runLngetArgs("config", "init")
	fi, err := os.Stat(cfgPath)
	if m := decode(t, out); code != 0 || m["created"] != true || err != nil ||
		fi.Mode().Perm() != 0o600 {
		t.Fatalf("init: %d %q %v", code, out, err)
	}
	// What init wrote reads back, as lnget's defaults.
	out, errOut, code := runLngetArgs("config", "show")
	var shown map[string]map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil ||
		shown["l402"]["max_cost_sats"] != 1000.0 ||
		shown["ln"]["mode"] != "lnd" {
		t.Fatalf("show: %d %q %q", code, out, errOut)
	}

	os.WriteFile(cfgPath, []byte("ln:\n  mode: none\n"), 0o600)
	out, _, code = runLngetArgs("ln", "status")
	if m := decode(t, out); code != 0 || m["connected"] != true ||
		m["network"] != "regtest" || m["alias"] == nil || m["type"] != "none" {
		t.Fatalf("ln status: %d %q", code, out)
	}
}

// TestLngetOutputStaysPut: through the link, -o takes lnget's safe paths
// only, as lnget does against an agent's mistakes: an absolute path, a
// ".." and a dot-directory (~/.ssh) are invalid_args with nothing
// fetched or written.
func TestLngetOutputStaysPut(t *testing.T) {
	lngetEnv(t, "ln:\n  mode: none\n")
	_, srv := memoryBuyer(t, 10)
	abs := filepath.Join(t.TempDir(), "x")
	for _, bad := range []string{abs, "../x", "a/../../x", ".ssh/x",
		"d/.config/x"} {
		_, errOut, code := runLngetArgs("-o", bad, srv.URL+"/api/data")
		if code != 2 || !strings.Contains(errOut, "-o") {
			t.Errorf("-o %s: %d %q, want exit 2", bad, code, errOut)
		}
	}
	if _, err := os.Stat(abs); err == nil {
		t.Error("an absolute -o was written")
	}
	if _, errOut, code := runLngetArgs("-o", "sub.txt",
		srv.URL+"/api/data"); code != 0 {
		t.Fatalf("a plain -o: %d %q", code, errOut)
	}
}
