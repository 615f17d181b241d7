package lnc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"github.com/lightninglabs/lightning-node-connect/gbn"
)

// The go-back-n parameters of LNC's client side: the node (server side)
// runs with the same ones, and its handshake checks the window size N.
const (
	gbnN                      = gbn.DefaultN
	gbnResendMultiplier       = 5
	gbnTimeoutUpdateFrequency = 200
	gbnHandshakeTimeout       = 2 * time.Second
	gbnPingTimeout            = 7 * time.Second
	gbnPongTimeout            = 3 * time.Second
	gbnBoostPercent           = 0.5
)

// retryWait is how long a failed mailbox stream waits before it is
// opened again.
const retryWait = 2 * time.Second

// msgVersion is the version byte of the framing inside go-back-n
// messages.
const msgVersion = 0

// msgHeaderSize is a framed message's version byte and 32-bit length.
const msgHeaderSize = 1 + 4

// Status is what the mailbox said last about the client's streams.
type Status int

const (
	// StatusNotConnected: no stream is open yet, or the mailbox is not
	// reachable.
	StatusNotConnected Status = iota

	// StatusConnected: the mailbox delivered a message from the node.
	StatusConnected

	// StatusSessionNotFound: the mailbox knows no stream for this
	// session (no node listens with this phrase or these keys), or the
	// node ended the connection.
	StatusSessionNotFound

	// StatusSessionInUse: another client holds the session's stream.
	StatusSessionInUse
)

// String implements fmt.Stringer.
func (s Status) String() string {
	switch s {
	case StatusConnected:
		return "connected"
	case StatusSessionNotFound:
		return "session not found"
	case StatusSessionInUse:
		return "session in use"
	}
	return "not connected"
}

// statusOf reads a mailbox error. The hashmail protocol says which with
// the words of its messages only.
func statusOf(err error) Status {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "stream not found"):
		return StatusSessionNotFound
	case strings.Contains(msg, "stream occupied"):
		return StatusSessionInUse
	}
	return StatusNotConnected
}

// streamIDs returns the two hashmail stream IDs of a session ID: the node
// writes to the session ID itself, the client to it with the lowest bit
// of its last byte flipped.
func streamIDs(sid [64]byte) (recv, send [64]byte) {
	recv, send = sid, sid
	send[63] ^= 0x01
	return recv, send
}

