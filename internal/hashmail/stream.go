package hashmail

import (
	"context"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// streamIDLen is the length of a stream ID: LNC derives each one with
// SHA-512, and the two directions of a session differ in the last bit.
const streamIDLen = 64

// streamID names a stream. Knowing it is what lets a client read or write
// the stream, so it is never logged.
type streamID [streamIDLen]byte

// parseStreamID checks a stream ID from the wire.
func parseStreamID(b []byte) (streamID, error) {
	var id streamID
	if len(b) != streamIDLen {
		return id, status.Errorf(codes.InvalidArgument, "stream_id "+
			"must be %d bytes, got %d", streamIDLen, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// stream is a one-way pipe of messages with at most one reader and one
// writer attached at a time. Messages wait in a bounded queue.
type stream struct {
	id    streamID
	owner string // the address that created it

	queue   chan []byte
	limiter *rate.Limiter

	// ctx ends when the stream is deleted.
	ctx    context.Context
	cancel context.CancelFunc

	// The fields below are guarded by Server.mu. stale is nil when
	// idle streams are kept for ever.
	reading bool
	writing bool
	stale   *time.Timer
}

// create makes a new stream for a creator's address.
func (s *Server) create(id streamID, addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	switch {
	case s.closed:
		return errClosed

	case s.streams[id] != nil:
		return status.Error(codes.AlreadyExists, "stream already "+
			"exists")

	case len(s.streams) >= s.cfg.MaxStreams:
		return status.Errorf(codes.ResourceExhausted, "the relay "+
			"holds its maximum of %d streams: try again later",
			s.cfg.MaxStreams)

	case s.perAddr[addr] >= s.cfg.MaxStreamsPerAddr:
		return status.Errorf(codes.ResourceExhausted, "%s already "+
			"created %d streams, the most one address may have: "+
			"delete unused ones", addr, s.cfg.MaxStreamsPerAddr)
	}

	ctx, cancel := context.WithCancel(s.ctx)
	st := &stream{
		id:    id,
		owner: addr,
		queue: make(chan []byte, s.cfg.QueueLen),
		limiter: rate.NewLimiter(rate.Every(s.cfg.MsgInterval),
			s.cfg.MsgBurst),
		ctx:    ctx,
		cancel: cancel,
	}
	if s.cfg.StaleTimeout > 0 {
		st.stale = time.AfterFunc(s.cfg.StaleTimeout, func() {
			s.removeIfIdle(st)
		})
	}
	s.streams[id] = st
	s.perAddr[addr]++
	return nil
}

// lookup returns the stream with an ID, or errNotFound.
func (s *Server) lookup(id streamID) (*stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	st := s.streams[id]
	if st == nil {
		return nil, errNotFound
	}
	return st, nil
}

// remove deletes a stream: the calls attached to it end, and the messages
// still queued are dropped. Removing a removed stream does nothing.
func (s *Server) remove(st *stream) {
	s.mu.Lock()
	if s.streams[st.id] != st {
		s.mu.Unlock()
		return
	}
	delete(s.streams, st.id)
	if s.perAddr[st.owner]--; s.perAddr[st.owner] <= 0 {
		delete(s.perAddr, st.owner)
	}
	if st.stale != nil {
		st.stale.Stop()
	}
	s.mu.Unlock()

	st.cancel()
	s.drain(st)
}

// removeIfIdle deletes a stream that has neither reader nor writer.
func (s *Server) removeIfIdle(st *stream) {
	s.mu.Lock()
	idle := !st.reading && !st.writing
	s.mu.Unlock()

	if idle {
		s.remove(st)
	}
}

// drain empties a deleted stream's queue and returns its bytes to the
// budget. Every queued message is received exactly once, by a reader or
// by drain, so the budget stays exact.
func (s *Server) drain(st *stream) {
	for {
		select {
		case msg := <-st.queue:
			s.budget.Release(int64(len(msg)))
		default:
			return
		}
	}
}

// attach claims the read or the write side of a stream. A side already
// claimed is refused with words LNC's client recognises ("stream
// occupied").
func (s *Server) attach(rawID []byte, read bool) (*stream, error) {
	id, err := parseStreamID(rawID)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	st := s.streams[id]
	switch {
	case s.closed:
		return nil, errClosed

	case st == nil:
		return nil, errNotFound

	case read && st.reading:
		return nil, status.Error(codes.FailedPrecondition, "read "+
			"stream occupied: another client reads it")

	case !read && st.writing:
		return nil, status.Error(codes.FailedPrecondition, "write "+
			"stream occupied: another client writes it")
	}

	if read {
		st.reading = true
	} else {
		st.writing = true
	}
	if st.stale != nil {
		st.stale.Stop()
	}
	return st, nil
}

// detach gives up the side of a stream that attach claimed. A stream left
// with neither side is deleted after the stale timeout.
func (s *Server) detach(st *stream, read bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if read {
		st.reading = false
	} else {
		st.writing = false
	}
	if !st.reading && !st.writing && s.streams[st.id] == st &&
		st.stale != nil {

		st.stale.Reset(s.cfg.StaleTimeout)
	}
}

// putTimeout bounds the wait to queue one message.
const putTimeout = 10 * time.Second

// put queues one message on a stream for its reader. It waits for the
// stream's rate, for room in the buffer and in the queue, at most
// putTimeout and until the stream is deleted. A message received is
// queued even when its sender hangs up just after sending it: LNC's last
// message before it hangs up is its goodbye (FIN), and without it the
// other side waits for its keepalive to time out before it takes a new
// connection.
func (s *Server) put(ctx context.Context, st *stream, msg []byte) error {
	if len(msg) > s.cfg.MaxMsgSize {
		return status.Errorf(codes.ResourceExhausted, "message of %d "+
			"bytes is larger than the relay's maximum of %d",
			len(msg), s.cfg.MaxMsgSize)
	}

	// Whatever we wait for, the stream's deletion ends the wait.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx),
		putTimeout)
	defer cancel()
	stop := context.AfterFunc(st.ctx, cancel)
	defer stop()

	if err := st.limiter.Wait(ctx); err != nil {
		return s.endErr(ctx, st)
	}
	if err := s.budget.Acquire(ctx, int64(len(msg))); err != nil {
		return s.endErr(ctx, st)
	}

	select {
	case st.queue <- msg:
	case <-ctx.Done():
		s.budget.Release(int64(len(msg)))
		return s.endErr(ctx, st)
	}

	// A message queued as the stream was deleted must not hold on to
	// its bytes.
	if st.ctx.Err() != nil {
		s.drain(st)
		return errNotFound
	}
	return nil
}

// next waits for the next message on a stream.
func (s *Server) next(ctx context.Context, st *stream) ([]byte, error) {
	select {
	case msg := <-st.queue:
		s.budget.Release(int64(len(msg)))
		return msg, nil

	case <-ctx.Done():
		return nil, s.endErr(ctx, st)

	case <-st.ctx.Done():
		return nil, s.endErr(ctx, st)
	}
}

// endErr says why a wait on a stream ended: the server closed, the stream
// was deleted, or the call itself ended.
func (s *Server) endErr(ctx context.Context, st *stream) error {
	switch {
	case s.ctx.Err() != nil:
		return errClosed
	case st.ctx.Err() != nil:
		return errNotFound
	}
	return status.FromContextError(ctx.Err()).Err()
}
