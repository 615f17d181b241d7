package mcp

import (
	"context"
	"errors"
	"io"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestRunRefusesNonLoopbackHTTP: an HTTP address other machines can
// reach is refused before anything listens.
func TestRunRefusesNonLoopbackHTTP(t *testing.T) {
	e := newEnv(t, 10, "")
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080",
		"example.com:80", "[::]:0", "127.0.0.1"} {
		opts := e.options()
		opts.HTTPAddr = addr
		opts.Listening = func(url string) {
			t.Errorf("%s: listening on %s", addr, url)
		}
		err := Run(context.Background(), opts)
		if !errors.Is(err, ErrBadOptions) || code(err) != "bad_arguments" {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// TestRunOverHTTP serves streamable HTTP on 127.0.0.1 and buys through
// it with the SDK's client; cancelling the context stops it.
func TestRunOverHTTP(t *testing.T) {
	e := newEnv(t, 20, "")
	opts := e.options()
	opts.HTTPAddr = "127.0.0.1:0"
	endpoint := make(chan string, 1)
	opts.Listening = func(url string) { endpoint <- url }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()

	var url string
	select {
	case url = <-endpoint:
	case err := <-done:
		t.Fatalf("Run ended before listening: %v", err)
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "test",
		Version: "0"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint: url, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out FetchResult
	res := callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api"}, &out)
	if res.IsError || !out.L402Paid || out.L402AmountSat != 20 {
		t.Fatalf("fetch over HTTP: %+v %s", out, text(res))
	}
	cs.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// TestRunOverStdio speaks the protocol over Run's stdin and stdout, as a
// client that started `l402 mcp` does; closing stdin ends Run.
func TestRunOverStdio(t *testing.T) {
	e := newEnv(t, 20, "")
	opts := e.options()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	opts.In, opts.Out = inR, outW
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), opts)
		outW.Close()
	}()

	client := sdk.NewClient(&sdk.Implementation{Name: "test",
		Version: "0"}, nil)
	cs, err := client.Connect(context.Background(), &sdk.IOTransport{
		Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var p PreviewResult
	res := callTool(t, cs, "dry_run", map[string]any{
		"url": e.srv.URL + "/api"}, &p)
	if res.IsError || p.InvoiceAmountSat != 20 || !p.WithinBudget {
		t.Fatalf("dry_run over stdio: %+v %s", p, text(res))
	}
	cs.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run after stdin closed: %v", err)
	}
}
