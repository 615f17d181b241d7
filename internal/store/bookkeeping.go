package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A token's root key is derived from the shared secret (RootKeySecret),
// so that no key need be stored for it to verify. The row a challenge
// writes, its pending transaction (an L402 token's, or a Payment charge's
// or session deposit's invoice), is the admin API's, and tells that a
// token was issued here (TokenIssuance); a paid token whose row is
// missing is taken on its settled invoice, so the row protects no money
// once its invoice is paid. So the challenge does not wait for it:
// RecordToken queues the row and returns; a loop writes the rows queued
// in one transaction (one multi-row INSERT per bookChunk rows, prepared
// once), after waiting up to bookLinger for more, so that a commit, and
// SQLite's sync, is shared by the challenges of that while. The price: a
// row is in the database up to bookLinger after its 402 was sent (this
// process's readers of the rows flush the queue first, Flush), and a
// crash of the process loses the rows still queued; a failed write is
// reported, never dropped unsaid (SetBookkeepingFailureHandler).

const (
	// bookLinger is how long the loop waits, after the first row of a
	// batch, for more.
	bookLinger = 250 * time.Millisecond

	// maxBookBatch bounds the rows one commit holds, and bookChunk the
	// rows one INSERT holds (8 placeholders a row).
	maxBookBatch = 256
	bookChunk    = 64

	// maxBookQueued bounds the rows waiting: past it, a challenge waits
	// for room, so that a database that cannot keep up slows minting
	// rather than losing rows.
	maxBookQueued = 4096
)

// bookItem is a queued transaction row, or, with flushed set, a
// barrier: flushed is closed once every row queued before it is written
// (or reported failed).
type bookItem struct {
	key         [32]byte
	tokenID     [32]byte
	paymentHash [32]byte
	service     string
	priceSat    int64
	scheme      string
	addIndex    uint64
	createdAt   int64
	flushed     chan struct{}
}

// bookQueue is the queue of bookkeeping rows and its loop.
type bookQueue struct {
	once sync.Once

	// mu guards closed and sends on items: Close takes it to close
	// items once no sender is in the middle of one.
	mu     sync.RWMutex
	closed bool
	items  chan bookItem
	done   chan struct{}

	// pending counts the rows queued and not yet written or failed.
	pending atomic.Int64

	// failed is the failure handler (SetBookkeepingFailureHandler).
	failed atomic.Pointer[func(rows int, err error)]
}

// started returns q, starting its loop on first use.
func (q *bookQueue) started(s *Store) *bookQueue {
	q.once.Do(func() {
		q.items = make(chan bookItem, maxBookQueued)
		q.done = make(chan struct{})
		go q.run(s)
	})
	return q
}

// SetBookkeepingFailureHandler makes f the one told of every bookkeeping
// row not written (its count and why), for a log line and a metric;
// without one, failures are logged with slog's default logger.
func (s *Store) SetBookkeepingFailureHandler(f func(rows int, err error)) {
	s.book.failed.Store(&f)
}

// fail reports rows bookkeeping rows not written.
func (q *bookQueue) fail(s *Store, rows int, err error) {
	if f := q.failed.Load(); f != nil {
		(*f)(rows, err)
		return
	}
	slog.Error("bookkeeping rows not written", "store", s.name,
		"rows", rows, "err", err)
}

// RecordToken queues the pending transaction of a newly minted token for
// the admin API, and returns without waiting for it to be written: the
// token's root key is derived (RootKeySecret), and the row, which tells
// that the token was issued here (TokenIssuance), is not needed once the
// token is paid: a paid token whose row was lost is taken on its settled
// invoice. It waits only while maxBookQueued rows are queued. A row not
// written (a database error, a closed store, or ctx ended while it waited
// for room) goes to the failure handler; a duplicate is already there.
func (s *Store) RecordToken(ctx context.Context, m Minted) {
	key, err := m.ID.Key()
	if err != nil {
		s.book.fail(s, 1, err)
		return
	}
	scheme := m.Scheme
	if scheme == "" {
		scheme = SchemeL402
	}
	s.record(ctx, bookItem{key: key, tokenID: m.ID.TokenID,
		paymentHash: m.ID.PaymentHash, service: m.Service,
		priceSat: m.PriceSat, scheme: scheme, addIndex: m.AddIndex,
		createdAt: m.CreatedAt.Unix()})
}

// record queues it, reporting it failed when it cannot be.
func (s *Store) record(ctx context.Context, it bookItem) {
	if err := s.book.started(s).send(ctx, it); err != nil {
		s.book.fail(s, 1, fmt.Errorf("%s: the transaction of invoice %x "+
			"was not queued: %w", s.name, it.paymentHash, err))
	}
}

