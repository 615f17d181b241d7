package lightning_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/hashmail"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lightning/lndrpc"
	"github.com/l402/l402/internal/lnctest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeMacaroon is the macaroon the fake lnd expects on every call.
var fakeMacaroon = []byte("not a real macaroon, only bytes")

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
	dir := t.TempDir()

	relay, err := hashmail.New(hashmail.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(relay.Handler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	var once sync.Once
	stopRelay := func() {
		once.Do(func() {
			relay.Close()
			ts.Close()
		})
	}
	t.Cleanup(stopRelay)

	lndHost, certPath := startFakeLnd(t, dir)
	macPath := filepath.Join(dir, "fake.macaroon")
	if err := os.WriteFile(macPath, fakeMacaroon, 0o600); err != nil {
		t.Fatal(err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	bridge, err := lnctest.Start(lnctest.Config{
		MailboxAddr:  ts.Listener.Addr().String(),
		MailboxTLS:   &tls.Config{RootCAs: pool},
		LndHost:      lndHost,
		LndCertPath:  certPath,
		MacaroonPath: macPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bridge.Close)
	return &lncWorld{relayAddr: ts.Listener.Addr().String(), bridge: bridge,
		stopRelay: stopRelay}
}

// startFakeLnd serves GetInfo over TLS as lnd would, refusing calls
// without the fake macaroon. It returns its address and certificate.
func startFakeLnd(t *testing.T, dir string) (string, string) {
	t.Helper()
	cert, certPath := selfSigned(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(&cert)),
		grpc.UnknownServiceHandler(fakeLnd),
	)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String(), certPath
}

// fakeLnd answers /lnrpc.Lightning/GetInfo and nothing else.
func fakeLnd(_ any, stream grpc.ServerStream) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if got := md.Get("macaroon"); len(got) != 1 ||
		got[0] != hex.EncodeToString(fakeMacaroon) {
		return status.Error(codes.Unauthenticated, "expected 1 "+
			"macaroon")
	}
	method, _ := grpc.MethodFromServerStream(stream)
	if method != "/lnrpc.Lightning/GetInfo" {
		return status.Errorf(codes.Unimplemented, "fake lnd has no %s",
			method)
	}
	if err := stream.RecvMsg(&lndrpc.GetInfoRequest{}); err != nil {
		return err
	}
	return stream.SendMsg(&lndrpc.GetInfoResponse{
		Alias:         "fake",
		SyncedToChain: true,
		Chains:        []*lndrpc.Chain{{Network: "regtest"}},
	})
}

// selfSigned makes a certificate for 127.0.0.1 and writes its PEM.
func selfSigned(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl,
		&key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tls.cert")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
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
