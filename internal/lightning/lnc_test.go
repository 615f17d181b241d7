package lightning_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/hashmail"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnctest"
)

// lncWorld is a relay, a fake lnd and a bridge in front of it.
type lncWorld struct {
	relayAddr string
	bridge    *lnctest.Bridge

	// stopRelay stops the relay before the test ends.
	stopRelay func()
}

// startLNCWorld starts a relay on 127.0.0.1, a fake lnd that answers
// GetInfo with the alias "fake", and a bridge in front of the fake.
func startLNCWorld(t *testing.T) *lncWorld {
	t.Helper()
	relay, err := hashmail.New(hashmail.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := lnctest.StartWorld(t, relay.Handler(), func() { relay.Close() },
		"fake", "regtest")
	return &lncWorld{relayAddr: w.RelayAddr, bridge: w.Bridge,
		stopRelay: w.StopRelay}
}

// connect calls NewLNC against the world's relay.
func (w *lncWorld) connect(t *testing.T, phrase string,
	store lightning.SessionStore, timeout time.Duration) (*lightning.LNC,
	error) {

	t.Helper()
	return lightning.NewLNC(context.Background(), lightning.LNCConfig{
		Phrase:      phrase,
		MailboxAddr: w.relayAddr,
		DevServer:   true,
		Timeout:     timeout,
		Store:       store,
	})
}

// TestLNCPairsResumesAndSpendsThePhrase: a client pairs with the phrase,
// calls lnd through the bridge with the macaroon the handshake gave it,
// saves its keys at 0600, and resumes with them; the phrase alone no
// longer reaches the node.
func TestLNCPairsResumesAndSpendsThePhrase(t *testing.T) {
	w := startLNCWorld(t)
	store := lightning.FileSessionStore{
		Path: filepath.Join(t.TempDir(), "lnc", "session.json"),
	}

	node, err := w.connect(t, w.bridge.Phrase, store, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	info, err := node.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Alias != "fake" || info.Network != "regtest" {
		t.Fatalf("info %+v", info)
	}
	node.Close()

	fi, err := os.Stat(store.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode %v, want 0600", fi.Mode().Perm())
	}
	keys, ok, err := store.Load()
	if err != nil || !ok || len(keys.Remote) != 33 || len(keys.Local) != 32 {
		t.Fatalf("stored keys %v %v (remote %d bytes)", ok, err,
			len(keys.Remote))
	}
	raw, _ := os.ReadFile(store.Path)
	words := strings.Fields(w.bridge.Phrase)
	if strings.Contains(string(raw), words[0]+" "+words[1]) {
		t.Fatal("the session file holds the phrase")
	}

	// Resume with the stored keys.
	node, err = w.connect(t, w.bridge.Phrase, store, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.Close()

	// A newcomer with the phrase and no keys finds no session.
	_, err = w.connect(t, w.bridge.Phrase, nil, 3*time.Second)
	if err == nil || !strings.Contains(err.Error(),
		"no LNC session for this pairing phrase") {
		t.Fatalf("got %v", err)
	}
}

// TestLNCErrors: a phrase of the wrong length or with an unknown word, a
// phrase no node listens on, and a mailbox nobody serves each get an
// error that says what to check, and none repeats the phrase.
func TestLNCErrors(t *testing.T) {
	w := startLNCWorld(t)
	words := strings.Fields(w.bridge.Phrase)

	// A closed port on this machine.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	// Ten valid words that are not the bridge's phrase.
	other := append([]string{words[1], words[0]}, words[2:]...)

	tests := []struct {
		name, phrase, mailbox, want string
	}{
		{"nine words", strings.Join(words[:9], " "), w.relayAddr,
			"has 9 words, want 10"},
		{"unknown word", "zzzz " + strings.Join(words[1:], " "),
			w.relayAddr, "word 1 of the LNC pairing phrase is not " +
				"in the word list"},
		{"other phrase", strings.Join(other, " "), w.relayAddr,
			"no LNC session for this pairing phrase"},
		{"no mailbox", w.bridge.Phrase, closed,
			"mailbox " + closed + " unreachable after 1s: check " +
				"mailboxaddress"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mbox := tc.mailbox
			_, err := lightning.NewLNC(context.Background(),
				lightning.LNCConfig{
					Phrase:      tc.phrase,
					MailboxAddr: mbox,
					DevServer:   true,
					Timeout:     time.Second,
				})
			var ce *lightning.CallError
			if !errors.As(err, &ce) ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), words[3]+" "+words[4]) {
				t.Fatal("the error repeats the phrase")
			}
		})
	}
}

// TestFileSessionStoreRefusesMalformed: a damaged key file is refused
// with the advice to remove it.
func TestFileSessionStoreRefusesMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"garbage":   "not json",
		"version":   `{"version":2}`,
		"short key": `{"version":1,"phrase_id":"x","local_key":"abcd"}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := lightning.FileSessionStore{Path: path}.Load()
		if err == nil || !strings.Contains(err.Error(), "remove it") {
			t.Errorf("%s: got %v", name, err)
		}
	}

	// No file is no keys, not an error.
	_, ok, err := lightning.FileSessionStore{
		Path: filepath.Join(dir, "none")}.Load()
	if ok || err != nil {
		t.Fatalf("missing file: %v %v", ok, err)
	}
}

// TestLNCCloseWithoutMailbox: a client whose mailbox went away (a relay
// shut down first) still closes: the mailbox module's endless retries to
// say goodbye are cut off.
func TestLNCCloseWithoutMailbox(t *testing.T) {
	w := startLNCWorld(t)
	node, err := w.connect(t, w.bridge.Phrase, &lightning.MemorySessionStore{},
		time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.stopRelay()

	done := make(chan struct{})
	go func() {
		node.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waits for the mailbox after 30s")
	}
}

// TestLNCSessionInUse: while one client holds a resumed session, a
// second with the same keys is told that the session is in use, not that
// it is unreachable. (During the pairing connection itself the node has
// not opened the mailbox of the keys yet: a second client then finds no
// session.)
func TestLNCSessionInUse(t *testing.T) {
	w := startLNCWorld(t)
	store := &lightning.MemorySessionStore{}
	node, err := w.connect(t, w.bridge.Phrase, store, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	node.Close()
	node, err = w.connect(t, w.bridge.Phrase, store, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if _, err := node.Info(context.Background()); err != nil {
		t.Fatal(err)
	}

	_, err = w.connect(t, w.bridge.Phrase, store, 3*time.Second)
	if err == nil || !strings.Contains(err.Error(),
		"is in use by another client") {

		t.Fatalf("got %v", err)
	}
}

// TestLNCResumesSoonAfterClose: a closed client's goodbye reaches the
// node through the mailbox, so resuming right after a close does not wait
// for the node's keepalive to notice (13 to 16 seconds).
func TestLNCResumesSoonAfterClose(t *testing.T) {
	w := startLNCWorld(t)
	store := &lightning.MemorySessionStore{}
	for i := 0; i < 3; i++ {
		start := time.Now()
		node, err := w.connect(t, w.bridge.Phrase, store, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.Info(context.Background()); err != nil {
			t.Fatal(err)
		}
		node.Close()
		if took := time.Since(start); i > 0 && took > 10*time.Second {
			t.Fatalf("connection %d took %v after a close", i, took)
		}
	}
}
