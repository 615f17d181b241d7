package hashmail

import (
	"context"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"google.golang.org/grpc"
)

// hashMailServer is what the relay answers: the HashMail service's four
// methods, with hashmailpb's messages.
type hashMailServer interface {
	NewCipherBox(context.Context, *hashmailpb.CipherBoxAuth) (
		*hashmailpb.CipherInitResp, error)
	DelCipherBox(context.Context, *hashmailpb.CipherBoxAuth) (
		*hashmailpb.DelCipherBoxResp, error)
	SendStream(grpc.ServerStream) error
	RecvStream(*hashmailpb.CipherBoxDesc, grpc.ServerStream) error
}

// hashMailService describes the HashMail service to gRPC under
// hashmailrpc's name, so that its paths are those LNC's node side and
// clients call. The relay's grpc.Server is made in New with no
// interceptors, so gRPC passes the unary handlers none.
var hashMailService = grpc.ServiceDesc{
	ServiceName: hashmailpb.ServiceName,
	HandlerType: (*hashMailServer)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "NewCipherBox", Handler: newCipherBoxHandler},
		{MethodName: "DelCipherBox", Handler: delCipherBoxHandler},
	},
	Streams: []grpc.StreamDesc{
		{StreamName: "SendStream", Handler: sendStreamHandler,
			ClientStreams: true},
		{StreamName: "RecvStream", Handler: recvStreamHandler,
			ServerStreams: true},
	},
	Metadata: "hashmailpb.proto",
}

// newCipherBoxHandler decodes a NewCipherBox call for the relay.
func newCipherBoxHandler(srv any, ctx context.Context, dec func(any) error,
	_ grpc.UnaryServerInterceptor) (any, error) {

	auth := &hashmailpb.CipherBoxAuth{}
	if err := dec(auth); err != nil {
		return nil, err
	}
	return srv.(hashMailServer).NewCipherBox(ctx, auth)
}

// delCipherBoxHandler decodes a DelCipherBox call for the relay.
func delCipherBoxHandler(srv any, ctx context.Context, dec func(any) error,
	_ grpc.UnaryServerInterceptor) (any, error) {

	auth := &hashmailpb.CipherBoxAuth{}
	if err := dec(auth); err != nil {
		return nil, err
	}
	return srv.(hashMailServer).DelCipherBox(ctx, auth)
}

// sendStreamHandler hands a SendStream call to the relay.
func sendStreamHandler(srv any, call grpc.ServerStream) error {
	return srv.(hashMailServer).SendStream(call)
}

// recvStreamHandler reads a RecvStream call's one request and hands the
// call to the relay.
func recvStreamHandler(srv any, call grpc.ServerStream) error {
	desc := &hashmailpb.CipherBoxDesc{}
	if err := call.RecvMsg(desc); err != nil {
		return err
	}
	return srv.(hashMailServer).RecvStream(desc, call)
}
