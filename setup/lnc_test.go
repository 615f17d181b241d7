package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/hashmail"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnctest"
	"github.com/l402/l402/serve"
	"github.com/lightninglabs/lightning-node-connect/mailbox"
)

// newPhrase returns a fresh pairing phrase.
func newPhrase(t *testing.T) string {
	t.Helper()
	words, _, err := mailbox.NewPassphraseEntropy()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(words[:], " ")
}

// lncOptions returns LNC options for role with the phrase in the
// environment.
func lncOptions(t *testing.T, role, phrase string) Options {
	t.Helper()
	o := options(t)
	o.Role, o.NoAuth = role, false
	o.Lnd.Getenv = func(name string) string {
		if name == lightning.PhraseEnv {
			return phrase
		}
		return ""
	}
	o.LNC.Mailbox = "127.0.0.1:1"
	return o
}

// refusingNode is a node whose GetInfo is refused, as an LNC session
// without the permission would be.
type refusingNode struct{ lightning.Node }

// Info implements lightning.Node.
func (refusingNode) Info(context.Context) (lightning.Info, error) {
	return lightning.Info{}, fmt.Errorf("%w: GetInfo",
		lightning.ErrPermissionDenied)
}

// dialMemory returns a Dial that hands out a memory node (refusing
// GetInfo when refuse is set) and records the config it was given.
func dialMemory(t *testing.T, refuse bool,
	got *lightning.LNCConfig) func(context.Context, lightning.LNCConfig) (
	lightning.Node, error) {

	t.Helper()
	n, err := lightning.NewMemoryNetwork().NewNode("memory", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, cfg lightning.LNCConfig) (lightning.Node,
		error) {

		*got = cfg
		if refuse {
			return refusingNode{n}, nil
		}
		return n, nil
	}
}

