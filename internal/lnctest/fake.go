package lnctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// FakeLnd is a stand-in for lnd's gRPC port that answers GetInfo, for
// unit tests of what sits in front of LNC (put a Bridge in front of it),
// and what Handle answers, for tests of the lnd client's own calls.
type FakeLnd struct {
	// Host, CertPath and MacaroonPath are what a Bridge needs.
	Host, CertPath, MacaroonPath string

	// Alias and Network are what GetInfo answers.
	Alias, Network string

	// RefuseInfo makes GetInfo fail as lnd does for a macaroon that may
	// not call it.
	RefuseInfo bool

	// Handle, when set, answers the methods other than GetInfo (full
	// gRPC names, "/routerrpc.Router/SendPaymentV2"); without it they
	// are refused as unimplemented.
	Handle func(method string, stream grpc.ServerStream) error
}

// fakeMacaroon is the macaroon FakeLnd expects with every call.
var fakeMacaroon = []byte("fake lnd macaroon")

// StartFakeLnd serves a FakeLnd over TLS on 127.0.0.1 until the test ends.
// Set its fields before the first call.
func StartFakeLnd(t testing.TB, alias, network string) *FakeLnd {
	t.Helper()
	dir := t.TempDir()
	cert, certPath := selfSigned(t, dir)
	macPath := filepath.Join(dir, "fake.macaroon")
	if err := os.WriteFile(macPath, fakeMacaroon, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	f := &FakeLnd{Host: l.Addr().String(), CertPath: certPath,
		MacaroonPath: macPath, Alias: alias, Network: network}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(&cert)),
		grpc.UnknownServiceHandler(f.serve),
	)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return f
}

// serve answers GetInfo with the fake macaroon, and refuses the rest.
func (f *FakeLnd) serve(_ any, stream grpc.ServerStream) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if got := md.Get("macaroon"); len(got) != 1 ||
		got[0] != hex.EncodeToString(fakeMacaroon) {
		return status.Error(codes.Unauthenticated, "expected 1 macaroon")
	}
	method, _ := grpc.MethodFromServerStream(stream)
	if method != "/lnrpc.Lightning/GetInfo" && f.Handle != nil {
		return f.Handle(method, stream)
	}
	if method != "/lnrpc.Lightning/GetInfo" {
		return status.Errorf(codes.Unimplemented, "fake lnd has no %s",
			method)
	}
	if err := stream.RecvMsg(&lndrpc.GetInfoRequest{}); err != nil {
		return err
	}
	if f.RefuseInfo {
		return status.Error(codes.Unknown, "permission denied")
	}
	return stream.SendMsg(&lndrpc.GetInfoResponse{
		Alias:          f.Alias,
		IdentityPubkey: "02" + hex.EncodeToString(make([]byte, 32)),
		SyncedToChain:  true,
		Chains:         []*lndrpc.Chain{{Network: f.Network}},
	})
}

// selfSigned makes a certificate for 127.0.0.1 and writes its PEM.
func selfSigned(t testing.TB, dir string) (tls.Certificate, string) {
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
