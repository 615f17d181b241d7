package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/mpp"
)

// A session's bearer requests each draw on its balance. Written and
// synced one commit at a time, every request would wait for a disk
// sync before it is proxied; on SQLite, which one serve process owns,
// the draws are instead taken from the balance in memory and written
// behind them: every interval, all the draws taken since are written in
// one transaction, synced. A draw is answered once it is taken in
// memory, by the same rules as the database's guarded UPDATE (the
// session open, of the request's service, used within its idle timeout,
// its balance covering the price), so that no draw is taken twice or
// beyond the balance. What a crash can lose is the draws of the last
// interval: requests served that the balance then still holds, the
// seller's loss, never the buyer's. Every other write to a session
// (top-up, close, a metered settlement) and every read of one first
// writes what its draws took.

// maxLedgerSessions bounds the sessions the ledger holds; a draw on
// another one, when every held session has draws not yet written, is
// written and synced as it would be without the ledger.
const maxLedgerSessions = 1 << 16

// sessionLedger is the sessions' balances as draws in memory have left
// them, written behind (BufferSessionDraws).
type sessionLedger struct {
	interval time.Duration

	// max is the sessions it holds (maxLedgerSessions; tests lower it).
	max int

	// writes is held by every write of the held sessions to the
	// database and by every load of one into the ledger: the periodic
	// write of the draws, a session's release before another write, a
	// load. Entries leave the ledger only under it.
	writes sync.Mutex

	// mu guards entries, dirty and scheduled. It is held only in
	// memory, never across a database call.
	mu        sync.Mutex
	entries   map[[32]byte]*ledgerEntry
	dirty     int
	scheduled bool
	closed    bool

	// lost counts the sat of draws served that a write found it could
	// not take (tests read it; onError is told of each).
	lost atomic.Int64

	// onError, when set, is told of every failed write (serve logs it).
	onError func(error)
}

// ledgerEntry is one open session held in the ledger.
type ledgerEntry struct {
	service string

	// balance is the database's balance as of the last read or write;
	// pending the sat drawn in memory since (less a metered request's
	// surplus given back), not yet written: never negative, as what is
	// given back from draws written is written at once (settleHeld).
	balance int64
	pending int64

	// writing is the part of pending that a write in progress takes.
	writing int64

	// lastUsed is the unix second of the latest draw, or the database's;
	// usedWritten the database's as of the last read or write. A later
	// use is written even when it leaves no draw to write (a free draw,
	// a metered request that cost nothing), for the pruner to see.
	lastUsed    int64
	usedWritten int64
}

// unwritten reports whether e holds what the database does not: draws,
// or a later use.
func (e *ledgerEntry) unwritten() bool {
	return e.pending != 0 || e.lastUsed > e.usedWritten
}

// BufferSessionDraws makes an SQLite store take session draws in memory
// and write them every interval (see above); it must be called before
// the store is used. A Postgres store, shared by replicas that each
// draw, keeps writing every draw in the database: it returns an error,
// as it does for an interval that is not positive. onError, when not
// nil, is told of every failed write of draws.
func (s *Store) BufferSessionDraws(interval time.Duration,
	onError func(error)) error {

	if s.dollar {
		return fmt.Errorf("%s: draws are written behind only on SQLite: "+
			"replicas on Postgres draw in the database", s.name)
	}
	if interval <= 0 {
		return fmt.Errorf("%s: session draws need a positive write "+
			"interval, not %s", s.name, interval)
	}
	s.ledger = &sessionLedger{interval: interval, max: maxLedgerSessions,
		entries: make(map[[32]byte]*ledgerEntry), onError: onError}
	return nil
}

// HoldsSessionDraws reports whether the store takes session draws in
// memory (BufferSessionDraws).
func (s *Store) HoldsSessionDraws() bool { return s.ledger != nil }

