package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/lnctest"
	"github.com/lightninglabs/lightning-node-connect/hashmailrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// running is a serve started by startRun.
type running struct {
	addr string
	log  *syncBuffer
	dir  string
}

// startRun runs serve with the config until the test ends, and returns
// once it listens.
func startRun(t *testing.T, cfg string) *running {
	t.Helper()
	path := writeConfig(t, cfg)
	r := &running{log: &syncBuffer{}, dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	finished := make(chan struct{})
	var runErr error
	go func() {
		defer close(finished)
		runErr = Run(ctx, RunOptions{ConfigPath: path, Dir: r.dir,
			Log: r.log, Ready: func(addr string) { ready <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	select {
	case r.addr = <-ready:
	case <-finished:
		t.Fatalf("Run: %v\n%s", runErr, r.log)
	case <-time.After(4 * time.Minute):
		t.Fatalf("not listening:\n%s", r.log)
	}
	return r
}

// relayConfig is a serve without a node, with the relay on, selling
// backend under /api/.
func relayConfig(t *testing.T, backend, listen string, tls bool) string {
	cfg := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend, "http://")+`"`, 1)
	cfg = strings.Replace(cfg, `"localhost:8081"`, `"`+listen+`"`, 1)
	cfg = strings.Replace(cfg, `dbfile: "~/.aperture/aperture.db"`,
		`dbfile: "`+t.TempDir()+`/serve.db"`, 1)
	if tls {
		cfg = strings.Replace(cfg, "insecure: true", "insecure: false", 1)
	}
	return cfg + "hashmail:\n  enabled: true\n"
}

// disabled turns a config's authenticator into disable: true.
func disabled(cfg string) string {
	return strings.Replace(cfg, "  network:", "  disable: true\n  network:",
		1)
}

// relayClient dials serve's relay over gRPC: h2c, or TLS without
// verification (serve's certificate is self-signed).
func relayClient(t *testing.T, addr string,
	useTLS bool) hashmailrpc.HashMailClient {

	t.Helper()
	creds := insecure.NewCredentials()
	if useTLS {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return hashmailrpc.NewHashMailClient(conn)
}

// passMessage creates a stream on the relay and passes one message
// through it.
func passMessage(ctx context.Context, c hashmailrpc.HashMailClient) error {
	id := make([]byte, 64)
	rand.Read(id)
	desc := &hashmailrpc.CipherBoxDesc{StreamId: id}
	_, err := c.NewCipherBox(ctx, &hashmailrpc.CipherBoxAuth{Desc: desc,
		Auth: &hashmailrpc.CipherBoxAuth_LndAuth{
			LndAuth: &hashmailrpc.LndAuth{}}})
	if err != nil {
		return err
	}
	recv, err := c.RecvStream(ctx, desc)
	if err != nil {
		return err
	}
	send, err := c.SendStream(ctx)
	if err != nil {
		return err
	}
	if err := send.Send(&hashmailrpc.CipherBox{Desc: desc,
		Msg: []byte("sealed")}); err != nil {
		return err
	}
	box, err := recv.Recv()
	if err != nil {
		return err
	}
	if !bytes.Equal(box.Msg, []byte("sealed")) {
		return status.Errorf(codes.DataLoss, "got %q", box.Msg)
	}
	_, err = send.CloseAndRecv()
	return err
}

// TestRunRelayOverH2CAndTLS: with hashmail.enabled the relay answers on
// serve's own listener, over h2c and over TLS, before any service is
// matched; the services work beside it, and the blocklist guards it.
func TestRunRelayOverH2CAndTLS(t *testing.T) {
	var relayed int
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if strings.Contains(r.URL.Path, "hashmail") {
			relayed++
		}
		io.WriteString(w, "backend "+r.URL.Path)
	}))
	defer backend.Close()

	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "h2c", true: "tls"}[useTLS]
		t.Run(name, func(t *testing.T) {
			cfg := disabled(relayConfig(t, backend.URL, "127.0.0.1:0",
				useTLS))
			// Every path goes to the backend: the relay's must not.
			cfg = strings.Replace(cfg, `"^/api/.*$"`, `".*"`, 1)
			r := startRun(t, cfg)
			if !strings.Contains(r.log.String(),
				"LNC mailbox relay (hashmail) on "+r.addr) {
				t.Fatalf("summary:\n%s", r.log)
			}
			ctx, cancel := context.WithTimeout(context.Background(),
				30*time.Second)
			defer cancel()
			if err := passMessage(ctx, relayClient(t, r.addr,
				useTLS)); err != nil {
				t.Fatal(err)
			}

			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			scheme := map[bool]string{false: "http", true: "https"}[useTLS]
			resp, err := client.Get(scheme + "://" + r.addr + "/api/x")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "backend /api/x" {
				t.Fatalf("service beside the relay: %q", b)
			}
		})
	}
	if relayed != 0 {
		t.Fatalf("%d relay requests reached the backend", relayed)
	}

	t.Run("blocklist", func(t *testing.T) {
		cfg := disabled(relayConfig(t, backend.URL, "127.0.0.1:0", false))
		r := startRun(t, cfg+"blocklist: [\"127.0.0.1\"]\n")
		ctx, cancel := context.WithTimeout(context.Background(),
			30*time.Second)
		defer cancel()
		err := passMessage(ctx, relayClient(t, r.addr, false))
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("a blocked client reached the relay: %v", err)
		}
	})
}

