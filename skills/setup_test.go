package skills

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/serve"
	"github.com/l402/l402/setup"
	"github.com/lightninglabs/lightning-node-connect/mailbox"
)

// The configs `l402 setup` writes, read back by serve's and fetch's own
// loaders (setup may not import them, so the round trip is checked here):
// values with YAML's special characters come back as they went in.

// hostileHome is an l402 directory whose path holds YAML's special
// characters, so that every path setup writes (the database, the LNC
// phrase and session files) needs quoting.
func hostileHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), `#x "q" 'a: b' {c} [d] &e *f !g |h`)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return home
}

// setupOptions are setup's options for role, writing into home, with no
// lnd around and no terminal.
func setupOptions(role, home string) setup.Options {
	return setup.Options{Role: role, Upstream: "127.0.0.1:8080",
		Price: 100, Path: "^/.*$", Service: "api", Port: 8081, Home: home,
		Lnd: lndconn.Options{Home: home,
			Getenv: func(string) string { return "" }},
		IO: cli.IO{In: strings.NewReader(""), Out: &bytes.Buffer{},
			ErrOut: &bytes.Buffer{}}}
}

// TestSetupServeConfigRoundTrips: a service name, path regexp, upstream,
// listen address and l402 directory with YAML's special characters are
// what serve reads from the serve.yaml setup wrote. Before setup rendered
// its templates, the name went in unquoted: "#x" became a comment, and
// serve refused the file.
func TestSetupServeConfigRoundTrips(t *testing.T) {
	tests := []struct {
		name, service, path, upstream, address, listen string
	}{
		{"comment", "#x", "^/#x$", "#x:8080", "#x:8080", "#x:8081"},
		{"double quotes", `"q"`, `^/"q"$`, `"q":8080`, `"q":8080`,
			`"q":8081`},
		{"single quote", "'", "^/'$", "':8080", "':8080", "':8081"},
		{"mapping", "{a}", "^/a: b$", "[a: b]:8080", "[a: b]:8080",
			"[a: b]:8081"},
		{"indicators", "&a*b!c|d>e%f@g`h", `^/- ? & * ! | > % @ \x60$`,
			"https://h.example:443", "h.example:443", "localhost:8081"},
		{"newline", "nl", "^/a\nb$", "127.0.0.1:8080", "127.0.0.1:8080",
			"[a\nb]:8081"},
		{"keywords", "null", "true", "127.0.0.1:8080", "127.0.0.1:8080",
			"localhost:8081"},
	}
	// A service name goes into the token's caveats: one with a newline,
	// or any white space or control character, is refused before
	// anything is written, as serve would refuse it.
	for _, name := range []string{"a\nb", "a\u00a0b", "a\x00b"} {
		o := setupOptions(setup.RoleSeller, hostileHome(t))
		o.NoAuth, o.Service = true, name
		_, err := setup.Run(context.Background(), o)
		if !errors.Is(err, setup.ErrBadOptions) {
			t.Errorf("service %q: %v, want bad arguments", name, err)
		}
		if _, serr := os.Stat(filepath.Join(o.Home,
			"serve.yaml")); serr == nil {
			t.Errorf("service %q: serve.yaml was written", name)
		}
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := setupOptions(setup.RoleSeller, hostileHome(t))
			o.NoAuth, o.Service, o.Path = true, tc.service, tc.path
			o.Upstream, o.Listen = tc.upstream, tc.listen
			if _, err := setup.Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			cfg, err := serve.LoadConfig(filepath.Join(o.Home, "serve.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Services
			if len(s) != 1 || s[0].Name != tc.service ||
				s[0].PathRegexp.String() != tc.path ||
				s[0].Address != tc.address || s[0].Price != 100 ||
				cfg.ListenAddr != tc.listen ||
				cfg.SQLite.Path() != filepath.Join(o.Home, "serve.db") ||
				!cfg.Authenticator.Disable {
				t.Fatalf("serve read %+v", cfg)
			}
		})
	}
}

// memoryDial is an LNC dial that hands out an in-memory regtest node.
func memoryDial(t *testing.T) func(context.Context, lightning.LNCConfig) (
	lightning.Node, error) {

	t.Helper()
	n, err := lightning.NewMemoryNetwork().NewNode("memory", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	return func(context.Context, lightning.LNCConfig) (lightning.Node,
		error) {

		return n, nil
	}
}

// lncSetupOptions are setup's options over LNC through mbox, with a fresh
// pairing phrase in the environment.
func lncSetupOptions(t *testing.T, role, mbox string) setup.Options {
	t.Helper()
	words, _, err := mailbox.NewPassphraseEntropy()
	if err != nil {
		t.Fatal(err)
	}
	phrase := strings.Join(words[:], " ")
	o := setupOptions(role, hostileHome(t))
	o.Lnd.Getenv = func(name string) string {
		if name == lightning.PhraseEnv {
			return phrase
		}
		return ""
	}
	o.LNC.Mailbox, o.LNC.DevServer, o.LNC.Dial = mbox, true, memoryDial(t)
	return o
}

// TestSetupLNCConfigsRoundTrip: over LNC, the mailbox address and the
// phrase and session files under an l402 directory with YAML's special
// characters are what serve and fetch read.
func TestSetupLNCConfigsRoundTrip(t *testing.T) {
	const mbox = `#x "q" '{a} &b *c':8443`

	o := lncSetupOptions(t, setup.RoleSeller, mbox)
	if _, err := setup.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	cfg, err := serve.LoadConfig(filepath.Join(o.Home, "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Authenticator
	if a.Network != "regtest" || a.MailboxAddress != mbox || !a.DevServer ||
		a.PassphraseFile != filepath.Join(o.Home, "lnc-serve.phrase") ||
		a.SessionFile != filepath.Join(o.Home, "lnc-serve.json") ||
		a.LndHost != "" || a.Disable {
		t.Fatalf("serve read %+v", a)
	}

	o = lncSetupOptions(t, setup.RoleBuyer, mbox)
	o.MaxCost = 42
	if _, err := setup.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	fcfg, err := fetch.LoadConfig(filepath.Join(o.Home, "fetch.yaml"), true)
	if err != nil {
		t.Fatal(err)
	}
	l := fcfg.LNC
	if l == nil || l.MailboxAddress != mbox || !l.DevServer ||
		l.PhraseFile != filepath.Join(o.Home, "lnc-fetch.phrase") ||
		l.SessionFile != filepath.Join(o.Home, "lnc-fetch.json") ||
		fcfg.MaxCostSat == nil || *fcfg.MaxCostSat != 42 ||
		fcfg.Lnd.Host != "" {
		t.Fatalf("fetch read %+v %+v", fcfg, l)
	}
}
