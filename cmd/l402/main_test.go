package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/l402/l402/internal/buildinfo"
	"github.com/l402/l402/internal/cli"
)

// run executes the command tree with args and returns stdout, stderr and
// the exit code main would use.
func run(args ...string) (string, string, int) {
	return runIn("", args...)
}

// runIn is run with stdin.
func runIn(stdin string, args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	streams := cli.IO{In: strings.NewReader(stdin), Out: &out,
		ErrOut: &errOut}
	root := newRootCmdFor(streams, args)
	root.SetArgs(args)
	code := 0
	if err := execute(root); err != nil {
		code = cli.Report(&errOut, err, jsonRequested(args))
	}
	return out.String(), errOut.String(), code
}

func TestVersion(t *testing.T) {
	out, errOut, code := run("version")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "l402 ") ||
		!strings.Contains(out, runtime.Version()) {
		t.Fatalf("version: %d %q %q", code, out, errOut)
	}

	out, _, code = run("version", "--json")
	var v buildinfo.Info
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("version --json: %v %q", err, out)
	}
	if v.Version == "" || v.Commit == "" || v.GoVersion != runtime.Version() {
		t.Fatalf("version --json: %+v", v)
	}
}

func TestBadArguments(t *testing.T) {
	_, errOut, code := run("version", "--nope")
	if code != cli.ExitUsage || !strings.Contains(errOut, "--nope") {
		t.Fatalf("bad flag: %d %q", code, errOut)
	}
	_, errOut, code = run("version", "extra", "--json")
	var e map[string]any
	if err := json.Unmarshal([]byte(errOut), &e); err != nil || code != 2 ||
		e["error"] != true {
		t.Fatalf("bad args with --json: %d %q", code, errOut)
	}
	_, errOut, code = run("nosuchcommand")
	if code != 2 || !strings.Contains(errOut, "nosuchcommand") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
}

func TestJSONRequested(t *testing.T) {
	for args, want := range map[string]bool{
		"version --json":        true,
		"version --json=1":      true,
		"version --json=TRUE":   true,
		"version --json=false":  false,
		"version":               false,
		"fetch -- --json":       false,
		"fetch --json=nonsense": false,
	} {
		if got := jsonRequested(strings.Fields(args)); got != want {
			t.Errorf("%q: %v, want %v", args, got, want)
		}
	}
}

// TestUnknownSubcommand holds docs/cli.md's contract for command groups: an
// unknown subcommand, or none, is bad arguments (exit 2) naming what was
// wrong, never help with exit 0.
func TestUnknownSubcommand(t *testing.T) {
	for _, args := range [][]string{
		{"tokens", "bogus"},
		{"tokens", "bogus", "--json"},
		{"tokens", "bogus", "extra"},
		{"bake", "bogus", "--json"},
		{"completion", "bogus"},
	} {
		out, errOut, code := run(args...)
		if code != cli.ExitUsage || out != "" ||
			!strings.Contains(errOut, "bogus") {
			t.Errorf("%q: %d %q %q", args, code, out, errOut)
			continue
		}
		if !jsonRequested(args) {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(errOut), &e); err != nil ||
			e["code"] != "bad_arguments" {
			t.Errorf("%q: not a bad_arguments object: %q", args, errOut)
		}
	}

	out, errOut, code := run("tokens", "--json")
	var e map[string]any
	if err := json.Unmarshal([]byte(errOut), &e); err != nil ||
		code != cli.ExitUsage || out != "" || e["code"] != "bad_arguments" {
		t.Fatalf("tokens without a subcommand: %d %q %q", code, out, errOut)
	}
	msg, _ := e["message"].(string)
	for _, sub := range []string{"clear", "export", "import", "list",
		"remove", "show", "stats"} {
		if !strings.Contains(msg, sub) {
			t.Errorf("tokens without a subcommand: %q lacks %q", msg, sub)
		}
	}

	// Help asked for is still help.
	out, _, code = run("tokens", "--help")
	if code != 0 || !strings.Contains(out, "Available Commands") ||
		strings.Contains(out, "l402 tokens [flags]") {
		t.Errorf("tokens --help: %d %q", code, out)
	}
	out, _, code = run("tokens", "list", "--help")
	if code != 0 || !strings.Contains(out, "l402 tokens list [flags]") {
		t.Errorf("tokens list --help: %d %q", code, out)
	}
}
