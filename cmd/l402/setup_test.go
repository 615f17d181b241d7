package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/cli"
)

// TestSetupJSONFailureKeepsStdoutEmpty holds docs/cli.md's contract for
// setup: with --json, a failure prints nothing on stdout (no report as far
// as it got), and one JSON error object on stderr, whether the flags were
// refused, lnd was not found or serve.yaml differs.
func TestSetupJSONFailureKeepsStdoutEmpty(t *testing.T) {
	home := t.TempDir()
	t.Setenv("L402_HOME", home)
	t.Setenv("LND_DIR", "")
	t.Setenv("HOME", home)

	for _, c := range []struct {
		args []string
		code string
		exit int
	}{
		{[]string{"setup", "--json", "--role", "nobody"},
			"bad_arguments", cli.ExitUsage},
		{[]string{"setup", "--json", "--role", "buyer", "--lnddir",
			filepath.Join(home, "no-lnd")}, "lnd_not_found", cli.ExitLnd},
		{[]string{"setup", "--json", "--role", "seller", "--no-auth",
			"--price", "20"}, "config_exists", cli.ExitDiffers},
	} {
		if c.code == "config_exists" {
			// A success prints the report on stdout.
			out, errOut, exit := run("setup", "--json", "--role",
				"seller", "--no-auth", "--price", "15")
			var rep map[string]any
			if err := json.Unmarshal([]byte(out), &rep); err != nil ||
				exit != 0 || rep["role"] != "seller" {
				t.Fatalf("first setup: %d %v %q %q", exit, err, out,
					errOut)
			}
		}
		out, errOut, exit := run(c.args...)
		var e map[string]any
		if err := json.Unmarshal([]byte(errOut), &e); err != nil {
			t.Errorf("%q: stderr is not one JSON object: %v %q", c.args,
				err, errOut)
			continue
		}
		if exit != c.exit || e["code"] != c.code || out != "" {
			t.Errorf("%q: exit %d code %v stdout %q, want exit %d code "+
				"%s and an empty stdout", c.args, exit, e["code"], out,
				c.exit, c.code)
		}
		msg, _ := e["message"].(string)
		if c.code == "config_exists" && (!strings.Contains(msg,
			"serve.yaml:\n") || !strings.Contains(msg, "+     price: 20")) {
			t.Errorf("config_exists without the diff: %q", msg)
		}
	}
}

// TestSetupBakeFlags: setup bakes by default, so --help says --no-bake
// keeps lnd's own macaroons and --bake makes baking required; both at
// once are bad arguments, refused before lnd is looked for.
func TestSetupBakeFlags(t *testing.T) {
	home := t.TempDir()
	t.Setenv("L402_HOME", home)
	t.Setenv("LND_DIR", "")
	t.Setenv("HOME", home)

	out, _, code := run("setup", "--help")
	if code != 0 || !strings.Contains(out, "--no-bake") ||
		!strings.Contains(out, "bakes by default") {
		t.Fatalf("help: %d\n%s", code, out)
	}
	_, errOut, code := run("setup", "--json", "--role", "buyer", "--bake",
		"--no-bake", "--lnddir", filepath.Join(home, "no-lnd"))
	var e map[string]any
	if err := json.Unmarshal([]byte(errOut), &e); err != nil ||
		code != cli.ExitUsage || e["code"] != "bad_arguments" ||
		!strings.Contains(e["message"].(string), "--no-bake") {
		t.Fatalf("--bake --no-bake: %d %q", code, errOut)
	}
}
