package lnc

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lightninglabs/lightning-node-connect/gbn"
	"github.com/lightninglabs/lightning-node-connect/hashmailrpc"
	"google.golang.org/grpc"
)

// scriptedMailbox is a hostile mailbox: its receive stream hands the
// client the scripted messages, then blocks until the stream's context
// ends; whatever the client sends is taken and dropped.
type scriptedMailbox struct {
	hashmailrpc.HashMailClient
	msgs [][]byte
}

// RecvStream implements hashmailrpc.HashMailClient.
func (m *scriptedMailbox) RecvStream(ctx context.Context,
	_ *hashmailrpc.CipherBoxDesc, _ ...grpc.CallOption) (
	hashmailrpc.HashMail_RecvStreamClient, error) {

	return &scriptedRecv{ctx: ctx, msgs: m.msgs}, nil
}

// SendStream implements hashmailrpc.HashMailClient.
func (m *scriptedMailbox) SendStream(ctx context.Context,
	_ ...grpc.CallOption) (hashmailrpc.HashMail_SendStreamClient, error) {

	return &droppingSend{ctx: ctx}, nil
}

// scriptedRecv is scriptedMailbox's receive stream.
type scriptedRecv struct {
	grpc.ClientStream
	ctx  context.Context
	msgs [][]byte
}

// Recv implements hashmailrpc.HashMail_RecvStreamClient.
func (r *scriptedRecv) Recv() (*hashmailrpc.CipherBox, error) {
	if len(r.msgs) == 0 {
		<-r.ctx.Done()
		return nil, r.ctx.Err()
	}
	msg := r.msgs[0]
	r.msgs = r.msgs[1:]
	return &hashmailrpc.CipherBox{Msg: msg}, nil
}

// droppingSend is scriptedMailbox's send stream.
type droppingSend struct {
	grpc.ClientStream
	ctx context.Context
}

// Send implements hashmailrpc.HashMail_SendStreamClient.
func (s *droppingSend) Send(*hashmailrpc.CipherBox) error { return s.ctx.Err() }

// CloseAndRecv implements hashmailrpc.HashMail_SendStreamClient.
func (s *droppingSend) CloseAndRecv() (*hashmailrpc.CipherBoxDesc, error) {
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
