package mcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// EndpointPath is where the streamable HTTP transport answers.
const EndpointPath = "/mcp"

// Run is `l402 mcp`: it builds the server and serves it over stdio until
// the client closes stdin or ctx ends, or, with Options.HTTPAddr, over
// streamable HTTP on that loopback address until ctx ends.
func Run(ctx context.Context, opts Options) error {
	var ln net.Listener
	if opts.HTTPAddr != "" {
		// The address is checked before anything else, so that a
		// wrong one never serves, even briefly.
		var err error
		if ln, err = ListenLoopback(opts.HTTPAddr); err != nil {
			return err
		}
		defer ln.Close()
	}
	s, err := New(opts)
	if err != nil {
		return err
	}
	if ln != nil {
		return s.serveHTTP(ctx, ln)
	}
	in, out := opts.In, opts.Out
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	err = s.mcp.Run(ctx, &sdk.IOTransport{Reader: io.NopCloser(in),
		Writer: nopCloser{out}})
	if ctx.Err() != nil {
		// SIGINT or SIGTERM: a clean stop.
		return nil
	}
	return err
}

// nopCloser is a writer whose Close does nothing: stdout stays open.
type nopCloser struct{ io.Writer }

// Close implements io.Closer.
func (nopCloser) Close() error { return nil }

// ListenLoopback listens on addr, which must be a loopback address
// (127.0.0.1, ::1 or localhost, with a port; port 0 picks one): whoever
// reaches the server can spend within its caps, so it never listens
// where other machines reach it.
func ListenLoopback(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, ErrBadOptions.Mark(fmt.Errorf("HTTP address %q is not "+
			"host:port: %w", addr, err))
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, ErrBadOptions.Mark(fmt.Errorf("HTTP address %q is not "+
			"a loopback address: l402 mcp listens only on 127.0.0.1, ::1 "+
			"or localhost, since whoever reaches it can spend within its "+
			"caps", addr))
	}
	return net.Listen("tcp", net.JoinHostPort(host, port))
}

// serveHTTP serves the streamable HTTP transport at EndpointPath on ln
// until ctx ends. The SDK refuses requests whose Host is not a loopback
// name (DNS rebinding).
func (s *Server) serveHTTP(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle(EndpointPath, sdk.NewStreamableHTTPHandler(
		func(*http.Request) *sdk.Server { return s.mcp }, nil))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	if s.opts.Listening != nil {
		s.opts.Listening("http://" + ln.Addr().String() + EndpointPath)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(),
		5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