// frameMsg wraps a payload for go-back-n: a version byte and the
// payload's length, big-endian.
func frameMsg(payload []byte) []byte {
	b := make([]byte, msgHeaderSize, msgHeaderSize+len(payload))
	b[0] = msgVersion
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// parseMsg reads the payload of a go-back-n message from the node.
func parseMsg(b []byte) ([]byte, error) {
	if len(b) < msgHeaderSize {
		return nil, fmt.Errorf("lnc: mailbox message of %d bytes is "+
			"shorter than its header", len(b))
	}
	if b[0] != msgVersion {
		return nil, fmt.Errorf("lnc: mailbox message version %d, want "+
			"%d", b[0], msgVersion)
	}
	n := binary.BigEndian.Uint32(b[1:msgHeaderSize])
	if uint64(n) > uint64(len(b)-msgHeaderSize) {
		return nil, fmt.Errorf("lnc: mailbox message claims %d bytes, "+
			"holds %d", n, len(b)-msgHeaderSize)
	}
	return b[msgHeaderSize : msgHeaderSize+int(n)], nil
}

// closeSendWait bounds how long closing a connection waits for the
// mailbox to confirm that it has every message sent, the goodbye last.
const closeSendWait = time.Second

// streams are the two hashmail streams of one connection: the client
// reads the node's stream and writes its own. Each is opened on first use
// and again after it fails, until its context ends.
type streams struct {
	client  Mailbox
	recvSID [64]byte
	sendSID [64]byte
	report  func(Status)

	// life bounds the send stream, which outlives go-back-n's context
	// so that its goodbye is delivered before the stream ends.
	life context.Context

	recvMu sync.Mutex
	recv   RecvStream
	chunks chunkGuard

	// sendLock (one token) holds the send stream: one message at a
	// time. It is taken with the sender's context and not held across a
	// retry's pause: go-back-n's goodbye (FIN, with its own deadline)
	// must get its turn while the send loop retries a mailbox that is
	// gone, since only the goodbye's end lets go-back-n end that loop.
	sendLock   chan struct{}
	send       SendStream
	sendCancel context.CancelFunc
}

// lockSend takes the send stream, or returns ctx's error if ctx ends
// first.
func (s *streams) lockSend(ctx context.Context) error {
	select {
	case s.sendLock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlockSend gives the send stream back.
func (s *streams) unlockSend() { <-s.sendLock }

// pause waits d, or less if ctx ends first, and says whether to go on.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// receive returns the next message the node wrote to the mailbox. It is
// go-back-n's receive function: the stream it opens lives as long as ctx,
// the go-back-n connection's.
func (s *streams) receive(ctx context.Context) ([]byte, error) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()

	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.recv == nil {
			st, err := s.client.RecvStream(ctx,
				&hashmailpb.CipherBoxDesc{StreamId: s.recvSID[:]})
			if err != nil {
				s.report(statusOf(err))
				if !pause(ctx, retryWait) {
					return nil, ctx.Err()
				}
				continue
			}
			s.recv = st
		}

		box, err := s.recv.Recv()
		if err != nil {
			s.recv = nil
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.report(statusOf(err))
			if !pause(ctx, retryWait) {
				return nil, ctx.Err()
			}
			continue
		}
		s.report(StatusConnected)
		if err := checkPacket(box.Msg); err != nil {
			return nil, err
		}
		if err := s.chunks.observe(box.Msg); err != nil {
			return nil, err
		}
		return box.Msg, nil
	}
}

// gbnDataHeaderSize is a go-back-n data packet's type, sequence number,
// final-chunk and ping bytes.
const gbnDataHeaderSize = 4

// maxChunkedMessage bounds the chunks of one go-back-n message: the
// node's messages are its Noise frames, under 64 KiB, and a mailbox
// message is at most 4 MiB (gRPC's default limit) even unchunked.
const maxChunkedMessage = 4 << 20

// chunkGuard follows the node's data packets as the gbn module does, to
// bound what it gathers for one message: gbn appends every chunk until a
// final one, however many come. It counts only the packets gbn takes,
// those in sequence after the handshake's SYN, and leaves out pings,
// which gbn does not deliver.
type chunkGuard struct {
	synced  bool
	expect  uint8
	partial int
}

// observe counts one packet from the mailbox, and refuses it when the
// message it continues grows past maxChunkedMessage.
func (g *chunkGuard) observe(b []byte) error {
	switch {
	case len(b) == 0:
		return nil

	case b[0] == gbn.SYN:
		*g = chunkGuard{synced: true}
		return nil

	case b[0] != gbn.DATA || !g.synced || b[1] != g.expect:
		return nil
	}

	g.expect = (g.expect + 1) % (gbnN + 1)
	final, ping := b[2] == gbn.TRUE, b[3] == gbn.TRUE
	switch {
	case ping:
	case final:
		g.partial = 0
	default:
		g.partial += len(b) - gbnDataHeaderSize
		if g.partial > maxChunkedMessage {
			return fmt.Errorf("lnc: the node's go-back-n message "+
				"passes %d bytes without a final chunk",
				maxChunkedMessage)
		}
	}
	return nil
}

// checkPacket refuses a go-back-n packet that the gbn module cannot parse
// safely: it reads a data packet's four header bytes after checking for
// three only, so a shorter one from the mailbox or the node would crash
// the process. An error from receive ends the go-back-n connection.
func checkPacket(b []byte) error {
	if len(b) > 0 && b[0] == gbn.DATA && len(b) < gbnDataHeaderSize {
		return fmt.Errorf("lnc: malformed go-back-n data packet of %d "+
			"bytes from the mailbox", len(b))
	}
	return nil
}

// transmit writes one message to the client's stream of the mailbox. It
// is go-back-n's send function; it retries until ctx ends, letting go of
// the send stream while it waits to retry.
func (s *streams) transmit(ctx context.Context, msg []byte) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.lockSend(ctx); err != nil {
			return err
		}
		err := s.sendOnce(ctx, msg)
		s.unlockSend()
		if err == nil {
			return nil
		}
		s.report(statusOf(err))
		if !pause(ctx, retryWait) {
			return ctx.Err()
		}
	}
}

// sendOnce writes msg on the send stream, opening one first if there is
// none; a stream that fails is given up, for the next try to open anew.
// The caller holds the send stream.
func (s *streams) sendOnce(ctx context.Context, msg []byte) error {
	if s.send == nil {
		sctx, cancel := context.WithCancel(s.life)
		st, err := s.client.SendStream(sctx)
		if err != nil {
			cancel()
			return err
		}
		s.send, s.sendCancel = st, cancel
	}

	// A send blocked (the mailbox not reading) ends with ctx: the
	// stream is given up then.
	stop := context.AfterFunc(ctx, s.sendCancel)
	err := s.send.Send(&hashmailpb.CipherBox{
		Desc: &hashmailpb.CipherBoxDesc{StreamId: s.sendSID[:]},
		Msg:  msg,
	})
	stop()
	if err != nil {
		s.sendCancel()
		s.send = nil
	}
	return err
}