// TestSetupLNCBuyerPairs: a real LNC session (relay, bridge, fake lnd):
// setup pairs with the phrase from $L402_LNC_PHRASE, reports the node,
// and writes fetch.yaml pointing at a 0600 phrase file and the stored
// keys; fetch reads it.
func TestSetupLNCBuyerPairs(t *testing.T) {
	relay, err := hashmail.New(hashmail.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := lnctest.StartWorld(t, relay.Handler(), func() { relay.Close() },
		"terminal", "regtest")
	bridge := w.Bridge

	o := lncOptions(t, RoleBuyer, bridge.Phrase)
	o.LNC.Mailbox, o.LNC.DevServer = w.RelayAddr, true
	o.MaxCost = 50
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Lnd
	if l == nil || l.Source != "lnc" || l.Alias != "terminal" ||
		l.Network != "regtest" || l.Mailbox != o.LNC.Mailbox ||
		l.SessionFile != filepath.Join(o.Home, "lnc-fetch.json") {
		t.Fatalf("report %+v", l)
	}
	var human bytes.Buffer
	rep.WriteHuman(&human)
	if !strings.Contains(human.String(), "lnd: terminal over LNC via "+
		"mailbox "+o.LNC.Mailbox+" on regtest") ||
		strings.Contains(human.String(), bridge.Phrase) {
		t.Fatalf("human report:\n%s", human.String())
	}

	// The next step names the cap fetch.yaml now has.
	if !slices.Contains(rep.Next, "l402 fetch --max-cost 50 URL") {
		t.Errorf("next: %q", rep.Next)
	}

	for _, name := range []string{"lnc-fetch.phrase", "lnc-fetch.json",
		"fetch.yaml"} {
		fi, err := os.Stat(filepath.Join(o.Home, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi, err)
		}
	}
	keys, ok, _ := lightning.FileSessionStore{Path: l.SessionFile}.Load()
	if !ok || len(keys.Remote) != 33 {
		t.Fatal("the session keys were not stored paired")
	}
	cfg, err := fetch.LoadConfig(filepath.Join(o.Home, "fetch.yaml"), true)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.LNC; c == nil || c.MailboxAddress != o.LNC.Mailbox ||
		!c.DevServer || c.SessionFile != l.SessionFile ||
		*cfg.MaxCostSat != 50 {
		t.Fatalf("fetch.yaml: %+v", cfg.LNC)
	}
	got, err := lightning.ReadPhraseFile(cfg.LNC.PhraseFile)
	if err != nil || got != bridge.Phrase {
		t.Fatalf("phrase file: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(o.Home, "fetch.yaml")); bytes.
		Contains(b, []byte(bridge.Phrase)) {
		t.Fatal("fetch.yaml holds the phrase")
	}

	// Another phrase would replace the paired keys: not without --force.
	o.Lnd.Getenv = lncOptions(t, RoleBuyer, newPhrase(t)).Lnd.Getenv
	_, err = Run(context.Background(), o)
	if cli.ExitCode(err) != cli.ExitDiffers ||
		cli.Code(err) != "lnc_session_exists" {
		t.Fatalf("another phrase: %v", err)
	}
}

// TestSetupLNCSellerWithoutGetInfo: a seller's session may not call
// GetInfo: setup says so, takes --network, and writes a serve.yaml that
// serve accepts, reading the phrase from stdin.
func TestSetupLNCSellerWithoutGetInfo(t *testing.T) {
	phrase := newPhrase(t)
	o := lncOptions(t, RoleSeller, "")
	o.LNC.PhraseStdin = true
	o.IO.In = strings.NewReader("  " + phrase + "\nrest\n")
	var dialed lightning.LNCConfig
	o.LNC.Dial = dialMemory(t, true, &dialed)

	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if dialed.Phrase != phrase || dialed.MailboxAddr != "127.0.0.1:1" ||
		dialed.Store.(lightning.FileSessionStore).Path != filepath.Join(
			o.Home, "lnc-serve.json") {
		t.Fatalf("dialed %+v", dialed.Store)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0],
		"--network") || !strings.Contains(strings.Join(rep.Lnd.Notes, " "),
		"may not call GetInfo") {
		t.Fatalf("report %+v %+v", rep.Warnings, rep.Lnd)
	}

	o.Lnd.Network, o.Force = "regtest", true
	o.IO.In = strings.NewReader(phrase + "\n")
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	cfg, err := serve.LoadConfig(filepath.Join(o.Home, "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Authenticator
	if !a.LNC() || a.LndHost != "" || a.Network != "regtest" ||
		a.Passphrase != "" || a.MailboxAddress != "127.0.0.1:1" ||
		a.PassphraseFile != filepath.Join(o.Home, "lnc-serve.phrase") ||
		a.SessionFile != filepath.Join(o.Home, "lnc-serve.json") {
		t.Fatalf("authenticator %+v", a)
	}
}

// TestSetupLNCRefusals: the flag combinations and phrases setup refuses,
// and a session it cannot reach.
func TestSetupLNCRefusals(t *testing.T) {
	phrase := newPhrase(t)
	for _, c := range []struct {
		name string
		edit func(*Options)
		exit int
		want string
	}{
		{"both roles", func(o *Options) { o.Role = RoleBoth }, 2,
			"separately"},
		{"lnd flags", func(o *Options) { o.Lnd.LndDir = "/x" }, 2,
			"for lnd over gRPC"},
		{"no phrase", func(o *Options) {
			o.Lnd.Getenv = func(string) string { return "" }
		}, 2, "--lnc-phrase-stdin"},
		{"empty stdin", func(o *Options) { o.LNC.PhraseStdin = true }, 2,
			"holds no pairing phrase"},
		{"bad phrase", func(o *Options) {
			o.Lnd.Getenv = lncOptions(t, RoleBuyer, "abandon ability able "+
				"about above absent absorb abstract absurd zzzz").Lnd.Getenv
		}, 2, "word 10"},
		{"bad mailbox", func(o *Options) { o.LNC.Mailbox = "mailbox" }, 2,
			"not host:port"},
		{"unreachable", func(o *Options) {
			o.LNC.Dial = func(context.Context, lightning.LNCConfig) (
				lightning.Node, error) {
				return nil, errors.New("mailbox 127.0.0.1:1 unreachable")
			}
		}, 3, "unreachable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := lncOptions(t, RoleBuyer, phrase)
			c.edit(&o)
			_, err := Run(context.Background(), o)
			if cli.ExitCode(err) != c.exit || err == nil ||
				!strings.Contains(err.Error(), c.want) {
				t.Fatalf("exit %d %v, want %d %q", cli.ExitCode(err), err,
					c.exit, c.want)
			}
			if strings.Contains(err.Error(), "zzzz") ||
				strings.Contains(err.Error(), phrase) {
				t.Fatalf("the error shows the phrase: %v", err)
			}
			if _, serr := os.Stat(filepath.Join(o.Home,
				"fetch.yaml")); serr == nil {
				t.Fatal("fetch.yaml written")
			}
		})
	}
}
