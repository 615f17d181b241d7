//go:build itest

package main

import (
	"context"
	"fmt"
	"net"
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

// TestItestServeGRPCBackend: a gRPC backend (the standard health service)
// behind `l402 serve` over h2c. An unpaid call gets the trailers-only
// challenge with a real invoice from bob; alice pays it; the paid call
// and a server stream go through.
func TestItestServeGRPCBackend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(backend, hs)
	go backend.Serve(ln)
	defer backend.Stop()

	cfg := stack.Bob.ServeYAML("health", ln.Addr().String(), 25)
	cfg = strings.Replace(cfg, `pathregexp: "^/health"`,
		`pathregexp: "^/grpc.health.v1.Health/"`, 1)
	cfg = strings.Replace(cfg, fmt.Sprintf("macdir: %q",
		stack.Bob.MacaroonDir), fmt.Sprintf("macdir: %q",
		invoiceOnlyMacDir(t)), 1)
	addr := startServeYAML(t, cfg)

	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	var trailer metadata.MD
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{},
		grpc.Trailer(&trailer))
	if status.Code(err) != codes.Internal {
		t.Fatalf("unpaid call: %v", err)
	}
	chs, err := l402.ParseChallenges(trailer.Get("www-authenticate"))
	if err != nil {
		t.Fatalf("challenge %v: %v", trailer, err)
	}

	alice, err := lightning.NewLnd(lightning.LndConfig{Name: "alice",
		Host: stack.Alice.RPCHost, TLSCertPath: stack.Alice.TLSCertPath,
		MacaroonPath: stack.Alice.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	p, err := alice.Pay(ctx, lightning.PayRequest{
		PaymentRequest: chs[1].Invoice, MaxFeeSat: 10,
		Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hexMac, err := l402.Credential{Macaroon: chs[1].Macaroon,
		Preimage: p.Preimage}.MacaroonHex()
	if err != nil {
		t.Fatal(err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "macaroon", hexMac)

	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("paid call: %v %v", resp, err)
	}

	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{
		Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := stream.Recv(); err != nil ||
		u.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first update: %v %v", u, err)
	}
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	if u, err := stream.Recv(); err != nil ||
		u.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("second update: %v %v", u, err)
	}
	t.Logf("gRPC through l402 serve: paid %s, unary and stream ok",
		chs[1].Identifier.PaymentHash)
}
