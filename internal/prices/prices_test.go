package prices

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// priced is what a proxy handler saw: the price, the error, and the body it
// could still read after Price.
type priced struct {
	price int64
	err   error
	body  string
}

// sendRaw writes raw, byte for byte, to an HTTP server whose handler asks c
// for the price of the request and then reads its body, as the proxy would.
func sendRaw(t *testing.T, c *Client, raw string) priced {
	t.Helper()

	seen := make(chan priced, 1)
	hs := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			price, err := c.Price(r.Context(), r)
			body, readErr := io.ReadAll(r.Body)
			if readErr != nil {
				t.Errorf("body after Price: %v", readErr)
			}
			seen <- priced{price: price, err: err, body: string(body)}
		},
	))
	defer hs.Close()

	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial the HTTP server: %v", err)
	}
	defer conn.Close()

	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("write the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the response: %v", err)
	}
	resp.Body.Close()

	return <-seen
}

// TestPriceSendsWhatApertureSends checks the two fields a price server
// receives for a request that arrived at the proxy: the unescaped URL path,
// and the request line and header fields as httputil.DumpRequest(r, false)
// writes them (request URI as sent, Host first, the other fields sorted by
// name), then the body.
func TestPriceSendsWhatApertureSends(t *testing.T) {
	srv := startServer(t, 21, nil)
	c := dial(t, Config{Address: srv.addr, Insecure: true})

	body := `{"model":"gpt-x","messages":[]}`
	raw := "POST /v1/caf%C3%A9/chat?stream=1 HTTP/1.1\r\n" +
		"Host: api.example.com\r\n" +
		"User-Agent: test-agent\r\n" +
		"Content-Type: application/json\r\n" +
		"X-Custom: one\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", len(body)) +
		"\r\n" + body

	got := sendRaw(t, c, raw)
	if got.err != nil || got.price != 21 {
		t.Fatalf("Price = %d, %v; want 21, nil", got.price, got.err)
	}
	if got.body != body {
		t.Errorf("body after Price = %q, want %q", got.body, body)
	}

	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	if want := "/v1/café/chat"; reqs[0].GetPath() != want {
		t.Errorf("path = %q, want %q", reqs[0].GetPath(), want)
	}
	wantText := "POST /v1/caf%C3%A9/chat?stream=1 HTTP/1.1\r\n" +
		"Host: api.example.com\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", len(body)) +
		"Content-Type: application/json\r\n" +
		"User-Agent: test-agent\r\n" +
		"X-Custom: one\r\n" +
		"\r\n" + body
	if reqs[0].GetHttpRequestText() != wantText {
		t.Errorf("http_request_text =\n%q\nwant\n%q",
			reqs[0].GetHttpRequestText(), wantText)
	}
}

// TestPriceWithoutBody checks a GET: the text is the head alone, ending in
// the blank line.
func TestPriceWithoutBody(t *testing.T) {
	srv := startServer(t, 5, nil)
	c := dial(t, Config{Address: srv.addr, Insecure: true})

	got := sendRaw(t, c, "GET /book/2 HTTP/1.1\r\nHost: h\r\n\r\n")
	if got.err != nil || got.price != 5 || got.body != "" {
		t.Fatalf("Price = %d, %v, body %q; want 5, nil, empty",
			got.price, got.err, got.body)
	}

	want := "GET /book/2 HTTP/1.1\r\nHost: h\r\n\r\n"
	if text := srv.requests()[0].GetHttpRequestText(); text != want {
		t.Errorf("http_request_text = %q, want %q", text, want)
	}
}

