package hashmail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"github.com/lightninglabs/lightning-node-connect/hashmailrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// relay is a running relay for a test.
type relay struct {
	srv  *Server
	addr string // host:port
	pool *x509.CertPool
}

// startRelay serves a relay over TLS with HTTP/2 on 127.0.0.1, as serve
// would, and stops it when the test ends.
func startRelay(t *testing.T, cfg Config) *relay {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})

	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &relay{srv: srv, addr: ts.Listener.Addr().String(), pool: pool}
}

// tlsConfig trusts the relay's certificate.
func (r *relay) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: r.pool, MinVersion: tls.VersionTLS12}
}

// client returns a gRPC HashMail client of the relay: each call makes
// its own connection, so that two clients are two peers.
func (r *relay) client(t *testing.T) hashmailrpc.HashMailClient {
	t.Helper()
	conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(
		credentials.NewTLS(r.tlsConfig())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return hashmailrpc.NewHashMailClient(conn)
}

// newID returns a random stream ID.
func newID(t *testing.T) []byte {
	t.Helper()
	id := make([]byte, streamIDLen)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	return id
}

// srvAuth is auth in l402's own messages, for calls on the relay's
// service itself rather than through a gRPC client.
func srvAuth(id []byte) *hashmailpb.CipherBoxAuth {
	return &hashmailpb.CipherBoxAuth{
		Desc: &hashmailpb.CipherBoxDesc{StreamId: id},
		Auth: &hashmailpb.CipherBoxAuth_LndAuth{
			LndAuth: &hashmailpb.LndAuth{},
		},
	}
}

// auth is the CipherBoxAuth LNC's node side sends for a stream.
// auth is the CipherBoxAuth LNC's node side sends for a stream.
func auth(id []byte) *hashmailrpc.CipherBoxAuth {
	return &hashmailrpc.CipherBoxAuth{
		Desc: &hashmailrpc.CipherBoxDesc{StreamId: id},
		Auth: &hashmailrpc.CipherBoxAuth_LndAuth{
			LndAuth: &hashmailrpc.LndAuth{},
		},
	}
}

// testCtx is a context that ends with the test, bounded.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err is a gRPC status with code and a
// message holding words.
func wantCode(t *testing.T, err error, code codes.Code, words string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || !bytes.Contains([]byte(st.Message()),
		[]byte(words)) {
		t.Fatalf("got %v, want %v with %q", err, code, words)
	}
}

// TestTwoClientsExchangeMessages: one peer creates both streams of a
// session as LNC's node side does, and two peers then talk both ways in
// order, each on its own connection.
func TestTwoClientsExchangeMessages(t *testing.T) {
	r := startRelay(t, Config{})
	ctx := testCtx(t)
	node, app := r.client(t), r.client(t)

	toApp, toNode := newID(t), newID(t)
	for _, id := range [][]byte{toApp, toNode} {
		resp, err := node.NewCipherBox(ctx, auth(id))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(resp.GetSuccess().GetDesc().GetStreamId(), id) {
			t.Fatalf("NewCipherBox answered %v", resp)
		}
	}

	exchange(t, ctx, node, app, toApp, 20)
	exchange(t, ctx, app, node, toNode, 20)

	// Deleting a stream frees it; a second delete finds nothing.
	if _, err := node.DelCipherBox(ctx, auth(toApp)); err != nil {
		t.Fatal(err)
	}
	_, err := node.DelCipherBox(ctx, auth(toApp))
	wantCode(t, err, codes.NotFound, "stream not found")
	if n := r.srv.NumStreams(); n != 1 {
		t.Fatalf("%d streams left, want 1", n)
	}
}

// exchange sends n messages from one client to another on a stream and
// checks they arrive whole and in order.
func exchange(t *testing.T, ctx context.Context, from,
	to hashmailrpc.HashMailClient, id []byte, n int) {

	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	recv, err := to.RecvStream(ctx, &hashmailrpc.CipherBoxDesc{StreamId: id})
	if err != nil {
		t.Fatal(err)
	}
	send, err := from.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}

	errc := make(chan error, 1)
	go func() {
		for i := range n {
			msg := []byte(fmt.Sprintf("message %d", i))
			err := send.Send(&hashmailrpc.CipherBox{
				Desc: &hashmailrpc.CipherBoxDesc{StreamId: id},
				Msg:  msg,
			})
			if err != nil {
				errc <- err
				return
			}
		}
		_, err := send.CloseAndRecv()
		errc <- err
	}()

	for i := range n {
		box, err := recv.Recv()
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("message %d", i)
		if string(box.GetMsg()) != want ||
			!bytes.Equal(box.GetDesc().GetStreamId(), id) {
			t.Fatalf("got %q on %x, want %q", box.GetMsg(),
				box.GetDesc().GetStreamId(), want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestOneReaderOneWriter: a second reader or writer of a stream is refused
// with the words LNC's client looks for, and the side is free again once
// its holder hangs up.
func TestOneReaderOneWriter(t *testing.T) {
	r := startRelay(t, Config{})
	ctx := testCtx(t)
	c := r.client(t)
	id := newID(t)
	if _, err := c.NewCipherBox(ctx, auth(id)); err != nil {
		t.Fatal(err)
	}
	desc := &hashmailrpc.CipherBoxDesc{StreamId: id}

	rctx, rcancel := context.WithCancel(ctx)
	first, err := c.RecvStream(rctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.reading(id) })

	second, err := c.RecvStream(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = second.Recv()
	wantCode(t, err, codes.FailedPrecondition, "stream occupied")

	// Two writers: the second is refused at its first message.
	w1, err := c.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	box := &hashmailrpc.CipherBox{Desc: desc, Msg: []byte("hi")}
	if err := w1.Send(box); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.writing(id) })
	w2, err := c.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = w2.Send(box)
	_, err = w2.CloseAndRecv()
	wantCode(t, err, codes.FailedPrecondition, "stream occupied")

	// The first reader gets the message, hangs up, and a new reader
	// may attach.
	if got, err := first.Recv(); err != nil || string(got.Msg) != "hi" {
		t.Fatalf("got %v, %v", got, err)
	}
	rcancel()
	waitFor(t, func() bool { return !r.reading(id) })
	third, err := c.RecvStream(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := w1.Send(box); err != nil {
		t.Fatal(err)
	}
	if got, err := third.Recv(); err != nil || string(got.Msg) != "hi" {
		t.Fatalf("got %v, %v", got, err)
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 5s")
}

// reading reports whether a stream has a reader attached.
func (r *relay) reading(id []byte) bool {
	r.srv.mu.Lock()
	defer r.srv.mu.Unlock()
	st := r.srv.streams[streamID(id)]
	return st != nil && st.reading
}

// writing reports whether a stream has a writer attached.
func (r *relay) writing(id []byte) bool {
	r.srv.mu.Lock()
	defer r.srv.mu.Unlock()
	st := r.srv.streams[streamID(id)]
	return st != nil && st.writing
}

// queued returns how many messages wait on a stream.
func (r *relay) queued(id []byte) int {
	r.srv.mu.Lock()
	defer r.srv.mu.Unlock()
	st := r.srv.streams[streamID(id)]
	if st == nil {
		return 0
	}
	return len(st.queue)
}

// TestRefusals: malformed requests, unknown and duplicate streams, an
// oversized message and the stream limits are refused with clear words.
func TestRefusals(t *testing.T) {
	r := startRelay(t, Config{MaxMsgSize: 1000, MaxStreams: 3,
		MaxStreamsPerAddr: 2})
	ctx := testCtx(t)
	c := r.client(t)

	_, err := c.NewCipherBox(ctx, &hashmailrpc.CipherBoxAuth{})
	wantCode(t, err, codes.InvalidArgument, "desc")
	_, err = c.NewCipherBox(ctx, &hashmailrpc.CipherBoxAuth{
		Desc: &hashmailrpc.CipherBoxDesc{StreamId: newID(t)}})
	wantCode(t, err, codes.InvalidArgument, "lnd_auth")
	_, err = c.NewCipherBox(ctx, auth([]byte("short")))
	wantCode(t, err, codes.InvalidArgument, "must be 64 bytes")

	recv, err := c.RecvStream(ctx, &hashmailrpc.CipherBoxDesc{
		StreamId: newID(t)})
	if err == nil {
		_, err = recv.Recv()
	}
	wantCode(t, err, codes.NotFound, "stream not found")

	a, b := newID(t), newID(t)
	for _, id := range [][]byte{a, b} {
		if _, err := c.NewCipherBox(ctx, auth(id)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.NewCipherBox(ctx, auth(a))
	wantCode(t, err, codes.AlreadyExists, "already exists")
	_, err = c.NewCipherBox(ctx, auth(newID(t)))
	wantCode(t, err, codes.ResourceExhausted, "127.0.0.1 already created 2")

	send, err := c.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = send.Send(&hashmailrpc.CipherBox{
		Desc: &hashmailrpc.CipherBoxDesc{StreamId: a},
		Msg:  make([]byte, 1001),
	})
	_, err = send.CloseAndRecv()
	wantCode(t, err, codes.ResourceExhausted, "larger than the relay's")

	// The server-wide limit, reached through the RPC method directly
	// from another address.
	if _, err := r.srv.NewCipherBox(ctx, srvAuth(newID(t))); err != nil {
		t.Fatal(err)
	}
	_, err = r.srv.NewCipherBox(ctx, srvAuth(newID(t)))
	wantCode(t, err, codes.ResourceExhausted, "maximum of 3 streams")
}

// TestStaleStreamDeleted: a stream nobody attaches to goes away after the
// stale timeout; one with a reader stays.
func TestStaleStreamDeleted(t *testing.T) {
	r := startRelay(t, Config{StaleTimeout: 500 * time.Millisecond})
	ctx := testCtx(t)
	c := r.client(t)

	idle, busy := newID(t), newID(t)
	for _, id := range [][]byte{idle, busy} {
		if _, err := c.NewCipherBox(ctx, auth(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.RecvStream(ctx, &hashmailrpc.CipherBoxDesc{
		StreamId: busy}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.reading(busy) })
	waitFor(t, func() bool { return r.srv.NumStreams() == 1 })

	time.Sleep(time.Second)
	if _, err := r.srv.lookup(streamID(busy)); err != nil {
		t.Fatalf("the stream with a reader was deleted: %v", err)
	}
}

// TestStaleTimeoutDisabled: with a negative stale timeout a stream has no
// timer, and attaching, leaving and deleting it work all the same.
func TestStaleTimeoutDisabled(t *testing.T) {
	r := startRelay(t, Config{StaleTimeout: -time.Second})
	ctx := testCtx(t)
	c := r.client(t)
	id := newID(t)
	if _, err := c.NewCipherBox(ctx, auth(id)); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	if _, err := c.RecvStream(rctx, &hashmailrpc.CipherBoxDesc{
		StreamId: id}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.reading(id) })
	rcancel()
	waitFor(t, func() bool { return !r.reading(id) })
	if _, err := r.srv.DelCipherBox(ctx, srvAuth(id)); err != nil {
		t.Fatalf("the idle stream is gone: %v", err)
	}
}

// TestRateLimit: a writer past its burst waits for the stream's rate.
func TestRateLimit(t *testing.T) {
	r := startRelay(t, Config{MsgInterval: 100 * time.Millisecond,
		MsgBurst: 2})
	ctx := testCtx(t)
	c := r.client(t)
	id := newID(t)
	if _, err := c.NewCipherBox(ctx, auth(id)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	exchange(t, ctx, c, c, id, 5)

	// Two messages pass at once, the other three 100 ms apart.
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("5 messages took %v, want at least 300 ms", took)
	}
}

// TestDeleteEndsReader: deleting a stream ends the call reading it with
// "stream not found", which LNC's client takes as the session's end.
func TestDeleteEndsReader(t *testing.T) {
	r := startRelay(t, Config{})
	ctx := testCtx(t)
	c := r.client(t)
	id := newID(t)
	if _, err := c.NewCipherBox(ctx, auth(id)); err != nil {
		t.Fatal(err)
	}
	recv, err := c.RecvStream(ctx, &hashmailrpc.CipherBoxDesc{StreamId: id})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.reading(id) })
	if _, err := c.DelCipherBox(ctx, auth(id)); err != nil {
		t.Fatal(err)
	}
	_, err = recv.Recv()
	wantCode(t, err, codes.NotFound, "stream not found")
}

// TestBufferBound: a writer whose reader is away waits once the stream's
// queue is full, and the bytes it queued are returned to the budget when
// the stream is deleted.
func TestBufferBound(t *testing.T) {
	r := startRelay(t, Config{QueueLen: 2, MaxMsgSize: 100,
		MaxBuffered: 1000})
	ctx := testCtx(t)
	c := r.client(t)
	id := newID(t)
	if _, err := c.NewCipherBox(ctx, auth(id)); err != nil {
		t.Fatal(err)
	}
	send, err := c.SendStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		err := send.Send(&hashmailrpc.CipherBox{
			Desc: &hashmailrpc.CipherBoxDesc{StreamId: id},
			Msg:  make([]byte, 100),
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Two messages wait in the queue and the third in put, once it has
	// reached the relay (a CI run checked before it had): all three
	// count against the budget, so that 701 more bytes cannot be had.
	waitFor(t, func() bool { return r.queued(id) == 2 })
	counted := false
	deadline := time.Now().Add(5 * time.Second)
	for !counted && time.Now().Before(deadline) {
		if r.srv.budget.TryAcquire(1000 - 299) {
			r.srv.budget.Release(1000 - 299)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		counted = true
	}
	if !counted {
		t.Fatal("the queued and waiting bytes are not counted")
	}

	if _, err := c.DelCipherBox(ctx, auth(id)); err != nil {
		t.Fatal(err)
	}
	_, err = send.CloseAndRecv()
	wantCode(t, err, codes.NotFound, "stream not found")
	waitFor(t, func() bool { return r.srv.budget.TryAcquire(1000) })
}

// TestConfigRefusesNonsense: negative limits and a message larger than
// the buffer are refused with the field to fix.
func TestConfigRefusesNonsense(t *testing.T) {
	if _, err := New(Config{MaxStreams: -1}); err == nil {
		t.Fatal("a negative limit was accepted")
	}
	_, err := New(Config{MaxMsgSize: 2000, MaxBuffered: 1000})
	if err == nil || !bytes.Contains([]byte(err.Error()),
		[]byte("does not fit in the buffer")) {
		t.Fatalf("got %v", err)
	}
}

// TestIsRelayRequest: the relay claims its gRPC service and its two
// websocket paths and nothing else.
func TestIsRelayRequest(t *testing.T) {
	for path, want := range map[string]bool{
		"/hashmailrpc.HashMail/SendStream":             true,
		ReceivePath:                                    true,
		SendPath:                                       true,
		"/v1/lightning-node-connect/hashmail":          false,
		"/lnrpc.Lightning/GetInfo":                     false,
		"/v1/lightning-node-connect/hashmail/receive/": false,
	} {
		req, _ := http.NewRequest(http.MethodPost, "https://x"+path, nil)
		if got := IsRelayRequest(req); got != want {
			t.Errorf("%s: got %v", path, got)
		}
	}
}
