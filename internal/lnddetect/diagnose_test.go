package lnddetect

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// unknown is how lnd's interceptors' plain errors reach a client: gRPC
// sends them with code Unknown and the error's text.
func unknown(msg string) error { return status.Error(codes.Unknown, msg) }

// unavailable is how grpc-go reports a failed connection.
func unavailable(desc string) error {
	return status.Error(codes.Unavailable, "connection error: desc = \""+
		desc+"\"")
}

// TestDiagnose maps real error texts to their causes and fixes.
func TestDiagnose(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		cause Cause
		words []string // in Diagnose's text
	}{
		// lnd rpcperms/interceptor.go: ErrWalletLocked, ErrNoWallet,
		// ErrRPCStarting, ErrWaitingToStart.
		{"wallet locked",
			unknown("wallet locked, unlock it to enable full RPC " +
				"access"),
			CauseWalletLocked, []string{"lncli unlock"}},
		{"no wallet",
			unknown("wallet not created, create one to enable full " +
				"RPC access"),
			CauseNoWallet, []string{"lncli create"}},
		{"starting",
			unknown("the RPC server is in the process of starting " +
				"up, but not yet ready to accept calls"),
			CauseStarting, []string{"lncli state"}},
		{"waiting to start",
			unknown("waiting to start, RPC services not available"),
			CauseStarting, nil},
		// lnd before 0.13 served only the WalletUnlocker while locked;
		// grpc-go answers an unregistered service with this.
		{"old lnd locked",
			status.Error(codes.Unimplemented,
				"unknown service lnrpc.Lightning"),
			CauseWalletLocked, []string{"lncli unlock"}},

		// macaroon.v2 macaroon.go (signature check) through
		// macaroon-bakery's VerificationError (bakery/error.go) and
		// AuthChecker (checker.go errgo.WithCausef keeps the text).
		{"wrong macaroon",
			unknown("verification failed: signature mismatch after " +
				"caveat verification"),
			CauseWrongMacaroon, []string{"wrong macaroon"}},
		// lnd macaroons/store.go RootKeyStorage.Get, noted by
		// bakery oven.go ("cannot get macaroon") and checker.go
		// ("cannot retrieve macaroon").
		{"unknown root key",
			unknown("cannot retrieve macaroon: cannot get macaroon: " +
				"root key with id 7 doesn't exist"),
			CauseWrongMacaroon, []string{"--lnd-macdir"}},
		// bakery checkers/time.go and checkers.go.
		{"expired macaroon",
			unknown(`caveat "time-before 2020-01-01T00:00:00Z" not ` +
				"satisfied: macaroon has expired"),
			CauseMacaroonExpired, []string{"l402 setup --bake"}},
		// bakery/error.go ErrPermissionDenied: a valid macaroon
		// without the permission (invoice.macaroon on GetInfo).
		{"macaroon lacks permission", unknown("permission denied"),
			CauseMacaroonDenied, []string{"readonly.macaroon"}},
		// internal/lightning wraps that as ErrPermissionDenied.
		{"macaroon lacks permission via internal/lightning",
			fmt.Errorf("lightning node n: GetInfo: %w: %s",
				errors.New("permission denied by the node's macaroon"),
				"permission denied"),
			CauseMacaroonDenied, nil},
		// lnd macaroons/service.go RawMacaroonFromContext.
		{"no macaroon", unknown("expected 1 macaroon, got 0"),
			CauseNoMacaroon, nil},

		// grpc-go transport, with Go's net errors.
		{"refused",
			unavailable("transport: Error while dialing: dial tcp " +
				"127.0.0.1:10009: connect: connection refused"),
			CauseUnreachable, []string{
				"not running or not listening at 127.0.0.1:10009",
				"--lnd-host"}},
		{"no such host",
			unavailable("transport: Error while dialing: dial tcp: " +
				"lookup umbrel.invalid: no such host"),
			CauseUnreachable, nil},
		{"dial timeout",
			unavailable("transport: Error while dialing: dial tcp " +
				"10.0.0.9:10009: i/o timeout"),
			CauseTimeout, []string{"at 10.0.0.9:10009", "firewall"}},
		{"deadline",
			status.Error(codes.DeadlineExceeded,
				"context deadline exceeded"),
			CauseTimeout, nil},

		// Go crypto/x509 and crypto/tls, as grpc-go wraps them.
		{"name mismatch",
			unavailable("transport: authentication handshake failed: " +
				"tls: failed to verify certificate: x509: " +
				"certificate is valid for localhost, umbrel.local, " +
				"not 10.21.21.9"),
			CauseTLSNameMismatch, []string{"tlsextraip",
				"certificate is valid for localhost"}},
		{"no IP SANs",
			unavailable("transport: authentication handshake failed: " +
				"tls: failed to verify certificate: x509: cannot " +
				"validate certificate for 10.0.0.5 because it " +
				"doesn't contain any IP SANs"),
			CauseTLSNameMismatch, nil},
		{"unknown authority",
			unavailable("transport: authentication handshake failed: " +
				"tls: failed to verify certificate: x509: " +
				"certificate signed by unknown authority"),
			CauseTLSWrongCert, []string{"--lnd-tls"}},
		{"expired cert",
			unavailable("transport: authentication handshake failed: " +
				"tls: failed to verify certificate: x509: " +
				"certificate has expired or is not yet valid: " +
				"current time 2026-01-02T00:00:00Z is after " +
				"2025-01-01T00:00:00Z"),
			CauseTLSExpired, []string{"tls.key"}},
		{"not TLS",
			unavailable("transport: authentication handshake failed: " +
				"tls: first record does not look like a TLS " +
				"handshake"),
			CauseNotGRPC, []string{"10009"}},
		{"no ALPN",
			unavailable("transport: authentication handshake failed: " +
				"credentials: cannot check peer: missing selected " +
				"ALPN property"),
			CauseNotGRPC, nil},

		// Files, as internal/lightning NewLnd reports them.
		{"macaroon permission",
			fmt.Errorf("unable to read macaroon: %w", &fs.PathError{
				Op: "open", Path: "/data/lnd/admin.macaroon",
				Err: fs.ErrPermission}),
			CauseFilePermission, []string{"run as the user that owns " +
				"lnd's directory", "mode 0600"}},
		{"macaroon permission, text only",
			errors.New("unable to read macaroon: open /x: permission " +
				"denied"),
			CauseFilePermission, nil},
		{"missing cert",
			fmt.Errorf("unable to read TLS certificate: %w",
				&fs.PathError{Op: "open", Path: "/x/tls.cert",
					Err: fs.ErrNotExist}),
			CauseFileMissing, nil},

		{"wrong network", &NetworkError{Want: "mainnet",
			GotChain: "bitcoin", GotNetwork: "regtest"},
			CauseWrongNetwork, []string{"--network regtest"}},
		{"not found", &NotFoundError{Looked: []string{"/x"}},
			CauseNotFound, []string{"--lnddir"}},
		{"ambiguous", &AmbiguousNetworkError{Networks: []string{
			"mainnet", "regtest"}, ChainDir: "/x"},
			CauseAmbiguous, []string{"--network"}},
		{"chain dir denied", &NoNetworkError{ChainDir: "/x",
			Denied: true}, CauseFilePermission,
			[]string{"cannot look into /x (permission denied)"}},
		{"other", errors.New("something else"), CauseUnknown,
			[]string{"lnd's log"}},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.cause {
			t.Errorf("%s: Classify = %s, want %s", c.name, got,
				c.cause)
		}
		text := Diagnose(c.err)
		for _, w := range c.words {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q lacks %q", c.name, text, w)
			}
		}
	}
	if Classify(nil) != "" || Diagnose(nil) != "" {
		t.Error("nil error diagnosed")
	}
}

