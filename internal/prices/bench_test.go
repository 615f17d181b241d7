package prices

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// BenchmarkPrice prices one small GET request through a local price server.
// Compare with BenchmarkPriceBaseline for the cost Price adds to a bare call.
func BenchmarkPrice(b *testing.B) {
	srv := startServer(b, 10, nil)
	c := dial(b, Config{Address: srv.addr, Insecure: true})
	r := httptest.NewRequest(http.MethodGet, "/v1/resource/42?x=1", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "application/json")
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Price(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPriceBaseline makes one unary call with an empty message to the
// same kind of server, over a plain grpc.ClientConn.
func BenchmarkPriceBaseline(b *testing.B) {
	srv := startServer(b, 10, nil)
	conn, err := grpc.NewClient(srv.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		err := conn.Invoke(ctx, benchMethod, &emptypb.Empty{}, &emptypb.Empty{})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestText serializes the request BenchmarkPrice sends: the part
// of Price's cost that does not depend on the network.
func BenchmarkRequestText(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/v1/resource/42?x=1", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "application/json")

	b.ReportAllocs()
	for b.Loop() {
		if _, err := requestText(r); err != nil {
			b.Fatal(err)
		}
	}
}
