package hashmail

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Server implements the HashMail gRPC service.
var _ hashMailServer = (*Server)(nil)

// checkAuth checks the parts of a CipherBoxAuth every call needs. The only
// mechanism LNC defines, lnd_auth, carries nothing to verify: knowing the
// stream ID is the credential, as on Aperture's mailbox.
func checkAuth(auth *hashmailpb.CipherBoxAuth) (streamID, error) {
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
	auth *hashmailpb.CipherBoxAuth) (*hashmailpb.CipherInitResp, error) {

	id, err := checkAuth(auth)
	if err != nil {
		return nil, err
	}
	if err := s.create(id, addrOf(ctx)); err != nil {
		return nil, err
	}

	return &hashmailpb.CipherInitResp{
		Resp: &hashmailpb.CipherInitResp_Success{
			Success: &hashmailpb.CipherSuccess{
				Desc: auth.GetDesc(),
			},
		},
	}, nil
}

// DelCipherBox deletes a stream and ends the calls attached to it.
func (s *Server) DelCipherBox(_ context.Context,
	auth *hashmailpb.CipherBoxAuth) (*hashmailpb.DelCipherBoxResp, error) {

	id, err := checkAuth(auth)
	if err != nil {
		return nil, err
	}
	st, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	s.remove(st)
	return &hashmailpb.DelCipherBoxResp{}, nil
}

// SendStream attaches as the writer of the stream named in the first
// message and queues every message the caller sends. Each message names
// the same stream, or none.
func (s *Server) SendStream(call grpc.ServerStream) error {
	first := &hashmailpb.CipherBox{}
	if err := call.RecvMsg(first); err != nil {
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

		box = &hashmailpb.CipherBox{}
		err := call.RecvMsg(box)
		if errors.Is(err, io.EOF) {
			return call.SendMsg(first.GetDesc())
		}
		if err != nil {
			return err
		}
	}
}

// checkSameStream refuses a message of a send call that names another
// stream than the call's first message.
func checkSameStream(id []byte, box *hashmailpb.CipherBox) error {
	got := box.GetDesc().GetStreamId()
	if len(got) == 0 || bytes.Equal(got, id) {
		return nil
	}
	return status.Error(codes.InvalidArgument, "a send stream carries "+
		"one stream_id: open another call for another stream")
}

// RecvStream attaches as the reader of a stream and sends the caller every
// message written to it, until the call ends or the stream is deleted.
func (s *Server) RecvStream(desc *hashmailpb.CipherBoxDesc,
	call grpc.ServerStream) error {

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
		err = call.SendMsg(&hashmailpb.CipherBox{Desc: desc, Msg: msg})
		if err != nil {
			return err
		}
	}
}