// freeAddr returns a 127.0.0.1 address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRunLNCThroughOwnRelay: one serve runs the mailbox relay and reaches
// its node over LNC through that same relay: the relay is served before
// the node is dialled. The node (a bridge in front of a fake lnd, as
// Lightning Terminal would be) pairs with the phrase from a 0600 file, and
// the session keys land in lnc-serve.json at 0600.
func TestRunLNCThroughOwnRelay(t *testing.T) {
	addr := freeAddr(t)
	fake := lnctest.StartFakeLnd(t, "faraway", "regtest")
	bridge, err := lnctest.Start(lnctest.Config{
		MailboxAddr:  addr,
		MailboxTLS:   &tls.Config{InsecureSkipVerify: true},
		LndHost:      fake.Host,
		LndCertPath:  fake.CertPath,
		MacaroonPath: fake.MacaroonPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bridge.Close)

	phraseFile := filepath.Join(t.TempDir(), "phrase")
	if err := os.WriteFile(phraseFile, []byte(bridge.Phrase+"\n"),
		0o600); err != nil {
		t.Fatal(err)
	}
	cfg := relayConfig(t, "http://127.0.0.1:1", addr, true)
	cfg = strings.Replace(cfg, `  network: "mainnet"
  lndhost: "localhost:10009"
  tlspath: "~/.lnd/tls.cert"
  macdir: "~/.lnd/data/chain/bitcoin/mainnet"
`, `  network: regtest
  passphrasefile: "`+phraseFile+`"
  mailboxaddress: "`+addr+`"
  devserver: true
  lnctimeout: 3m
`, 1)
	t.Setenv("L402_LNC_PHRASE", "")
	r := startRun(t, cfg)

	log := r.log.String()
	if !strings.Contains(log, "lnd faraway 02"+strings.Repeat("0", 64)+
		" over LNC via "+addr+" on regtest") {
		t.Fatalf("summary:\n%s", log)
	}
	if strings.Contains(log, bridge.Phrase) ||
		strings.Contains(log, strings.Fields(bridge.Phrase)[3]+" ") {
		t.Fatalf("the log shows the phrase:\n%s", log)
	}
	fi, err := os.Stat(filepath.Join(r.dir, "lnc-serve.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", fi, err)
	}
	if bridge.Handshakes() == 0 {
		t.Fatal("the bridge saw no handshake")
	}
}

// TestRunLNCPhraseSources: without a phrase serve says where to put one;
// a phrase in a serve.yaml others may read is warned about, and never
// logged.
func TestRunLNCPhraseSources(t *testing.T) {
	t.Setenv("L402_LNC_PHRASE", "")
	base := relayConfig(t, "http://127.0.0.1:1", "127.0.0.1:0", false)
	mailbox := freeAddr(t)
	lnc := func(auth string) string {
		return strings.Replace(base, `  lndhost: "localhost:10009"
  tlspath: "~/.lnd/tls.cert"
  macdir: "~/.lnd/data/chain/bitcoin/mainnet"
`, auth, 1)
	}

	err := Run(context.Background(), RunOptions{ConfigPath: writeConfig(t,
		lnc("  mailboxaddress: \""+mailbox+"\"\n")), Dir: t.TempDir(),
		Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "L402_LNC_PHRASE") {
		t.Fatalf("no phrase: %v", err)
	}

	phrase := "abandon ability able about above absent absorb abstract " +
		"absurd abuse"
	path := writeConfig(t, lnc("  passphrase: \""+phrase+"\"\n"+
		"  mailboxaddress: \""+mailbox+"\"\n"))
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	log := &syncBuffer{}
	err = Run(ctx, RunOptions{ConfigPath: path, Dir: t.TempDir(), Log: log})
	if err == nil || !strings.Contains(err.Error(), "over LNC") {
		t.Fatalf("unreachable mailbox: %v", err)
	}
	if !strings.Contains(log.String(), "other users may read it") ||
		strings.Contains(log.String()+err.Error(), "abstract") {
		t.Fatalf("log:\n%s\nerror: %v", log, err)
	}
}