// send queues it (counted in pending when a row), unless q is closed or
// ctx ends while the queue is full.
func (q *bookQueue) send(ctx context.Context, it bookItem) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return fmt.Errorf("the store is closed")
	}
	if it.flushed == nil {
		q.pending.Add(1)
	}
	// Room first: a context that has ended does not drop a row there
	// is room for.
	select {
	case q.items <- it:
		return nil
	default:
	}
	select {
	case q.items <- it:
		return nil
	case <-ctx.Done():
		if it.flushed == nil {
			q.pending.Add(-1)
		}
		return ctx.Err()
	}
}

// Flush returns once every bookkeeping row this process queued before the
// call is written or reported failed, so that a reader of the rows here
// sees every challenge sent before it. Other replicas see a row up to
// bookLinger after its challenge.
func (s *Store) Flush(ctx context.Context) error {
	q := &s.book
	if q.pending.Load() == 0 {
		return nil
	}
	b := bookItem{flushed: make(chan struct{})}
	if err := q.send(ctx, b); err != nil {
		// ctx ended, or the store is closed: Close wrote or reported
		// every row.
		return ctx.Err()
	}
	select {
	case <-b.flushed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close writes the rows queued and stops the loop; no row is queued
// after it.
func (q *bookQueue) close() {
	q.once.Do(func() {})
	q.mu.Lock()
	if q.closed || q.items == nil {
		q.closed = true
		q.mu.Unlock()
		return
	}
	q.closed = true
	close(q.items)
	q.mu.Unlock()
	<-q.done
}

// run writes the queued rows, a batch at a time, until items is closed
// and drained.
func (q *bookQueue) run(s *Store) {
	defer close(q.done)
	linger := time.NewTimer(bookLinger)
	linger.Stop()
	var rows []bookItem
	var barriers []chan struct{}
	for {
		it, ok := <-q.items
		if !ok {
			return
		}
		open := true
		rows, barriers = take(rows, barriers, it)
		linger.Reset(bookLinger)
	fill:
		for len(barriers) == 0 && len(rows) < maxBookBatch {
			select {
			case it, ok := <-q.items:
				if !ok {
					open = false
					break fill
				}
				rows, barriers = take(rows, barriers, it)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		if len(rows) > 0 {
			s.writeBook(rows)
			q.pending.Add(-int64(len(rows)))
		}
		for _, b := range barriers {
			close(b)
		}
		rows, barriers = rows[:0], barriers[:0]
		if !open {
			return
		}
	}
}

// take adds it to the batch: to rows, or to barriers if it is one.
func take(rows []bookItem, barriers []chan struct{}, it bookItem) (
	[]bookItem, []chan struct{}) {

	if it.flushed != nil {
		return rows, append(barriers, it.flushed)
	}
	return append(rows, it), barriers
}

// writeBook writes rows in one transaction, reporting those not written.
func (s *Store) writeBook(rows []bookItem) {
	ctx := context.Background()
	var stmts []string
	for i := 0; i < len(rows); i += bookChunk {
		stmts = append(stmts, bookInsert(min(bookChunk, len(rows)-i)))
	}
	// Prepared before the transaction: preparing takes a connection of
	// its own.
	for _, q := range stmts {
		if _, err := s.prepared(ctx, q); err != nil {
			s.book.fail(s, len(rows), err)
			return
		}
	}
	defer s.writer()()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i, q := range stmts {
			chunk := rows[i*bookChunk : min((i+1)*bookChunk, len(rows))]
			st, _ := s.stmts.Load(q)
			if _, err := tx.StmtContext(ctx, st.(*sql.Stmt)).ExecContext(
				ctx, bookArgs(chunk)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.book.fail(s, len(rows), fmt.Errorf("%s: unable to write %d "+
			"transactions: %w", s.name, len(rows), err))
	}
}

// bookInsert is the INSERT of n transactions. A row already there has the
// same key, so it is the same token's (its key is the hash of the
// token's identifier) or the same invoice's (a Payment charge's key is
// its payment hash's): it is left as it is, and nothing is lost. A token
// used on another replica before its own row was written is recorded
// there too (the Authenticator's checkIssued).
func bookInsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO transactions (id_key, token_id,
		payment_hash, service, price_sat, scheme, state, add_index,
		created_at) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, 'pending', ?, ?)")
	}
	b.WriteString(" ON CONFLICT (id_key) DO NOTHING")
	return b.String()
}

// bookArgs are bookInsert's arguments for rows.
func bookArgs(rows []bookItem) []any {
	args := make([]any, 0, 8*len(rows))
	for i := range rows {
		r := &rows[i]
		args = append(args, r.key[:], r.tokenID[:], r.paymentHash[:],
			r.service, r.priceSat, r.scheme, int64(r.addIndex), r.createdAt)
	}
	return args
}
