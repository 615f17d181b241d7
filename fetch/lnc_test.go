package fetch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/hashmail"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnctest"
)

// writeFetchYAML writes a fetch.yaml in a new directory.
func writeFetchYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fetch.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigLNC(t *testing.T) {
	path := writeFetchYAML(t, "lnc:\n  phrasefile: lnc.phrase\n")
	cfg, err := LoadConfig(path, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if l := cfg.LNC; l == nil || l.PhraseFile != filepath.Join(dir,
		"lnc.phrase") || l.SessionFile != filepath.Join(dir,
		"lnc-fetch.json") || l.MailboxAddr() != lightning.DefaultMailboxAddr {
		t.Fatalf("lnc %+v", cfg.LNC)
	}

	// An empty section is LNC with every default: the phrase comes from
	// the environment.
	cfg, err = LoadConfig(writeFetchYAML(t, "lnc: {}\n"), true)
	if err != nil || cfg.LNC == nil {
		t.Fatalf("empty lnc section: %+v %v", cfg.LNC, err)
	}

	for _, c := range []struct{ body, want string }{
		{"lnc:\n  phrase: a b c\n", "does not go into fetch.yaml"},
		{"lnd:\n  host: localhost:10009\nlnc:\n  devserver: true\n",
			"keep one section"},
		{"lnc:\n  mailboxaddress: mailbox\n", "not host:port"},
		{"lnc:\n  passphrase: x\n", "passphrase"},
	} {
		_, err := LoadConfig(writeFetchYAML(t, c.body), true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.body, err, c.want)
		}
	}
}

// startLNCNode starts a relay and a bridge in front of a fake lnd, and
// returns the relay's address and the bridge's phrase.
func startLNCNode(t *testing.T) (string, string) {
	t.Helper()
	relay, err := hashmail.New(hashmail.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := lnctest.StartWorld(t, relay.Handler(), func() { relay.Close() },
		"buyer", "regtest")
	return w.RelayAddr, w.Bridge.Phrase
}

// TestLNCNode: the node of an lnc section connects on its first call,
// with the phrase from $L402_LNC_PHRASE, says so on the progress log, and
// keeps its session keys beside fetch.yaml.
func TestLNCNode(t *testing.T) {
	addr, phrase := startLNCNode(t)
	t.Setenv(lightning.PhraseEnv, phrase)
	path := writeFetchYAML(t, "lnc:\n  mailboxaddress: \""+addr+
		"\"\n  devserver: true\n")
	cfg, err := LoadConfig(path, true)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	node, err := cfg.Node(&log)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if log.Len() != 0 {
		t.Fatalf("connected before the first call: %s", log.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := node.Info(ctx)
	if err != nil || info.Alias != "buyer" || info.Network != "regtest" {
		t.Fatalf("%+v %v", info, err)
	}
	out := log.String()
	if !strings.Contains(out, "connecting to the paying node over LNC via "+
		addr+" (pairing phrase from $L402_LNC_PHRASE") ||
		!strings.Contains(out, "connected over LNC in") ||
		strings.Contains(out, phrase) {
		t.Fatalf("progress:\n%s", out)
	}
	fi, err := os.Stat(filepath.Join(filepath.Dir(path), "lnc-fetch.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file %v %v", fi, err)
	}
}

// TestLNCNodeErrors: a missing phrase is reported when the node is
// built; an unreachable mailbox on the first call, as a connect error
// that the payment path reports like an unreachable lnd.
func TestLNCNodeErrors(t *testing.T) {
	t.Setenv(lightning.PhraseEnv, "")
	cfg, err := LoadConfig(writeFetchYAML(t, "lnc:\n  mailboxaddress: "+
		"127.0.0.1:1\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Node(nil); !errors.Is(err, lightning.ErrNoPhrase) {
		t.Fatalf("no phrase: %v", err)
	}

	dir := t.TempDir()
	phraseFile := filepath.Join(dir, "phrase")
	os.WriteFile(phraseFile, []byte("abandon ability able about above "+
		"absent absorb abstract absurd abuse\n"), 0o644)
	cfg.LNC.PhraseFile = phraseFile
	if _, err := cfg.Node(nil); err == nil ||
		!strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a phrase file others may read: %v", err)
	}

	os.Chmod(phraseFile, 0o600)
	node, err := cfg.Node(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = node.Info(ctx)
	var ce *lightning.CallError
	if !errors.As(err, &ce) || ce.Call != "connect" ||
		!strings.Contains(err.Error(), "lnc via 127.0.0.1:1") {
		t.Fatalf("unreachable mailbox: %v", err)
	}
}
