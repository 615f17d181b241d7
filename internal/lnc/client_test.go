package lnc_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/l402/l402/internal/hashmail"
	"github.com/l402/l402/internal/lightning/lndrpc"
	"github.com/l402/l402/internal/lnc"
	"github.com/l402/l402/internal/lnctest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// dial returns a gRPC connection to the node behind the world's relay
// through an LNC client, and the client.
func dial(t *testing.T, w *lnctest.World, cfg lnc.Config) (*grpc.ClientConn,
	*lnc.Client) {

	t.Helper()
	mbox, err := grpc.NewClient(w.RelayAddr, grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mbox.Close() })
	cfg.Mailbox = lnc.NewMailbox(mbox)
	cfg.MailboxAddr = w.RelayAddr
	client := lnc.NewClient(cfg)
	conn, err := grpc.NewClient("passthrough:///lnc",
		grpc.WithContextDialer(client.Dial),
		grpc.WithTransportCredentials(client.Credentials()),
		grpc.WithPerRPCCredentials(client.CallCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return conn, client
}

// getInfo calls GetInfo through conn; the fake lnd answers only with the
// macaroon the node side sent in the handshake.
func getInfo(t *testing.T, conn *grpc.ClientConn,
	timeout time.Duration) (*lndrpc.GetInfoResponse, error) {

	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp := &lndrpc.GetInfoResponse{}
	err := conn.Invoke(ctx, "/lnrpc.Lightning/GetInfo",
		&lndrpc.GetInfoRequest{}, resp, grpc.WaitForReady(true))
	return resp, err
}

// TestClientPairsAndResumesThroughRelay: through l402's relay and the
// mailbox module's node side, the client pairs with the phrase and calls
// lnd with the handshake's macaroon, resumes with the learned key, and a
// newcomer with the spent phrase finds no session.
func TestClientPairsAndResumesThroughRelay(t *testing.T) {
	relay, err := hashmail.New(hashmail.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := lnctest.StartWorld(t, relay.Handler(), func() { relay.Close() },
		"fake", "regtest")
	entropy, err := lnc.ParsePhrase(w.Bridge.Phrase)
	if err != nil {
		t.Fatal(err)
	}
	local, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}

	var remote *btcec.PublicKey
	conn, client := dial(t, w, lnc.Config{Entropy: entropy, Local: local,
		OnRemoteStatic: func(k *btcec.PublicKey) error {
			remote = k
			return nil
		}})
	info, err := getInfo(t, conn, time.Minute)
	if err != nil || info.Alias != "fake" {
		t.Fatalf("paired GetInfo: %v %v", info, err)
	}
	if remote == nil || client.Status() != lnc.StatusConnected {
		t.Fatalf("learned key %v, status %v", remote, client.Status())
	}
	conn.Close()
	client.Close()

	conn, client = dial(t, w, lnc.Config{Entropy: entropy, Local: local,
		Remote: remote})
	if info, err := getInfo(t, conn, time.Minute); err != nil ||
		info.Alias != "fake" {

		t.Fatalf("resumed GetInfo: %v %v", info, err)
	}
	conn.Close()
	client.Close()

	newcomer, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	conn, client = dial(t, w, lnc.Config{Entropy: entropy, Local: newcomer})
	defer client.Close()
	defer conn.Close()
	if _, err := getInfo(t, conn, 3*time.Second); err == nil {
		t.Fatal("the spent phrase reached the node")
	}
	if got := client.Status(); got != lnc.StatusSessionNotFound {
		t.Fatalf("status %v, want %v", got, lnc.StatusSessionNotFound)
	}
}