// TestDiagnoseRealGRPC makes real gRPC calls over loopback TLS, so that
// the errors are grpc-go's and Go's own as this module pins them.
func TestDiagnoseRealGRPC(t *testing.T) {
	certPEM, serverTLS := selfSigned(t, "lnd.internal")
	addr := serveLocked(t, serverTLS)
	otherPEM, _ := selfSigned(t, "localhost")

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	cases := []struct {
		name      string
		addr      string
		authority string
		cert      []byte
		cause     Cause
	}{
		{"wallet locked", addr, "lnd.internal", certPEM,
			CauseWalletLocked},
		{"name mismatch", addr, "", certPEM, CauseTLSNameMismatch},
		{"wrong cert", addr, "lnd.internal", otherPEM,
			CauseTLSWrongCert},
		{"refused", closedAddr, "", certPEM, CauseUnreachable},
	}
	for _, c := range cases {
		err := callGetInfo(t, c.addr, c.authority, c.cert)
		t.Logf("%s: %s", c.name, Diagnose(err))
		if got := Classify(err); got != c.cause {
			t.Errorf("%s: %v: got %s, want %s", c.name, err, got,
				c.cause)
		}
		if c.cause == CauseUnreachable &&
			!strings.Contains(Diagnose(err), closedAddr) {

			t.Errorf("%s: %q does not name %s", c.name, Diagnose(err),
				closedAddr)
		}
	}
}

// selfSigned makes a certificate for one DNS name, as lnd's tls.cert.
func selfSigned(t *testing.T, name string) ([]byte, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign |
			x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl,
		&key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		&tls.Config{Certificates: []tls.Certificate{{
			Certificate: [][]byte{der}, PrivateKey: key,
		}}}
}

// serveLocked runs a gRPC server that answers every call as lnd with a
// locked wallet does, and returns its address.
func serveLocked(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)),
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			return errors.New("wallet locked, unlock it to enable " +
				"full RPC access")
		}))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// callGetInfo calls lnd's GetInfo at addr trusting certPEM.
func callGetInfo(t *testing.T, addr, authority string,
	certPEM []byte) error {

	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("bad test certificate")
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: pool}))}
	if authority != "" {
		opts = append(opts, grpc.WithAuthority(authority))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(),
		10*time.Second)
	defer cancel()
	return conn.Invoke(ctx, "/lnrpc.Lightning/GetInfo", &emptypb.Empty{},
		&emptypb.Empty{})
}