// closeSend ends the send stream once the mailbox has every message sent
// on it, waiting at most closeSendWait: without it, the goodbye that
// go-back-n sends last could be lost with the stream, and the node would
// notice the end only when its keepalive timed out.
func (s *streams) closeSend() {
	_ = s.lockSend(context.Background())
	defer s.unlockSend()
	if s.send == nil {
		return
	}

	done := make(chan struct{})
	go func() {
		_, _ = s.send.CloseAndRecv()
		close(done)
	}()
	t := time.NewTimer(closeSendWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	s.sendCancel()
	<-done
	s.send = nil
}

// mailboxConn is a reliable, ordered byte stream to the node through the
// mailbox: go-back-n over the two hashmail streams. It is what the Noise
// handshake and transport run on.
type mailboxConn struct {
	gbn     *gbn.GoBackNConn
	streams *streams
	addr    string
	cancel  context.CancelFunc

	readMu  sync.Mutex
	pending []byte

	closeOnce sync.Once
	done      chan struct{}
}

// dialMailbox opens the session's streams and runs go-back-n's handshake
// with the node. It returns when the node answered, or ctx ended; life
// bounds the connection afterwards.
func dialMailbox(ctx, life context.Context, client Mailbox,
	addr string, sid [64]byte, report func(Status),
	onFIN func()) (*mailboxConn, error) {

	// go-back-n's handshake retries for as long as its context lasts:
	// tie it to the dial's context until the handshake is over.
	gctx, cancel := context.WithCancel(life)
	recvSID, sendSID := streamIDs(sid)
	s := &streams{client: client, recvSID: recvSID, sendSID: sendSID,
		report: report, life: gctx, sendLock: make(chan struct{}, 1)}

	stop := context.AfterFunc(ctx, cancel)
	conn, err := gbn.NewClientConn(gctx, gbnN, s.transmit, s.receive,
		gbn.WithTimeoutOptions(
			gbn.WithResendMultiplier(gbnResendMultiplier),
			gbn.WithTimeoutUpdateFrequency(gbnTimeoutUpdateFrequency),
			gbn.WithHandshakeTimeout(gbnHandshakeTimeout),
			gbn.WithKeepalivePing(gbnPingTimeout, gbnPongTimeout),
			gbn.WithBoostPercent(gbnBoostPercent),
		),
		gbn.WithOnFIN(onFIN),
	)
	if !stop() || err != nil {
		if err == nil {
			conn.Close()
			err = ctx.Err()
		}
		s.closeSend()
		cancel()
		return nil, fmt.Errorf("mailbox %s: %w", addr, err)
	}
	return &mailboxConn{gbn: conn, streams: s, addr: addr, cancel: cancel,
		done: make(chan struct{})}, nil
}

// Read implements net.Conn: it returns bytes of the node's messages, in
// order, however they were split.
func (m *mailboxConn) Read(b []byte) (int, error) {
	m.readMu.Lock()
	defer m.readMu.Unlock()

	for len(m.pending) == 0 {
		raw, err := m.gbn.Recv()
		if err != nil {
			return 0, fmt.Errorf("mailbox %s: %w", m.addr, err)
		}
		if m.pending, err = parseMsg(raw); err != nil {
			return 0, err
		}
	}
	n := copy(b, m.pending)
	m.pending = m.pending[n:]
	return n, nil
}

// Write implements net.Conn: b goes to the node as one message.
func (m *mailboxConn) Write(b []byte) (int, error) {
	if err := m.gbn.Send(frameMsg(b)); err != nil {
		return 0, fmt.Errorf("mailbox %s: %w", m.addr, err)
	}
	return len(b), nil
}

// Close implements net.Conn: it says goodbye to the node (go-back-n's FIN,
// tried for a second), waits for the mailbox to take it (another second
// at most) and closes the streams.
func (m *mailboxConn) Close() error {
	m.closeOnce.Do(func() {
		_ = m.gbn.Close()
		m.streams.closeSend()
		m.cancel()
		close(m.done)
	})
	return nil
}

// timeoutUntil turns a deadline into go-back-n's timeout; zero is none.
func timeoutUntil(t time.Time) time.Duration {
	if t.IsZero() {
		return math.MaxInt64
	}
	return time.Until(t)
}

// SetDeadline implements net.Conn.
func (m *mailboxConn) SetDeadline(t time.Time) error {
	m.gbn.SetRecvTimeout(timeoutUntil(t))
	m.gbn.SetSendTimeout(timeoutUntil(t))
	return nil
}

// SetReadDeadline implements net.Conn: it bounds each wait for a message.
func (m *mailboxConn) SetReadDeadline(t time.Time) error {
	m.gbn.SetRecvTimeout(timeoutUntil(t))
	return nil
}

// SetWriteDeadline implements net.Conn: it bounds each wait to queue a
// message.
func (m *mailboxConn) SetWriteDeadline(t time.Time) error {
	m.gbn.SetSendTimeout(timeoutUntil(t))
	return nil
}

// mailboxAddr is a mailbox connection's address. It names the server
// only: the session's stream ID is the credential of its mailbox.
type mailboxAddr string

// Network implements net.Addr.
func (a mailboxAddr) Network() string { return "lnc-mailbox" }

// String implements net.Addr.
func (a mailboxAddr) String() string { return string(a) }

// LocalAddr implements net.Conn.
func (m *mailboxConn) LocalAddr() net.Addr { return mailboxAddr(m.addr) }

// RemoteAddr implements net.Conn.
func (m *mailboxConn) RemoteAddr() net.Addr { return mailboxAddr(m.addr) }

// errClosed is returned by a Client used after Close.
var errClosed = errors.New("lnc: client closed")