// TestPriceLargeBody checks that a body above MaxBodyBytes is cut in the
// text, read no further than that, and still reaches the proxy whole.
func TestPriceLargeBody(t *testing.T) {
	srv := startServer(t, 7, nil)
	c := dial(t, Config{Address: srv.addr, Insecure: true})

	body := `{"model":"big","pad":"` + strings.Repeat("a", 3*MaxBodyBytes) + `"}`
	counter := &countingReader{r: strings.NewReader(body)}
	r := httptest.NewRequest(http.MethodPost, "/upload", io.NopCloser(counter))

	price, err := c.Price(context.Background(), r)
	if err != nil || price != 7 {
		t.Fatalf("Price = %d, %v; want 7, nil", price, err)
	}
	if counter.n != MaxBodyBytes {
		t.Errorf("Price read %d body bytes, want %d", counter.n, MaxBodyBytes)
	}

	text := srv.requests()[0].GetHttpRequestText()
	head, sent, ok := strings.Cut(text, "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "POST /upload HTTP/1.1\r\n") {
		t.Fatalf("http_request_text starts %q", text[:min(len(text), 80)])
	}
	if sent != body[:MaxBodyBytes] {
		t.Errorf("sent %d body bytes, want the first %d", len(sent), MaxBodyBytes)
	}

	rest, err := io.ReadAll(r.Body)
	if err != nil || string(rest) != body {
		t.Errorf("body after Price: %d bytes, %v; want all %d",
			len(rest), err, len(body))
	}
	if err := r.Body.Close(); err != nil {
		t.Errorf("close the body: %v", err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

// Read reads from the underlying reader and counts.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestPriceBinaryBody checks that a body that is not UTF-8 (a gRPC call's
// protobuf, an image) is still priced: the bytes protobuf cannot carry in a
// string become U+FFFD, and the proxy still gets the original bytes.
func TestPriceBinaryBody(t *testing.T) {
	srv := startServer(t, 3, nil)
	c := dial(t, Config{Address: srv.addr, Insecure: true})

	body := "\x00\x00\x00\x00\x05\xff\xfe\x01\x02"
	r := httptest.NewRequest(http.MethodPost, "/pkg.Svc/Call", strings.NewReader(body))

	if price, err := c.Price(context.Background(), r); err != nil || price != 3 {
		t.Fatalf("Price = %d, %v; want 3, nil", price, err)
	}
	text := srv.requests()[0].GetHttpRequestText()
	if want := "\x00\x00\x00\x00\x05\uFFFD\x01\x02"; !strings.HasSuffix(text, want) {
		t.Errorf("http_request_text ends %q, want %q", text[len(text)-12:], want)
	}
	if rest, _ := io.ReadAll(r.Body); string(rest) != body {
		t.Errorf("body after Price = %q, want %q", rest, body)
	}
}

// TestPriceRejectsBadPrices checks that zero, negative and impossible
// prices are errors that name the server and the value.
func TestPriceRejectsBadPrices(t *testing.T) {
	srv := startServer(t, 0, nil)
	c := dial(t, Config{Address: srv.addr, Insecure: true})

	tests := []struct {
		price   int64
		wantErr error
		want    string
	}{
		{0, ErrZeroPrice, "0 sat"},
		{-1, ErrBadPrice, "-1 sat"},
		{MaxPriceSats + 1, ErrBadPrice, "2100000000000001 sat"},
		{MaxPriceSats, nil, ""},
		{1, nil, ""},
	}
	for _, tt := range tests {
		srv.set(tt.price, nil, 0)
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		price, err := c.Price(context.Background(), r)

		if tt.wantErr == nil {
			if err != nil || price != tt.price {
				t.Errorf("price %d: Price = %d, %v", tt.price, price, err)
			}
			continue
		}
		if !errors.Is(err, tt.wantErr) || price != 0 {
			t.Errorf("price %d: Price = %d, %v; want 0, %v",
				tt.price, price, err, tt.wantErr)
			continue
		}
		for _, part := range []string{srv.addr, tt.want} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("price %d: error %q does not name %q",
					tt.price, err, part)
			}
		}
	}
}

// TestPriceErrorStatus checks that a status from the server is passed on,
// named and still inspectable with status.Code.
func TestPriceErrorStatus(t *testing.T) {
	srv := startServer(t, 0, nil)
	srv.set(0, status.Error(codes.NotFound, "no price for /x"), 0)
	c := dial(t, Config{Address: srv.addr, Insecure: true})

	_, err := c.Price(context.Background(), httptest.NewRequest("GET", "/x", nil))
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status.Code(%v) = %v, want NotFound", err, status.Code(err))
	}
	for _, part := range []string{srv.addr, "NotFound", "no price for /x"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %q", err, part)
		}
	}
}

// TestPriceUnimplemented checks the error from a gRPC server that is not a
// price server.
func TestPriceUnimplemented(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	gs := grpc.NewServer()
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	c := dial(t, Config{Address: lis.Addr().String(), Insecure: true})
	_, err = c.Price(context.Background(), httptest.NewRequest("GET", "/", nil))
	if status.Code(err) != codes.Unimplemented ||
		!strings.Contains(err.Error(), "does not implement pricesrpc.Prices") {

		t.Errorf("Price = %v, want Unimplemented with a hint", err)
	}
}

// TestPriceServerDown checks that a closed port fails at once, with an
// error naming the address, rather than waiting out the timeout.
func TestPriceServerDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := lis.Addr().String()
	lis.Close()

	c := dial(t, Config{Address: addr, Insecure: true, Timeout: 3 * time.Second})
	start := time.Now()
	_, err = c.Price(context.Background(), httptest.NewRequest("GET", "/", nil))
	elapsed := time.Since(start)

	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Price = %v, want Unavailable", err)
	}
	if !strings.Contains(err.Error(), addr) ||
		!strings.Contains(err.Error(), "is unavailable") {

		t.Errorf("error %q does not name %s with a hint", err, addr)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Price took %v against a closed port", elapsed)
	}
}