// drawHeld takes d from its session's balance in the ledger, loading the
// session first when it is not held; when the ledger is full, d is
// drawn in the database instead (load). Once the store's Close has
// begun it refuses d, as the store then would.
func (l *sessionLedger) drawHeld(ctx context.Context, s *Store,
	d *draw) (int64, error) {

	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return 0, fmt.Errorf("%s: closed", s.name)
		}
		if e := l.entries[d.id]; e != nil {
			err := e.refusal(d)
			if err == nil {
				l.takeLocked(s, e, d.price, d.now.Unix())
			}
			balance := e.balance - e.pending
			l.mu.Unlock()
			if err != nil {
				return 0, err
			}
			return balance, nil
		}
		l.mu.Unlock()
		// Entries leave only under writes, which load releases: the
		// session loaded may have been written and released since, and
		// is then loaded again.
		balance, drawn, err := l.load(ctx, s, d)
		if drawn || err != nil {
			return balance, err
		}
	}
}

// refusal says why e cannot pay d, in whyNot's words, or nil.
func (e *ledgerEntry) refusal(d *draw) error {
	switch {
	case e.service != d.service:
		return fmt.Errorf("session %x is for another service: %w", d.id,
			mpp.ErrWrongResource)
	case e.lastUsed < d.now.Add(-d.idle).Unix():
		return fmt.Errorf("session %x unused since %s: %w", d.id,
			time.Unix(e.lastUsed, 0).UTC().Format(time.RFC3339),
			mpp.ErrSessionClosed)
	case e.balance-e.pending < d.price:
		return fmt.Errorf("session %x holds %d sat, the request costs %d: "+
			"%w", d.id, e.balance-e.pending, d.price, mpp.ErrInsufficient)
	}
	return nil
}

// load reads d's session into the ledger when it is open. A session
// that is not (unknown, closed) is not held: the error says why d is
// refused. When the ledger is full of sessions with something to write,
// it draws d in the database, under the same hold of l.writes that found
// the session not held, so that no load of it comes in between, and
// reports drawn.
func (l *sessionLedger) load(ctx context.Context, s *Store,
	d *draw) (balance int64, drawn bool, err error) {

	l.writes.Lock()
	defer l.writes.Unlock()
	l.mu.Lock()
	if l.entries[d.id] != nil {
		l.mu.Unlock()
		return 0, false, nil
	}
	full := len(l.entries) >= l.max && !l.evictLocked()
	l.mu.Unlock()
	if full {
		balance, err := s.drawInDB(ctx, d)
		return balance, true, err
	}

	var (
		svc, status    string
		held, lastUsed int64
	)
	err = s.db.QueryRowContext(ctx, `SELECT service, status, balance_sat,
		last_used_at FROM mpp_sessions WHERE session_id = ?`,
		d.id[:]).Scan(&svc, &status, &held, &lastUsed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, fmt.Errorf("session %x: %w", d.id,
			mpp.ErrUnknownSession)
	case err != nil:
		return 0, false, fmt.Errorf("%s: unable to read session %x: %w",
			s.name, d.id, err)
	case status != SessionOpen:
		return 0, false, fmt.Errorf("session %x: %w", d.id,
			mpp.ErrSessionClosed)
	}
	l.mu.Lock()
	l.entries[d.id] = &ledgerEntry{service: svc, balance: held,
		lastUsed: lastUsed, usedWritten: lastUsed}
	l.mu.Unlock()
	return 0, false, nil
}

// evictLocked drops the held sessions that are all written, and reports
// whether it dropped any. l.writes and l.mu are held.
func (l *sessionLedger) evictLocked() bool {
	dropped := false
	for id, e := range l.entries {
		if !e.unwritten() {
			delete(l.entries, id)
			dropped = true
		}
	}
	return dropped
}

// takeLocked adds sat (negative: given back) to e's pending draws and
// records a use at unix second used (0: none). l.mu is held.
func (l *sessionLedger) takeLocked(s *Store, e *ledgerEntry, sat,
	used int64) {

	was := e.unwritten()
	e.pending += sat
	if used > e.lastUsed {
		e.lastUsed = used
	}
	l.countLocked(s, e, was)
}

