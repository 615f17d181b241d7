// Package lnctest is the node side of Lightning Node Connect for tests: a
// bridge that listens on a mailbox with a pairing phrase, as Lightning
// Terminal does, and forwards every gRPC call to a real lnd.
package lnctest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightninglabs/lightning-node-connect/mailbox"
	"github.com/lightningnetwork/lnd/keychain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// Config says where the bridge listens and where it forwards to.
type Config struct {
	// MailboxAddr is the mailbox's host:port, reached over gRPC with
	// MailboxTLS.
	MailboxAddr string
	MailboxTLS  *tls.Config

	// LndHost, LndCertPath and MacaroonPath name the lnd the calls go
	// to. The macaroon is handed to the client in the LNC handshake, as
	// Lightning Terminal hands over a session's macaroon, and the
	// client sends it with every call.
	LndHost      string
	LndCertPath  string
	MacaroonPath string
}

// Bridge is a running node side of LNC.
type Bridge struct {
	// Phrase is the pairing phrase a client connects with.
	Phrase string

	srv    *grpc.Server
	target *grpc.ClientConn

	mu         sync.Mutex
	handshakes int
}

// Start starts a bridge with a fresh pairing phrase.
func Start(cfg Config) (*Bridge, error) {
	words, entropy, err := mailbox.NewPassphraseEntropy()
	if err != nil {
		return nil, err
	}
	auth, err := authData(cfg.MacaroonPath)
	if err != nil {
		return nil, err
	}
	target, err := dialLnd(cfg.LndHost, cfg.LndCertPath)
	if err != nil {
		return nil, err
	}
	priv, err := btcec.NewPrivateKey()
	if err != nil {
		target.Close()
		return nil, err
	}

	b := &Bridge{
		Phrase: strings.Join(words[:], " "),
		target: target,
	}

	// The node keeps the client's key once it has it (ConnData does):
	// from then on both sides use the mailbox derived from their two
	// keys, and the phrase alone no longer reaches the node.
	connData := mailbox.NewConnData(&keychain.PrivKeyECDH{PrivKey: priv},
		nil, entropy[:], auth, b.onHandshake, nil)
	listener, err := mailbox.NewServer(cfg.MailboxAddr, connData, nil,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg.MailboxTLS)))
	if err != nil {
		target.Close()
		return nil, err
	}

	b.srv = grpc.NewServer(
		grpc.Creds(mailbox.NewNoiseGrpcConn(connData)),
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(b.forward),
	)
	go func() { _ = b.srv.Serve(listener) }()
	return b, nil
}

// onHandshake counts completed handshakes: the mailbox package reports
// the client's key after each one.
func (b *Bridge) onHandshake(*btcec.PublicKey) error {
	b.mu.Lock()
	b.handshakes++
	b.mu.Unlock()
	return nil
}

// Handshakes returns how many LNC handshakes the bridge completed.
func (b *Bridge) Handshakes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.handshakes
}

// Close stops forwarding: calls fail from now on. The LNC listener itself
// is left to the end of the test process, retrying a mailbox that is gone:
// closing it runs mailbox v1.0.1's ServerConn.Close, which reads the
// receive stream without the lock its writer holds, a data race that
// -race reports now and then.
func (b *Bridge) Close() {
	b.target.Close()
}

// authData is the LNC auth data carrying a macaroon: header lines, as
// Lightning Terminal sends them.
func authData(macaroonPath string) ([]byte, error) {
	mac, err := os.ReadFile(macaroonPath)
	if err != nil {
		return nil, fmt.Errorf("bridge macaroon: %w", err)
	}
	return []byte("Macaroon: " + hex.EncodeToString(mac)), nil
}

// dialLnd connects to lnd's gRPC port, trusting its certificate.
func dialLnd(host, certPath string) (*grpc.ClientConn, error) {
	pemBytes, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("bridge lnd certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("bridge lnd certificate %s holds no PEM "+
			"certificate", certPath)
	}
	return grpc.NewClient(host, grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: pool})))
}

// forward relays one call, unary or streaming, to lnd by its method name,
// with the macaroon the client sent; messages pass through as bytes.
func (b *Bridge) forward(_ any, in grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(in)
	if !ok {
		return errors.New("bridge: no method name")
	}
	md, _ := metadata.FromIncomingContext(in.Context())
	ctx, cancel := context.WithCancel(in.Context())
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx,
		metadata.MD{"macaroon": md.Get("macaroon")})

	out, err := b.target.NewStream(ctx, &grpc.StreamDesc{
		ServerStreams: true, ClientStreams: true,
	}, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}

	go pumpRequests(in, out)
	return pumpResponses(out, in)
}

// pumpRequests copies the client's messages to lnd until the client has
// sent them all.
func pumpRequests(in grpc.ServerStream, out grpc.ClientStream) {
	for {
		var f frame
		if err := in.RecvMsg(&f); err != nil {
			_ = out.CloseSend()
			return
		}
		if err := out.SendMsg(&f); err != nil {
			return
		}
	}
}

// pumpResponses copies lnd's header, messages and trailer to the client;
// lnd's error status, if any, becomes the call's.
func pumpResponses(out grpc.ClientStream, in grpc.ServerStream) error {
	header, err := out.Header()
	if err != nil {
		return err
	}
	if err := in.SendHeader(header); err != nil {
		return err
	}
	for {
		var f frame
		err := out.RecvMsg(&f)
		if errors.Is(err, io.EOF) {
			in.SetTrailer(out.Trailer())
			return nil
		}
		if err != nil {
			in.SetTrailer(out.Trailer())
			return err
		}
		if err := in.SendMsg(&f); err != nil {
			return err
		}
	}
}

// frame is one message as bytes.
type frame struct{ payload []byte }

// rawCodec passes frames through without decoding them.
type rawCodec struct{}

// Marshal implements encoding.Codec.
func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("bridge: cannot marshal %T", v)
	}
	return f.payload, nil
}

// Unmarshal implements encoding.Codec.
func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("bridge: cannot unmarshal into %T", v)
	}
	f.payload = append([]byte(nil), data...)
	return nil
}

// Name implements encoding.Codec: the codec stands in for proto.
func (rawCodec) Name() string { return "proto" }
