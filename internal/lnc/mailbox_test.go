package lnc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"github.com/lightninglabs/lightning-node-connect/gbn"
)

// scriptedMailbox is a hostile mailbox: its receive stream hands the
// client the scripted messages, then blocks until the stream's context
// ends; whatever the client sends is taken and dropped.
type scriptedMailbox struct {
	msgs [][]byte
}

// RecvStream implements Mailbox.
func (m *scriptedMailbox) RecvStream(ctx context.Context,
	_ *hashmailpb.CipherBoxDesc) (RecvStream, error) {

	return &scriptedRecv{ctx: ctx, msgs: m.msgs}, nil
}

// SendStream implements Mailbox.
func (m *scriptedMailbox) SendStream(ctx context.Context) (SendStream,
	error) {

	return &droppingSend{ctx: ctx}, nil
}

// scriptedRecv is scriptedMailbox's receive stream.
type scriptedRecv struct {
	ctx  context.Context
	msgs [][]byte
}

// Recv implements RecvStream.
func (r *scriptedRecv) Recv() (*hashmailpb.CipherBox, error) {
	if len(r.msgs) == 0 {
		<-r.ctx.Done()
		return nil, r.ctx.Err()
	}
	msg := r.msgs[0]
	r.msgs = r.msgs[1:]
	return &hashmailpb.CipherBox{Msg: msg}, nil
}

// droppingSend is scriptedMailbox's send stream.
type droppingSend struct {
	ctx context.Context
}

// Send implements SendStream.
func (s *droppingSend) Send(*hashmailpb.CipherBox) error { return s.ctx.Err() }

// CloseAndRecv implements SendStream.
func (s *droppingSend) CloseAndRecv() (*hashmailpb.CipherBoxDesc, error) {
	return nil, io.EOF
}

// TestMailboxRefusesMalformedPackets: a go-back-n data packet too short
// for its header, from the mailbox or the node, ends the connection with
// an error, during go-back-n's handshake and after it; it does not crash
// the process (the gbn module indexes past such a packet).
func TestMailboxRefusesMalformedPackets(t *testing.T) {
	syn := []byte{gbn.SYN, gbnN}
	tests := []struct {
		name string
		msgs [][]byte
		// dialFails is whether the dial itself fails; otherwise the
		// first read does.
		dialFails bool
	}{
		{"short data in the handshake", [][]byte{{gbn.DATA, 0, 1}},
			true},
		{"short data after the handshake", [][]byte{syn,
			{gbn.DATA, 0, 1}}, false},
		{"two-byte data after the handshake", [][]byte{syn,
			{gbn.DATA, 0}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(),
				5*time.Second)
			defer cancel()
			conn, err := dialMailbox(ctx, context.Background(),
				&scriptedMailbox{msgs: tc.msgs}, "test", [64]byte{},
				func(Status) {}, func() {})
			if tc.dialFails {
				if err == nil || !strings.Contains(err.Error(),
					"malformed") {

					t.Fatalf("dial: got %v, want a malformed packet", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Read(make([]byte, 1)); err == nil {
				t.Fatal("read after a malformed packet succeeded")
			}
		})
	}
}

// dataPacket is a go-back-n data packet as the node sends it.
func dataPacket(seq uint8, final, ping bool, payload []byte) []byte {
	b, _ := (&gbn.PacketData{Seq: seq, FinalChunk: final, IsPing: ping,
		Payload: payload}).Serialize()
	return b
}

// TestMailboxBoundsChunkedMessages: the gbn module gathers a message's
// chunks until the final one without a bound, so a mailbox or node that
// never sends a final chunk would grow the client's memory without end;
// the client ends the connection once the chunks of one message pass
// maxChunkedMessage. A chunked message below the bound, with a ping and
// a duplicate chunk among its chunks, arrives whole.
func TestMailboxBoundsChunkedMessages(t *testing.T) {
	syn := []byte{gbn.SYN, gbnN}
	chunk := make([]byte, 64<<10)

	endless := [][]byte{syn}
	for i := 0; i <= maxChunkedMessage/len(chunk); i++ {
		endless = append(endless, dataPacket(uint8(i%(gbnN+1)), false,
			false, chunk))
	}

	msg := frameMsg([]byte("a chunked message"))
	whole := [][]byte{syn,
		dataPacket(0, false, false, msg[:4]),
		dataPacket(1, false, true, nil),
		dataPacket(0, false, false, msg[:4]),
		dataPacket(2, true, false, msg[4:]),
	}

	tests := []struct {
		name string
		msgs [][]byte
		want string
	}{
		{"no final chunk", endless, ""},
		{"chunked below the bound", whole, "a chunked message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(),
				5*time.Second)
			defer cancel()
			conn, err := dialMailbox(ctx, context.Background(),
				&scriptedMailbox{msgs: tc.msgs}, "test", [64]byte{},
				func(Status) {}, func() {})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()

			type result struct {
				b   []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				b := make([]byte, 64)
				n, err := conn.Read(b)
				done <- result{b[:n], err}
			}()
			select {
			case r := <-done:
				if tc.want == "" && r.err == nil {
					t.Fatalf("read %q, want an error", r.b)
				}
				if tc.want != "" && string(r.b) != tc.want {
					t.Fatalf("read %q, %v; want %q", r.b, r.err,
						tc.want)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("read still waiting for a final chunk")
			}
		})
	}
}

// goneMailbox is a mailbox that has gone away: opening a send stream
// fails (counted), or, with block set, the stream opens and every send
// blocks until its context ends.
type goneMailbox struct {
	scriptedMailbox
	block bool
	tries atomic.Int32
}

// SendStream implements Mailbox.
func (m *goneMailbox) SendStream(ctx context.Context) (SendStream, error) {
	m.tries.Add(1)
	if m.block {
		return &blockedSend{droppingSend{ctx: ctx}}, nil
	}
	return nil, errors.New("connection refused")
}

// blockedSend is a send stream whose sends wait for its context.
type blockedSend struct{ droppingSend }

// Send implements SendStream.
func (s *blockedSend) Send(*hashmailpb.CipherBox) error {
	<-s.ctx.Done()
	return s.ctx.Err()
}

// TestGoodbyeNotHeldUpBySendLoop: go-back-n's goodbye (its FIN, sent with
// a deadline of its own while the connection closes) gets the send stream
// while the send loop retries a mailbox that is gone, or is blocked on
// one that does not read: it ends by its deadline. It waited on the loop,
// which ends only once the goodbye has, and serve's shutdown hung
// (TestRunLNCThroughOwnRelay, once in CI).
func TestGoodbyeNotHeldUpBySendLoop(t *testing.T) {
	for _, block := range []bool{false, true} {
		t.Run(fmt.Sprintf("blocked=%v", block), func(t *testing.T) {
			life, stop := context.WithCancel(context.Background())
			defer stop()
			m := &goneMailbox{block: block}
			s := &streams{client: m, report: func(Status) {}, life: life,
				sendLock: make(chan struct{}, 1)}

			// The send loop: go-back-n's context lasts until it closes.
			loop := make(chan error, 1)
			go func() { loop <- s.transmit(life, []byte("data")) }()
			for m.tries.Load() == 0 {
				time.Sleep(time.Millisecond)
			}

			fin, cancel := context.WithTimeout(context.Background(),
				200*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.transmit(fin, []byte("fin")) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("the goodbye: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the goodbye waited on the send loop")
			}
			stop()
			if err := <-loop; !errors.Is(err, context.Canceled) {
				t.Fatalf("the send loop: %v", err)
			}
		})
	}
}