// countLocked keeps the count of sessions with something to write, e
// having changed from was (e.unwritten() before), and schedules the
// write. l.mu is held.
func (l *sessionLedger) countLocked(s *Store, e *ledgerEntry, was bool) {
	switch is := e.unwritten(); {
	case is && !was:
		l.dirty++
	case was && !is:
		l.dirty--
	}
	l.scheduleLocked(s)
}

// forgetLocked takes session id, e, out of the ledger. l.writes and l.mu
// are held.
func (l *sessionLedger) forgetLocked(id [32]byte, e *ledgerEntry) {
	if e.unwritten() {
		l.dirty--
	}
	delete(l.entries, id)
}

// scheduleLocked makes sure a write of the draws is due within the
// interval. l.mu is held.
func (l *sessionLedger) scheduleLocked(s *Store) {
	if l.scheduled || l.closed || l.dirty == 0 {
		return
	}
	l.scheduled = true
	time.AfterFunc(l.interval, func() { l.periodic(s) })
}

// periodic is the scheduled write of the draws: it writes them, then
// schedules the next one if draws are left to write (taken meanwhile, or
// the write failed).
func (l *sessionLedger) periodic(s *Store) {
	err := l.writeAll(s)
	if err != nil && l.onError != nil {
		l.onError(err)
	}
	l.mu.Lock()
	l.scheduled = false
	l.scheduleLocked(s)
	l.mu.Unlock()
}

// pendingDraws is what the draws of one session took, being written,
// and what the database then holds.
type pendingDraws struct {
	id       [32]byte
	entry    *ledgerEntry
	sat      int64
	lastUsed int64

	balance int64
	found   bool
}

// writeAll writes, in one transaction synced on commit, the draws taken
// in memory on every held session, and sets each session's balance to
// the database's. Draws taken while it writes stay pending, for the
// next write.
func (l *sessionLedger) writeAll(s *Store) error {
	l.writes.Lock()
	defer l.writes.Unlock()

	l.mu.Lock()
	var batch []pendingDraws
	for id, e := range l.entries {
		if e.unwritten() {
			e.writing = e.pending
			batch = append(batch, pendingDraws{id: id, entry: e,
				sat: e.pending, lastUsed: e.lastUsed})
		}
	}
	l.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := writeDraws(s, batch)

	// Entries leave only under l.writes: each is still held.
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range batch {
		p.entry.writing = 0
	}
	if err != nil {
		return err
	}
	var lost error
	for _, p := range batch {
		e := p.entry
		if p.found {
			was := e.unwritten()
			e.balance = p.balance
			e.pending -= p.sat
			if p.lastUsed > e.usedWritten {
				e.usedWritten = p.lastUsed
			}
			l.countLocked(s, e, was)
			continue
		}
		// Only this process writes an SQLite store's sessions, and it
		// writes a held session's draws before anything else does: a
		// session closed or short meanwhile was written by another
		// process on the same file. The draws served on it are the
		// seller's loss; the session is no longer held.
		sat := e.pending
		l.lost.Add(sat)
		l.forgetLocked(p.id, e)
		lost = errors.Join(lost, fmt.Errorf("%s: session %x was closed or "+
			"drawn down by another process: %d sat of draws served "+
			"were not taken", s.name, p.id, sat))
	}
	return lost
}

