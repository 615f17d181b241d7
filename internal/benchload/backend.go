package benchload

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/grpc"
)

// Body is what the backend answers every HTTP request with: 1 KiB.
var Body = strings.Repeat("x", 1024)

// EchoMethod is the backend's one gRPC method: it answers an
// lndrpc.PayReqString with the same message (any small message would
// do; this one is already compiled in).
const EchoMethod = "/bench.Echo/Call"

// RunBackend serves the backend until the process ends: HTTP/1.1 and
// h2c on one port, gRPC on another. It prints "backend HTTP GRPC" with
// both addresses on out once both listen.
func RunBackend(out io.Writer) error {
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g := grpc.NewServer(grpc.UnknownServiceHandler(echo))
	go func() { _ = g.Serve(gl) }()

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, Body)
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	fmt.Fprintf(out, "backend %s %s\n", hl.Addr(), gl.Addr())
	return srv.Serve(hl)
}

// echo answers EchoMethod.
func echo(_ any, stream grpc.ServerStream) error {
	msg := &lndrpc.PayReqString{}
	if err := stream.RecvMsg(msg); err != nil {
		return err
	}
	return stream.SendMsg(msg)
}
