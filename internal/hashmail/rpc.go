package hashmail

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/lightninglabs/lightning-node-connect/hashmailrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Server implements the HashMail gRPC service.
var _ hashmailrpc.HashMailServer = (*Server)(nil)

// checkAuth checks the parts of a CipherBoxAuth every call needs. The only
// mechanism LNC defines, lnd_auth, carries nothing to verify: knowing the
// stream ID is the credential, as on Aperture's mailbox.
func checkAuth(auth *hashmailrpc.CipherBoxAuth) (streamID, error) {
	switch {
	case auth.GetDesc() == nil:
		return streamID{}, status.Error(codes.InvalidArgument, "cipher "+
			"box descriptor (desc) required")

	case auth.GetAuth() == nil:
		return streamID{}, status.Error(codes.InvalidArgument, "auth "+
			"required: set lnd_auth")
	}
	return parseStreamID(auth.GetDesc().GetStreamId())
}

// NewCipherBox creates a stream. A stream that exists already is refused
// with AlreadyExists, which LNC's node side expects when it reconnects.
func (s *Server) NewCipherBox(ctx context.Context,
	auth *hashmailrpc.CipherBoxAuth) (*hashmailrpc.CipherInitResp, error) {

	id, err := checkAuth(auth)
	if err != nil {
		return nil, err
	}
	if err := s.create(id, addrOf(ctx)); err != nil {
		return nil, err
	}

	return &hashmailrpc.CipherInitResp{
		Resp: &hashmailrpc.CipherInitResp_Success{
			Success: &hashmailrpc.CipherSuccess{
				Desc: auth.GetDesc(),
			},
		},
	}, nil
}

// DelCipherBox deletes a stream and ends the calls attached to it.
func (s *Server) DelCipherBox(_ context.Context,
	auth *hashmailrpc.CipherBoxAuth) (*hashmailrpc.DelCipherBoxResp, error) {

	id, err := checkAuth(auth)
	if err != nil {
		return nil, err
	}
	st, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	s.remove(st)
	return &hashmailrpc.DelCipherBoxResp{}, nil
}

// SendStream attaches as the writer of the stream named in the first
// message and queues every message the caller sends. Each message names
// the same stream, or none.
func (s *Server) SendStream(call hashmailrpc.HashMail_SendStreamServer) error {
	first, err := call.Recv()
	if err != nil {
		return err
	}
	rawID := first.GetDesc().GetStreamId()
	st, err := s.attach(rawID, false)
	if err != nil {
		return err
	}
	defer s.detach(st, false)

	ctx := call.Context()
	for box := first; ; {
		if err := checkSameStream(rawID, box); err != nil {
			return err
		}
		if err := s.put(ctx, st, box.GetMsg()); err != nil {
			return err
		}

		box, err = call.Recv()
		if errors.Is(err, io.EOF) {
			return call.SendAndClose(first.GetDesc())
		}
		if err != nil {
			return err
		}
	}
}

// checkSameStream refuses a message of a send call that names another
// stream than the call's first message.
func checkSameStream(id []byte, box *hashmailrpc.CipherBox) error {
	got := box.GetDesc().GetStreamId()
	if len(got) == 0 || bytes.Equal(got, id) {
		return nil
	}
	return status.Error(codes.InvalidArgument, "a send stream carries "+
		"one stream_id: open another call for another stream")
}

// RecvStream attaches as the reader of a stream and sends the caller every
// message written to it, until the call ends or the stream is deleted.
func (s *Server) RecvStream(desc *hashmailrpc.CipherBoxDesc,
	call hashmailrpc.HashMail_RecvStreamServer) error {

	st, err := s.attach(desc.GetStreamId(), true)
	if err != nil {
		return err
	}
	defer s.detach(st, true)

	ctx := call.Context()
	for {
		msg, err := s.next(ctx, st)
		if err != nil {
			return err
		}
		err = call.Send(&hashmailrpc.CipherBox{Desc: desc, Msg: msg})
		if err != nil {
			return err
		}
	}
}