// TestPriceReconnects checks that a price server that restarts is used
// again within a few seconds, not after gRPC's default backoff of minutes.
func TestPriceReconnects(t *testing.T) {
	srv := startServer(t, 9, nil)
	c := dial(t, Config{Address: srv.addr, Insecure: true, Timeout: time.Second})
	r := func() *http.Request { return httptest.NewRequest("GET", "/", nil) }

	if _, err := c.Price(context.Background(), r()); err != nil {
		t.Fatalf("first Price: %v", err)
	}

	srv.stop()
	if _, err := c.Price(context.Background(), r()); err == nil {
		t.Fatal("Price succeeded with the server stopped")
	}

	restartServer(t, srv)
	deadline := time.Now().Add(maxReconnectDelay + 3*time.Second)
	for {
		price, err := c.Price(context.Background(), r())
		if err == nil && price == 9 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no price %v after the server came back: %v",
				maxReconnectDelay+3*time.Second, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPriceTimeout checks that a server that never answers, at the TCP or
// the gRPC level, costs one timeout and no more.
func TestPriceTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond

	slow := startServer(t, 1, nil)
	slow.set(1, nil, time.Minute)

	// A TCP listener that accepts but never speaks HTTP/2.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			conn, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()

	for _, addr := range []string{slow.addr, mute.Addr().String()} {
		c := dial(t, Config{Address: addr, Insecure: true, Timeout: timeout})
		start := time.Now()
		_, err := c.Price(context.Background(), httptest.NewRequest("GET", "/", nil))
		elapsed := time.Since(start)

		if status.Code(err) != codes.DeadlineExceeded ||
			!strings.Contains(err.Error(), addr) {

			t.Errorf("%s: Price = %v, want DeadlineExceeded naming it", addr, err)
		}
		if elapsed < timeout || elapsed > timeout+time.Second {
			t.Errorf("%s: Price took %v, want about %v", addr, elapsed, timeout)
		}
	}
}

// TestPriceHonoursContext checks that the caller's cancellation ends a call.
func TestPriceHonoursContext(t *testing.T) {
	srv := startServer(t, 1, nil)
	srv.set(1, nil, time.Minute)
	c := dial(t, Config{Address: srv.addr, Insecure: true})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Price(ctx, httptest.NewRequest("GET", "/", nil))
	if status.Code(err) != codes.DeadlineExceeded ||
		!strings.Contains(err.Error(), "own context ended first") {

		t.Errorf("Price = %v, want DeadlineExceeded from the caller's context", err)
	}
}

// TestPriceTLS checks TLS verified with tlscertpath, and that the same
// server is refused without it, or in plaintext.
func TestPriceTLS(t *testing.T) {
	certPath, creds := selfSigned(t)
	srv := startServer(t, 42, creds)
	r := func() *http.Request { return httptest.NewRequest("GET", "/tls", nil) }

	c := dial(t, Config{Address: srv.addr, TLSCertPath: certPath})
	if price, err := c.Price(context.Background(), r()); err != nil || price != 42 {
		t.Fatalf("with tlscertpath: Price = %d, %v; want 42, nil", price, err)
	}

	sysRoots := dial(t, Config{Address: srv.addr, Timeout: 2 * time.Second})
	_, err := sysRoots.Price(context.Background(), r())
	if status.Code(err) != codes.Unavailable ||
		!strings.Contains(err.Error(), "certificate") {

		t.Errorf("system roots against a self-signed server: %v", err)
	}

	plain := dial(t, Config{Address: srv.addr, Insecure: true, Timeout: 2 * time.Second})
	if _, err := plain.Price(context.Background(), r()); err == nil {
		t.Error("plaintext against a TLS server succeeded")
	}
}

// TestPriceInsecureToTLSClient checks that a TLS client refuses a
// plaintext server rather than falling back.
func TestPriceInsecureToTLSClient(t *testing.T) {
	certPath, _ := selfSigned(t)
	srv := startServer(t, 1, nil)

	c := dial(t, Config{Address: srv.addr, TLSCertPath: certPath, Timeout: 2 * time.Second})
	_, err := c.Price(context.Background(), httptest.NewRequest("GET", "/", nil))
	if err == nil {
		t.Fatal("TLS client priced through a plaintext server")
	}
	if len(srv.requests()) != 0 {
		t.Error("the plaintext server received the request")
	}
}

// TestDialErrors checks that bad configurations fail in Dial, with a
// message that says what to change.
func TestDialErrors(t *testing.T) {
	certPath, _ := selfSigned(t)
	notPEM := certPath + ".txt"
	writeFile(t, notPEM, "not a certificate")

	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no address", Config{Insecure: true}, "set dynamicprice.grpcaddress"},
		{"negative timeout", Config{Address: "h:1", Insecure: true, Timeout: -time.Second}, "is negative"},
		{"insecure and cert", Config{Address: "h:1", Insecure: true, TLSCertPath: certPath}, "remove one of the two"},
		{"missing cert", Config{Address: "h:1", TLSCertPath: certPath + ".missing"}, "unable to read tlscertpath"},
		{"not PEM", Config{Address: "h:1", TLSCertPath: notPEM}, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		c, err := Dial(tt.cfg)
		if err == nil {
			c.Close()
			t.Errorf("%s: Dial succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.want)
		}
		if tt.cfg.Address != "" && !strings.Contains(err.Error(), tt.cfg.Address) {
			t.Errorf("%s: error %q does not name the address", tt.name, err)
		}
	}
}
