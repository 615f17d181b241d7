package prices

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/prices/pricesrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/emptypb"
)

// testServer is a price server for tests: it answers every GetPrice with
// price (or err), after delay, and keeps the requests it received.
type testServer struct {
	pricesrpc.UnimplementedPricesServer

	addr string
	stop func()

	mu    sync.Mutex
	price int64
	err   error
	delay time.Duration
	got   []*pricesrpc.GetPriceRequest
}

// GetPrice records req and answers with the configured price or error.
func (s *testServer) GetPrice(ctx context.Context,
	req *pricesrpc.GetPriceRequest) (*pricesrpc.GetPriceResponse, error) {

	s.mu.Lock()
	s.got = append(s.got, req)
	price, err, delay := s.price, s.err, s.delay
	s.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}

	return &pricesrpc.GetPriceResponse{PriceSats: price}, nil
}

// set changes what the server answers from now on.
func (s *testServer) set(price int64, err error, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.price, s.err, s.delay = price, err, delay
}

// requests returns the requests received so far.
func (s *testServer) requests() []*pricesrpc.GetPriceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()

	return append([]*pricesrpc.GetPriceRequest(nil), s.got...)
}

// benchMethod is the full name of the empty unary method the test server
// also serves, the baseline for BenchmarkPrice.
const benchMethod = "/l402test.Bench/Empty"

// benchDesc registers benchMethod: it decodes an empty message and answers
// with one.
var benchDesc = grpc.ServiceDesc{
	ServiceName: "l402test.Bench",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Empty",
		Handler: func(_ any, _ context.Context, dec func(any) error,
			_ grpc.UnaryServerInterceptor) (any, error) {

			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			return in, nil
		},
	}},
}

// startServer runs a price server on a random port of 127.0.0.1, in TLS
// when creds is not nil, and stops it when the test ends.
func startServer(tb testing.TB, price int64,
	creds credentials.TransportCredentials) *testServer {

	tb.Helper()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}

	srv := &testServer{addr: lis.Addr().String(), price: price}
	serve(tb, srv, lis, creds)

	return srv
}

// restartServer serves srv again on its old address after srv.stop.
func restartServer(tb testing.TB, srv *testServer) {
	tb.Helper()

	lis, err := net.Listen("tcp", srv.addr)
	if err != nil {
		tb.Fatalf("listen again on %s: %v", srv.addr, err)
	}
	serve(tb, srv, lis, nil)
}

// serve runs a gRPC server for srv on lis until srv.stop or the end of the
// test.
func serve(tb testing.TB, srv *testServer, lis net.Listener,
	creds credentials.TransportCredentials) {

	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	gs := grpc.NewServer(opts...)
	pricesrpc.RegisterPricesServer(gs, srv)
	gs.RegisterService(&benchDesc, nil)

	go func() { _ = gs.Serve(lis) }()
	srv.stop = gs.Stop
	tb.Cleanup(gs.Stop)
}

// dial connects a client to addr in plaintext and closes it when the test
// ends.
func dial(tb testing.TB, cfg Config) *Client {
	tb.Helper()

	c, err := Dial(cfg)
	if err != nil {
		tb.Fatalf("Dial(%+v): %v", cfg, err)
	}
	tb.Cleanup(func() { _ = c.Close() })

	return c
}

// selfSigned makes a self-signed certificate for 127.0.0.1, writes it as PEM
// into a temporary directory and returns its path and the server's TLS
// credentials.
func selfSigned(t *testing.T) (string, credentials.TransportCredentials) {
	t.Helper()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "price server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}

	path := filepath.Join(t.TempDir(), "tls.cert")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatalf("write certificate: %v", err)
	}

	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return path, credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})
}

// writeFile writes text to path or fails the test.
func writeFile(t *testing.T, path, text string) {
	t.Helper()

	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// newBodyRequest returns a POST request to /p carrying body.
func newBodyRequest(body string) *http.Request {
	return httptest.NewRequest(http.MethodPost, "/p", strings.NewReader(body))
}
