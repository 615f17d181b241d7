package lnc

import (
	"context"
	"fmt"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"google.golang.org/grpc"
)

// Mailbox is the part of the mailbox server's HashMail service that the
// client calls: it reads the node's stream and writes its own.
type Mailbox interface {
	// RecvStream opens the read side of the stream desc names.
	RecvStream(ctx context.Context, desc *hashmailpb.CipherBoxDesc) (
		RecvStream, error)

	// SendStream opens a write side; each message names its stream.
	SendStream(ctx context.Context) (SendStream, error)
}

// RecvStream is the read side of a hashmail stream.
type RecvStream interface {
	// Recv returns the next message written to the stream.
	Recv() (*hashmailpb.CipherBox, error)
}

// SendStream is the write side of a hashmail stream.
type SendStream interface {
	// Send writes one message.
	Send(*hashmailpb.CipherBox) error

	// CloseAndRecv ends the writes and waits for the mailbox's answer,
	// which it gives once it holds every message sent.
	CloseAndRecv() (*hashmailpb.CipherBoxDesc, error)
}

// NewMailbox returns the HashMail client of a gRPC connection to a
// mailbox server. It calls the service's methods by their full names, as
// hashmailrpc's generated client does, with l402's own messages.
func NewMailbox(cc grpc.ClientConnInterface) Mailbox {
	return grpcMailbox{cc: cc}
}

// grpcMailbox is the Mailbox over a gRPC connection.
type grpcMailbox struct {
	cc grpc.ClientConnInterface
}

// RecvStream implements Mailbox: a server-streaming call whose one
// request is desc.
func (m grpcMailbox) RecvStream(ctx context.Context,
	desc *hashmailpb.CipherBoxDesc) (RecvStream, error) {

	cs, err := m.cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true},
		hashmailpb.MethodRecvStream)
	if err != nil {
		return nil, fmt.Errorf("hashmail RecvStream: %w", err)
	}
	if err := cs.SendMsg(desc); err != nil {
		return nil, fmt.Errorf("hashmail RecvStream: %w", err)
	}
	if err := cs.CloseSend(); err != nil {
		return nil, fmt.Errorf("hashmail RecvStream: %w", err)
	}
	return grpcStream{cs}, nil
}

// SendStream implements Mailbox: a client-streaming call.
func (m grpcMailbox) SendStream(ctx context.Context) (SendStream, error) {
	cs, err := m.cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true},
		hashmailpb.MethodSendStream)
	if err != nil {
		return nil, fmt.Errorf("hashmail SendStream: %w", err)
	}
	return grpcStream{cs}, nil
}

// grpcStream is either side of a hashmail stream over one gRPC call.
type grpcStream struct {
	cs grpc.ClientStream
}

// Recv implements RecvStream.
func (s grpcStream) Recv() (*hashmailpb.CipherBox, error) {
	box := &hashmailpb.CipherBox{}
	if err := s.cs.RecvMsg(box); err != nil {
		return nil, err
	}
	return box, nil
}

// Send implements SendStream.
func (s grpcStream) Send(box *hashmailpb.CipherBox) error {
	return s.cs.SendMsg(box)
}

// CloseAndRecv implements SendStream.
func (s grpcStream) CloseAndRecv() (*hashmailpb.CipherBoxDesc, error) {
	if err := s.cs.CloseSend(); err != nil {
		return nil, err
	}
	desc := &hashmailpb.CipherBoxDesc{}
	if err := s.cs.RecvMsg(desc); err != nil {
		return nil, err
	}
	return desc, nil
}