// writeDraws takes each of batch's draws from its session in the
// database, in one transaction, and records in each what the database
// holds: the balance left, or found false when the session could not
// take them (closed, or short).
func writeDraws(s *Store, batch []pendingDraws) error {
	defer s.writer()()
	return s.inTx(context.Background(), func(tx *sql.Tx) error {
		for i := range batch {
			p := &batch[i]
			err := tx.QueryRow(`UPDATE mpp_sessions SET
				balance_sat = balance_sat - ?, spent_sat = spent_sat + ?,
				last_used_at = CASE WHEN last_used_at > ? THEN
				last_used_at ELSE ? END
				WHERE session_id = ? AND status = 'open' AND
				balance_sat >= ?
				RETURNING balance_sat`, p.sat, p.sat, p.lastUsed,
				p.lastUsed, p.id[:], p.sat).Scan(&p.balance)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return fmt.Errorf("%s: unable to write the draws on "+
					"session %x: %w", s.name, p.id, err)
			default:
				p.found = true
			}
		}
		return nil
	})
}

// releaseSession is release when s holds draws in memory: unlock is
// then to be called once the caller's write of session id is done.
func (s *Store) releaseSession(id [32]byte) (unlock func(), err error) {
	if s.ledger == nil {
		return func() {}, nil
	}
	return s.ledger.release(s, id)
}

// writeHeldDraws writes every draw held in memory, for a read of the
// sessions in the database.
func (s *Store) writeHeldDraws() error {
	if s.ledger == nil {
		return nil
	}
	return s.ledger.writeAll(s)
}

// release takes session id out of the ledger and writes the draws held
// on it, so that the database holds all of it, for a write of the
// caller's; unlock, called once that write is done, lets draws load the
// session again (until then they wait). On an error nothing changed.
func (l *sessionLedger) release(s *Store, id [32]byte) (unlock func(),
	err error) {

	l.writes.Lock()
	l.mu.Lock()
	e := l.entries[id]
	if e == nil {
		l.mu.Unlock()
		return l.writes.Unlock, nil
	}
	// Out of the map, no draw can take from it any more: the next
	// draws load the session, under l.writes, after the caller's
	// write.
	unwritten, sat := e.unwritten(), e.pending
	l.forgetLocked(id, e)
	l.mu.Unlock()
	if !unwritten {
		return l.writes.Unlock, nil
	}

	batch := []pendingDraws{{id: id, entry: e, sat: sat,
		lastUsed: e.lastUsed}}
	err = writeDraws(s, batch)
	if err == nil && !batch[0].found {
		l.lost.Add(sat)
		err = fmt.Errorf("%s: session %x was closed or drawn down by "+
			"another process: %d sat of draws served were not taken",
			s.name, id, sat)
		if l.onError != nil {
			l.onError(err)
		}
		return l.writes.Unlock, nil
	}
	if err != nil {
		l.mu.Lock()
		l.entries[id] = e
		l.dirty++
		l.scheduleLocked(s)
		l.mu.Unlock()
		l.writes.Unlock()
		return nil, err
	}
	return l.writes.Unlock, nil
}

// close writes the draws held; no draw is taken in memory after it. A
// failure is told to onError as a periodic one is: it is the last write,
// and what it could not write is lost.
func (l *sessionLedger) close(s *Store) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	err := l.writeAll(s)
	if err != nil && l.onError != nil {
		l.onError(err)
	}
	return err
}

// settleHeld gives back (costSat < drawnSat) or takes more of (never
// beyond the balance) the balance of a held session for a metered
// request, as SettleSessionDraw does in the database, and returns the
// balance. It reports false when the session is not held, and when what
// it gives back is more than the draws held and not being written: that
// is given back from draws written, which a crash must not keep from
// the buyer, so the caller writes it at once.
func (l *sessionLedger) settleHeld(s *Store, id [32]byte, service string,
	drawnSat, costSat int64) (int64, bool) {

	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[id]
	if e == nil || e.service != service || l.closed {
		return 0, false
	}
	extra := costSat - drawnSat
	if left := e.balance - e.pending; extra > left {
		extra = left
	}
	if e.pending-e.writing+extra < 0 {
		return 0, false
	}
	if extra != 0 {
		l.takeLocked(s, e, extra, 0)
	}
	return e.balance - e.pending, true
}
