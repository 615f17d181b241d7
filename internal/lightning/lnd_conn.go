package lightning

import (
	"context"
	"encoding/pem"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// lazyConn is lnd's gRPC connection, made on the first call: a command
// that never calls lnd (a cached `l402 fetch`, whose token is in the
// store) then parses no certificate and starts none of gRPC's
// goroutines. It implements grpc.ClientConnInterface.
type lazyConn struct {
	dial func() (*grpc.ClientConn, error)

	mu     sync.Mutex
	conn   *grpc.ClientConn
	err    error
	closed bool
}

// Lazy connections must implement grpc.ClientConnInterface.
var _ grpc.ClientConnInterface = (*lazyConn)(nil)

// errConnClosed is a call made after Close, as gRPC answers one on a
// closed connection.
var errConnClosed = status.Error(codes.Canceled,
	"grpc: the client connection is closing")

// get returns the connection, making it on the first call; a failure to
// make it is returned to every call.
func (c *lazyConn) get() (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errConnClosed
	}
	if c.conn == nil && c.err == nil {
		c.conn, c.err = c.dial()
	}
	return c.conn, c.err
}

// Invoke implements grpc.ClientConnInterface.
func (c *lazyConn) Invoke(ctx context.Context, method string, args,
	reply any, opts ...grpc.CallOption) error {

	conn, err := c.get()
	if err != nil {
		return err
	}
	return conn.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (c *lazyConn) NewStream(ctx context.Context, desc *grpc.StreamDesc,
	method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {

	conn, err := c.get()
	if err != nil {
		return nil, err
	}
	return conn.NewStream(ctx, desc, method, opts...)
}

// Close closes the connection if one was made; later calls fail.
func (c *lazyConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// hasPEMCertificate reports whether b holds a PEM block that
// x509.CertPool.AppendCertsFromPEM would try as a certificate: the
// cheap check NewLnd makes at once, the parse waiting for the first call.
func hasPEMCertificate(b []byte) bool {
	for len(b) > 0 {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" && len(block.Headers) == 0 {
			return true
		}
	}
	return false
}
