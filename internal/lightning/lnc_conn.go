package lightning

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// lockedCreds are LNC's noise transport credentials with the connection
// they hand gRPC wrapped in lockedDeadlines. gRPC's transport may close a
// connection from two goroutines at once (its reader, and
// ClientConn.Close), and each sets a write deadline; mailbox v1.0.1's
// connection stores deadlines without a lock, a data race that -race
// reports.
type lockedCreds struct {
	credentials.TransportCredentials
}

// ClientHandshake implements credentials.TransportCredentials.
func (c lockedCreds) ClientHandshake(ctx context.Context, authority string,
	raw net.Conn) (net.Conn, credentials.AuthInfo, error) {

	conn, info, err := c.TransportCredentials.ClientHandshake(ctx,
		authority, raw)
	if err != nil {
		return nil, nil, err
	}
	return &lockedDeadlines{Conn: conn}, info, nil
}

// Clone implements credentials.TransportCredentials.
func (c lockedCreds) Clone() credentials.TransportCredentials {
	return lockedCreds{c.TransportCredentials.Clone()}
}

// lockedDeadlines is a connection whose deadlines are set one at a time.
type lockedDeadlines struct {
	net.Conn
	mu sync.Mutex
}

// SetDeadline implements net.Conn.
func (l *lockedDeadlines) SetDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Conn.SetDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (l *lockedDeadlines) SetReadDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Conn.SetReadDeadline(t)
}

// SetWriteDeadline implements net.Conn.
func (l *lockedDeadlines) SetWriteDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Conn.SetWriteDeadline(t)
}
