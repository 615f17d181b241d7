// Package hashmail is a mailbox relay for Lightning Node Connect: the
// HashMail service (hashmailpb.HashMail) over gRPC and over the websocket paths that
// LNC's browser and Go clients dial, with every resource bounded.
package hashmail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// The defaults of Config. LNC sends a go-back-n packet of at most about
// 64 KiB per message and acknowledges each one, so one busy session passes
// tens of messages a second; the limits leave room for that and no more.
const (
	DefaultMsgInterval       = 10 * time.Millisecond
	DefaultMsgBurst          = 200
	DefaultMaxMsgSize        = 128 << 10
	DefaultQueueLen          = 32
	DefaultMaxBuffered       = 64 << 20
	DefaultMaxStreams        = 2000
	DefaultMaxStreamsPerAddr = 64
	DefaultStaleTimeout      = time.Hour
)

// The paths the relay answers. LNC's clients open the read and write side
// of a stream as websockets on ReceivePath and SendPath (the paths of the
// grpc-gateway that Aperture's mailbox has); the node side and other gRPC
// clients call the HashMail service under GRPCPathPrefix.
const (
	ReceivePath    = "/v1/lightning-node-connect/hashmail/receive"
	SendPath       = "/v1/lightning-node-connect/hashmail/send"
	GRPCPathPrefix = "/" + hashmailpb.ServiceName + "/"
)

// Config bounds the relay. A zero field takes its default. The first
// three match Aperture's hashmail settings (messagerate,
// messageburstallowance, staletimeout).
type Config struct {
	// MsgInterval is the average time between two messages of one
	// stream, and MsgBurst how many messages it may pass at once. A
	// writer beyond that rate waits.
	MsgInterval time.Duration
	MsgBurst    int

	// MaxMsgSize is the largest message in bytes; a larger one ends
	// the sending call with ResourceExhausted.
	MaxMsgSize int

	// QueueLen is how many messages one stream holds for its reader
	// before its writer waits.
	QueueLen int

	// MaxBuffered bounds, in bytes, the messages held for readers
	// across all streams; writers wait while it is used up.
	MaxBuffered int64

	// MaxStreams bounds the streams (cipher boxes) that exist at once,
	// and MaxStreamsPerAddr those created from one IP address. An LNC
	// session uses two.
	MaxStreams        int
	MaxStreamsPerAddr int

	// StaleTimeout is how long a stream may exist with neither a
	// reader nor a writer attached before it is deleted; a negative
	// one never deletes idle streams.
	StaleTimeout time.Duration

	// PingInterval pings each receiving websocket that often, and
	// PongWait (default half the interval) closes one whose pong is
	// later, so that a reader gone silent behind a proxy is noticed and
	// idle connections stay open through load balancers (Aperture's
	// wspinginterval and wspongwait). Zero sends no pings. A sending
	// websocket is not pinged: LNC's client only writes to it and never
	// reads a pong, and its own messages keep it from being idle.
	PingInterval time.Duration
	PongWait     time.Duration
}

// withDefaults returns the config with every zero field set to its
// default, or an error naming the first field that is out of range.
func (c Config) withDefaults() (Config, error) {
	if c.MsgInterval == 0 {
		c.MsgInterval = DefaultMsgInterval
	}
	setInt(&c.MsgBurst, DefaultMsgBurst)
	setInt(&c.MaxMsgSize, DefaultMaxMsgSize)
	setInt(&c.QueueLen, DefaultQueueLen)
	setInt(&c.MaxStreams, DefaultMaxStreams)
	setInt(&c.MaxStreamsPerAddr, DefaultMaxStreamsPerAddr)
	if c.MaxBuffered == 0 {
		c.MaxBuffered = DefaultMaxBuffered
	}
	if c.StaleTimeout == 0 {
		c.StaleTimeout = DefaultStaleTimeout
	}
	if c.PingInterval > 0 && c.PongWait <= 0 {
		c.PongWait = c.PingInterval / 2
	}

	switch {
	case c.MsgInterval < 0 || c.MsgBurst < 0 || c.MaxMsgSize < 0 ||
		c.QueueLen < 0 || c.MaxStreams < 0 || c.MaxStreamsPerAddr < 0 ||
		c.MaxBuffered < 0 || c.PingInterval < 0:
		return c, errors.New("hashmail: a limit is negative: give a " +
			"positive value, or zero for the default")

	case int64(c.MaxMsgSize) > c.MaxBuffered:
		return c, fmt.Errorf("hashmail: the largest message (%d bytes) "+
			"does not fit in the buffer (%d bytes): raise the "+
			"buffer or lower the message size", c.MaxMsgSize,
			c.MaxBuffered)
	}
	return c, nil
}

// setInt sets *v to def when it is zero.
func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// Server is the relay. Its exported RPC methods implement
// the HashMail service (service.go); Handler serves them and the websocket paths.
type Server struct {
	cfg    Config
	grpc   *grpc.Server
	budget *semaphore.Weighted

	// ctx ends when the server closes.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	streams map[streamID]*stream
	perAddr map[string]int
	closed  bool
}

// New returns a relay with the given limits.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:     cfg,
		budget:  semaphore.NewWeighted(cfg.MaxBuffered),
		ctx:     ctx,
		cancel:  cancel,
		streams: make(map[streamID]*stream),
		perAddr: make(map[string]int),
	}

	// A message travels inside a CipherBox with its 64-byte stream ID.
	s.grpc = grpc.NewServer(grpc.MaxRecvMsgSize(cfg.MaxMsgSize + 1024))
	s.grpc.RegisterService(&hashMailService, s)
	return s, nil
}

// IsRelayRequest reports whether an HTTP request is for the relay: a call
// of the HashMail gRPC service or one of its websocket paths. A server that
// shares its listener with the relay routes by it.
func IsRelayRequest(r *http.Request) bool {
	switch r.URL.Path {
	case ReceivePath, SendPath:
		return true
	}
	return strings.HasPrefix(r.URL.Path, GRPCPathPrefix)
}

// Handler serves the relay over HTTP: gRPC calls (HTTP/2, so the server
// must offer h2, as a TLS http.Server does) and the two websocket paths.
// Anything else is 404.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, GRPCPathPrefix):
			s.grpc.ServeHTTP(w, r)

		case r.URL.Path == ReceivePath:
			s.serveReceive(w, r)

		case r.URL.Path == SendPath:
			s.serveSend(w, r)

		default:
			http.NotFound(w, r)
		}
	})
}

// Serve serves the HashMail gRPC service alone on a listener, for a relay
// that has an address of its own; it returns when the server closes.
func (s *Server) Serve(l net.Listener) error { return s.grpc.Serve(l) }

// Close deletes every stream, which ends the calls attached to them, and
// stops the gRPC server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	streams := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()

	for _, st := range streams {
		s.remove(st)
	}
	s.cancel()
	s.grpc.Stop()
}

// NumStreams returns how many streams exist now.
func (s *Server) NumStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// addrOf returns the IP address of a gRPC call's peer, or "" when unknown.
func addrOf(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	return hostOnly(p.Addr.String())
}

// hostOnly strips the port from host:port.
func hostOnly(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// errNotFound is the error for an unknown stream. LNC's client reads the
// words "stream not found" to tell its user that the session is gone.
var errNotFound = status.Error(codes.NotFound, "stream not found: the "+
	"session ended or the pairing phrase is wrong")

// errClosed is the error of calls that the server's closing ended.
var errClosed = status.Error(codes.Unavailable, "mailbox relay is shutting "+
	"down: reconnect later")
