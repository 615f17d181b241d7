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
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"gopkg.in/macaroon.v2"
)

// FakeLnd is a stand-in for lnd's gRPC port that answers GetInfo and
// BakeMacaroon, for unit tests of what sits in front of LNC (put a
// Bridge in front of it) and of what bakes (setup), and what Handle
// answers, for tests of the lnd client's own calls.
type FakeLnd struct {
	// Host, CertPath and MacaroonPath are what a Bridge needs.
	Host, CertPath, MacaroonPath string

	// Alias and Network are what GetInfo answers.
	Alias, Network string

	// RefuseInfo makes GetInfo fail as lnd does for a macaroon that may
	// not call it.
	RefuseInfo bool

	// RefuseBake makes BakeMacaroon fail as lnd does for a macaroon
	// without the macaroon:generate permission.
	RefuseBake bool

	mu    sync.Mutex
	baked []uint64

	// Handle, when set, answers the methods other than GetInfo and BakeMacaroon (full
	// gRPC names, "/routerrpc.Router/SendPaymentV2"); without it they
	// are refused as unimplemented.
	Handle func(method string, stream grpc.ServerStream) error
}

// Baked returns the root key IDs of the macaroons baked so far, in order.
func (f *FakeLnd) Baked() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.baked...)
}

// fakeMacaroon is the macaroon FakeLnd expects with every call: a real
// macaroon, so that it passes for lnd's admin.macaroon where files are
// checked (lnddetect).
var fakeMacaroon = func() []byte {
	m, err := macaroon.New(make([]byte, 32), []byte("fake lnd admin"),
		"lnd", macaroon.V2)
	if err != nil {
		panic(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}()

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

// serve answers GetInfo and BakeMacaroon with the fake macaroon, and
// refuses the rest.
func (f *FakeLnd) serve(_ any, stream grpc.ServerStream) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if got := md.Get("macaroon"); len(got) != 1 ||
		got[0] != hex.EncodeToString(fakeMacaroon) {
		return status.Error(codes.Unauthenticated, "expected 1 macaroon")
	}
	method, _ := grpc.MethodFromServerStream(stream)
	switch method {
	case "/lnrpc.Lightning/GetInfo":
	case "/lnrpc.Lightning/BakeMacaroon":
		return f.bake(stream)
	default:
		if f.Handle != nil {
			return f.Handle(method, stream)
		}
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

// bake answers BakeMacaroon as lnd does: a macaroon whose id lists the
// permissions asked for, under the root key ID asked for.
func (f *FakeLnd) bake(stream grpc.ServerStream) error {
	req := &lndrpc.BakeMacaroonRequest{}
	if err := stream.RecvMsg(req); err != nil {
		return err
	}
	if f.RefuseBake {
		return status.Error(codes.Unknown, "permission denied")
	}
	var ops []*lndrpc.Op
	byEntity := map[string]*lndrpc.Op{}
	for _, p := range req.Permissions {
		op := byEntity[p.Entity]
		if op == nil {
			op = &lndrpc.Op{Entity: p.Entity}
			byEntity[p.Entity] = op
			ops = append(ops, op)
		}
		op.Actions = append(op.Actions, p.Action)
	}
	id, err := proto.Marshal(&lndrpc.MacaroonId{
		Nonce:     []byte("0123456789abcdef"),
		StorageId: []byte(strconv.FormatUint(req.RootKeyId, 10)),
		Ops:       ops,
	})
	if err != nil {
		return err
	}
	m, err := macaroon.New(make([]byte, 32), append([]byte{3}, id...),
		"lnd", macaroon.V2)
	if err != nil {
		return err
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.baked = append(f.baked, req.RootKeyId)
	f.mu.Unlock()
	return stream.SendMsg(&lndrpc.BakeMacaroonResponse{
		Macaroon: hex.EncodeToString(b)})
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
