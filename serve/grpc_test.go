package serve

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcEnv is a real gRPC backend (the standard health service, whose
// Watch streams from the server) behind a Handler served over h2c, and a
// gRPC client of the Handler.
type grpcEnv struct {
	*authEnv
	health *health.Server
	client healthpb.HealthClient
}

// newGRPCEnv starts the backend, the proxy and the client.
func newGRPCEnv(t *testing.T) *grpcEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(backend, hs)
	go backend.Serve(ln)
	t.Cleanup(backend.Stop)

	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+ln.Addr().String()+`"`, 1)
	cfgYAML = strings.Replace(cfgYAML, `"^/api/.*$"`,
		`"^/grpc.health.v1.Health/.*$"`, 1)
	cfg, err := LoadConfig(writeConfig(t, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t)
	h, err := NewHandler(cfg, e.auth, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	conn, err := grpc.NewClient(strings.TrimPrefix(srv.URL, "http://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &grpcEnv{authEnv: e, health: hs,
		client: healthpb.NewHealthClient(conn)}
}

func TestGRPCBackendThroughServe(t *testing.T) {
	e := newGRPCEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Unpaid: the trailers-only challenge, status 13.
	// A trailers-only response: grpc-go hands its fields over as the
	// trailer.
	var hdr metadata.MD
	_, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{},
		grpc.Trailer(&hdr))
	if status.Code(err) != codes.Internal ||
		status.Convert(err).Message() != "payment required" {
		t.Fatalf("unpaid call: %v", err)
	}
	chs, err := l402.ParseChallenges(hdr.Get("www-authenticate"))
	if err != nil {
		t.Fatalf("challenge %v: %v", hdr, err)
	}
	p, err := e.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: chs[1].Invoice})
	if err != nil {
		t.Fatal(err)
	}
	hexMac, err := l402.Credential{Macaroon: chs[1].Macaroon,
		Preimage: p.Preimage}.MacaroonHex()
	if err != nil {
		t.Fatal(err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "macaroon", hexMac)

	// Paid: a unary call and the backend's trailers.
	var trailer metadata.MD
	resp, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{},
		grpc.Trailer(&trailer))
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("paid call: %v %v", resp, err)
	}

	// A backend error status comes through as it is.
	_, err = e.client.Check(ctx, &healthpb.HealthCheckRequest{
		Service: "unknown"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("backend status: %v", err)
	}

	// Server streaming: each update arrives while the stream is open.
	e.health.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	stream, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{
		Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first update: %v %v", first, err)
	}
	e.health.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	second, err := stream.Recv()
	if err != nil ||
		second.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("second update: %v %v", second, err)
	}
}
