package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
)

// What the Payment scheme (MPP) keeps: the secret that binds challenge ids,
// the single-use claims of paid invoices, and prepaid sessions. Every
// operation that decides whether a payment buys something is one atomic
// statement or one transaction, so that replicas on one Postgres database
// never both accept one credential, nor both spend one balance.

// writer serialises this process's writes to an SQLite database, which
// takes one writer at a time: a second one would wait in SQLite's busy
// handler, which sleeps, where this lock hands over at once. Postgres
// takes concurrent writers, so its writes do not wait here.
func (s *Store) writer() func() {
	if s.dollar {
		return func() {}
	}
	s.writes.Lock()
	return s.writes.Unlock
}

// The mpp_secrets rows: the secret that binds the Payment challenges'
// ids, and the one the tokens' root keys are derived from.
const (
	challengeSecretName = "challenge"
	rootKeySecretName   = "root-key"
)

// ChallengeSecret returns the secret that binds the Payment challenges'
// ids: 32 random bytes, made by the first caller and read by every later
// one, on every replica. It is a secret: never log it.
func (s *Store) ChallengeSecret(ctx context.Context) ([]byte, error) {
	secret, err := s.namedSecret(ctx, challengeSecretName)
	if err != nil {
		return nil, fmt.Errorf("%s: the challenge secret: %w", s.name, err)
	}
	if len(secret) < mpp.MinSecretSize {
		return nil, fmt.Errorf("%s: the challenge secret is %d bytes: "+
			"the database is damaged", s.name, len(secret))
	}
	return secret, nil
}

// RootKeySecret returns the secret every token's root key is derived
// from (l402.DeriveRootKey): 32 random bytes, made by the first caller
// and read by every later one, on every replica, so that each verifies
// the others' tokens. One of another size is an error: serve then
// refuses to start rather than mint under a key nobody shares. It is a
// secret: never log it.
func (s *Store) RootKeySecret(ctx context.Context) ([]byte, error) {
	secret, err := s.namedSecret(ctx, rootKeySecretName)
	if err != nil {
		return nil, fmt.Errorf("%s: the root key secret: %w", s.name, err)
	}
	if len(secret) != l402.RootKeySecretSize {
		return nil, fmt.Errorf("%s: the root key secret is %d bytes, not "+
			"%d: the database is damaged", s.name, len(secret),
			l402.RootKeySecretSize)
	}
	return secret, nil
}

// namedSecret returns the mpp_secrets row name, inserting 32 random bytes
// first if there is none.
func (s *Store) namedSecret(ctx context.Context, name string) ([]byte,
	error) {

	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	// Whoever inserts first wins; the others' rows are dropped, and all
	// read the winner's.
	if _, err := s.db.ExecContext(ctx, s.query(`INSERT INTO mpp_secrets
		(name, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (name)
		DO NOTHING`), name, fresh, time.Now().Unix()); err != nil {
		return nil, fmt.Errorf("unable to store it: %w", err)
	}
	var secret []byte
	if err := s.db.QueryRowContext(ctx, s.query(`SELECT secret FROM
		mpp_secrets WHERE name = ?`), name).Scan(&secret); err != nil {
		return nil, fmt.Errorf("unable to read it: %w", err)
	}
	return secret, nil
}

// execer is what a claim needs: the database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string,
		args ...any) (sql.Result, error)
}

// ClaimPayment records that the invoice with hash paid for something (a
// charge's request, a session's deposit), for the challenge challengeID
// that can be presented until expires. A hash is claimed once: the second
// claim, on any replica, fails wrapping mpp.ErrReused.
func (s *Store) ClaimPayment(ctx context.Context, hash [32]byte,
	challengeID string, expires, now time.Time) error {

	if !s.dollar {
		return s.batchClaim(ctx, &pendingClaim{hash: hash,
			challengeID: challengeID, expires: expires, now: now})
	}
	return s.claim(ctx, s.db, hash, challengeID, expires, now)
}

// isReused reports whether err is a claim's refusal: the hash was
// claimed before.
func isReused(err error) bool { return errors.Is(err, mpp.ErrReused) }

// claim is ClaimPayment on db or in a transaction.
func (s *Store) claim(ctx context.Context, db execer, hash [32]byte,
	challengeID string, expires, now time.Time) error {

	res, err := db.ExecContext(ctx, s.query(`INSERT INTO mpp_claims
		(payment_hash, challenge_id, expires_at, claimed_at) VALUES
		(?, ?, ?, ?) ON CONFLICT (payment_hash) DO NOTHING`), hash[:],
		challengeID, expires.Unix(), now.Unix())
	if err != nil {
		return fmt.Errorf("%s: unable to claim payment %x: %w", s.name,
			hash, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: unable to claim payment %x: %w", s.name,
			hash, err)
	}
	if n == 0 {
		return fmt.Errorf("payment %x: %w", hash, mpp.ErrReused)
	}
	return nil
}

// PruneClaims deletes the claims whose challenges expired before before,
// which no credential can present any more, and returns how many went.
func (s *Store) PruneClaims(ctx context.Context, before time.Time) (int64,
	error) {

	defer s.writer()()
	res, err := s.db.ExecContext(ctx, s.query(`DELETE FROM mpp_claims
		WHERE expires_at < ?`), before.Unix())
	if err != nil {
		return 0, fmt.Errorf("%s: unable to prune payment claims: %w",
			s.name, err)
	}
	return res.RowsAffected()
}

// The states of a session.
const (
	SessionOpen   = "open"
	SessionClosed = "closed"
)

// NewSession is a session being opened: its deposit was paid.
type NewSession struct {
	// ID is the session id, the deposit's payment hash.
	ID      [32]byte
	Service string

	// ReturnInvoice is the buyer's amountless invoice for the refund.
	ReturnInvoice string

	// DepositSat is the deposit; DrawSat the price of the request that
	// opens the session, drawn at once.
	DepositSat int64
	DrawSat    int64

	// ChallengeID and ChallengeExpires are the deposit's challenge, for
	// its claim.
	ChallengeID      string
	ChallengeExpires time.Time

	Now time.Time
}

// OpenSession claims the deposit and opens the session with the deposit
// less the first draw, in one transaction: a deposit claimed already
// (opened, or spent on a top-up) fails wrapping mpp.ErrReused.
func (s *Store) OpenSession(ctx context.Context, n NewSession) error {
	defer s.writer()()
	if n.DepositSat <= 0 || n.DrawSat < 0 || n.DrawSat > n.DepositSat {
		return fmt.Errorf("session %x: deposit %d sat cannot pay a draw "+
			"of %d sat", n.ID, n.DepositSat, n.DrawSat)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.claim(ctx, tx, n.ID, n.ChallengeID,
			n.ChallengeExpires, n.Now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query(`INSERT INTO mpp_sessions
			(session_id, service, return_invoice, balance_sat,
			deposited_sat, spent_sat, status, created_at, last_used_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), n.ID[:], n.Service,
			n.ReturnInvoice, n.DepositSat-n.DrawSat, n.DepositSat,
			n.DrawSat, SessionOpen, n.Now.Unix(), n.Now.Unix())
		if isDuplicate(err) {
			return fmt.Errorf("session %x: %w", n.ID, mpp.ErrReused)
		}
		if err != nil {
			return fmt.Errorf("%s: unable to open session %x: %w",
				s.name, n.ID, err)
		}
		return nil
	})
}

// DrawSession takes price from the balance of the open session id for
// service, and returns the balance left. It fails wrapping
// mpp.ErrUnknownSession, mpp.ErrWrongResource (a session of another
// service), mpp.ErrSessionClosed (closed, or unused for idle) or
// mpp.ErrInsufficient; the balance never goes below zero. On SQLite the
// draws of concurrent requests are committed together (drawbatch.go).
func (s *Store) DrawSession(ctx context.Context, id [32]byte,
	service string, price int64, now time.Time, idle time.Duration) (int64,
	error) {

	d := &draw{id: id, service: service, price: price, now: now,
		idle: idle}
	if s.ledger != nil {
		return s.ledger.drawHeld(ctx, s, d)
	}
	return s.drawInDB(ctx, d)
}

// drawInDB is DrawSession's draw in the database: a guarded UPDATE,
// committed before it returns.
func (s *Store) drawInDB(ctx context.Context, d *draw) (int64, error) {
	if !s.dollar {
		return s.batchDraw(ctx, d)
	}
	// Every request of a session runs this: it is prepared once.
	stmt, err := s.prepared(ctx, drawQuery)
	if err != nil {
		return 0, err
	}
	return s.runDraw(ctx, stmt, s.db, d)
}

// draw is one request's draw on a session.
type draw struct {
	id      [32]byte
	service string
	price   int64
	now     time.Time
	idle    time.Duration

	// balance and err are its outcome, and done is closed once they are
	// set (drawbatch.go).
	balance int64
	err     error
	done    chan struct{}
}

// runDraw runs d with stmt (drawQuery, prepared on the database or in a
// transaction, whose reads db does), and returns the balance left.
func (s *Store) runDraw(ctx context.Context, stmt *sql.Stmt, db queryer,
	d *draw) (int64, error) {

	var balance int64
	s.drawStatements.Add(1)
	err := stmt.QueryRowContext(ctx, d.price, d.price, d.now.Unix(),
		d.now.Unix(), d.id[:], d.service, d.now.Add(-d.idle).Unix(),
		d.price).Scan(&balance)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, s.whyNot(ctx, db, d.id, d.service, d.price, d.now, d.idle)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: unable to draw on session %x: %w",
			s.name, d.id, err)
	}
	return balance, nil
}

// drawQuery takes a price from an open, recently used session's balance
// when it covers the price, and returns what is left.
const drawQuery = `UPDATE mpp_sessions SET
	balance_sat = balance_sat - ?, spent_sat = spent_sat + ?,
	last_used_at = CASE WHEN last_used_at > ? THEN last_used_at ELSE ? END
	WHERE session_id = ? AND service = ? AND status = 'open' AND
	last_used_at >= ? AND balance_sat >= ?
	RETURNING balance_sat`

// prepared returns the statement of query q, prepared once per store
// (database/sql prepares it again on each connection that runs it).
func (s *Store) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, s.query(q))
	if err != nil {
		return nil, fmt.Errorf("%s: unable to prepare a query: %w", s.name,
			err)
	}
	if prev, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// queryer is what whyNot needs: the database or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// whyNot explains why session id could not pay price now: unknown, of
// another service, closed or idle, or short of the price.
func (s *Store) whyNot(ctx context.Context, db queryer, id [32]byte,
	service string, price int64, now time.Time, idle time.Duration) error {

	var (
		svc, status      string
		balance, lastUse int64
	)
	err := db.QueryRowContext(ctx, s.query(`SELECT service, status,
		balance_sat, last_used_at FROM mpp_sessions WHERE session_id = ?`),
		id[:]).Scan(&svc, &status, &balance, &lastUse)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("session %x: %w", id, mpp.ErrUnknownSession)
	case err != nil:
		return fmt.Errorf("%s: unable to read session %x: %w", s.name, id,
			err)
	case svc != service:
		return fmt.Errorf("session %x is for another service: %w", id,
			mpp.ErrWrongResource)
	case status != SessionOpen:
		return fmt.Errorf("session %x: %w", id, mpp.ErrSessionClosed)
	case lastUse < now.Add(-idle).Unix():
		return fmt.Errorf("session %x unused since %s: %w", id,
			time.Unix(lastUse, 0).UTC().Format(time.RFC3339),
			mpp.ErrSessionClosed)
	case balance < price:
		return fmt.Errorf("session %x holds %d sat, the request costs %d: "+
			"%w", id, balance, price, mpp.ErrInsufficient)
	}
	// The session changed between the two statements (another request
	// drew or topped it up): say what the draw found.
	return fmt.Errorf("session %x: %w", id, mpp.ErrInsufficient)
}

// TopUp is a deposit added to an open session.
type TopUp struct {
	ID      [32]byte
	Service string

	// DepositHash and DepositSat are the new deposit, claimed once.
	DepositHash [32]byte
	DepositSat  int64

	ChallengeID      string
	ChallengeExpires time.Time

	Now  time.Time
	Idle time.Duration
}

// TopUpSession claims the new deposit and adds it to the open session, in
// one transaction, and returns the balance. A claimed deposit fails
// wrapping mpp.ErrReused; a session that cannot take it (as DrawSession
// says) leaves the deposit unclaimed, for the buyer to open a session
// with.
func (s *Store) TopUpSession(ctx context.Context, t TopUp) (int64, error) {
	unlock, err := s.releaseSession(t.ID)
	if err != nil {
		return 0, err
	}
	defer unlock()
	defer s.writer()()
	if t.DepositSat <= 0 {
		return 0, fmt.Errorf("session %x: bad top-up of %d sat", t.ID,
			t.DepositSat)
	}
	var balance int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.claim(ctx, tx, t.DepositHash, t.ChallengeID,
			t.ChallengeExpires, t.Now); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, s.query(`UPDATE mpp_sessions SET
			balance_sat = balance_sat + ?, deposited_sat = deposited_sat + ?,
			last_used_at = CASE WHEN last_used_at > ? THEN last_used_at
			ELSE ? END
			WHERE session_id = ? AND service = ? AND status = 'open' AND
			last_used_at >= ?
			RETURNING balance_sat`), t.DepositSat, t.DepositSat,
			t.Now.Unix(), t.Now.Unix(), t.ID[:], t.Service,
			t.Now.Add(-t.Idle).Unix()).Scan(&balance)
		if errors.Is(err, sql.ErrNoRows) {
			return s.whyNot(ctx, tx, t.ID, t.Service, 0, t.Now, t.Idle)
		}
		if err != nil {
			return fmt.Errorf("%s: unable to top up session %x: %w",
				s.name, t.ID, err)
		}
		return nil
	})
	return balance, err
}

// Closed is what closing a session did.
type Closed struct {
	// RefundSat is what was left, owed to ReturnInvoice.
	RefundSat     int64
	ReturnInvoice string

	// Service is the session's.
	Service string
}

// CloseSession closes the open session id of service for good, and
// moves its balance to the refund, marked pending (skipped when nothing is
// left) until RecordRefund. An idle session can still be closed; an empty
// service closes one of any service (the pruner's). It fails wrapping
// mpp.ErrUnknownSession, mpp.ErrWrongResource or mpp.ErrSessionClosed
// (closed already: of two closes, one refunds).
func (s *Store) CloseSession(ctx context.Context, id [32]byte,
	service string, now time.Time) (Closed, error) {

	unlock, err := s.releaseSession(id)
	if err != nil {
		return Closed{}, err
	}
	defer unlock()
	defer s.writer()()
	var c Closed
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// The row is locked until the transaction ends (SQLite's
		// immediate transactions lock the database), so that no draw
		// comes between the read and the close.
		q := `SELECT service, status, balance_sat, return_invoice FROM
			mpp_sessions WHERE session_id = ?`
		if s.dollar {
			q += " FOR UPDATE"
		}
		var (
			status  string
			balance int64
		)
		err := tx.QueryRowContext(ctx, s.query(q), id[:]).Scan(&c.Service,
			&status, &balance, &c.ReturnInvoice)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("session %x: %w", id, mpp.ErrUnknownSession)
		case err != nil:
			return fmt.Errorf("%s: unable to read session %x: %w", s.name,
				id, err)
		case service != "" && c.Service != service:
			return fmt.Errorf("session %x is for another service: %w", id,
				mpp.ErrWrongResource)
		case status != SessionOpen:
			return fmt.Errorf("session %x: %w", id, mpp.ErrSessionClosed)
		}

		c.RefundSat = balance
		refundStatus := "pending"
		if c.RefundSat == 0 {
			refundStatus = mpp.RefundSkipped
		}
		_, err = tx.ExecContext(ctx, s.query(`UPDATE mpp_sessions SET
			status = 'closed', closed_at = ?, balance_sat = 0,
			refund_sat = ?, refund_status = ? WHERE session_id = ?`),
			now.Unix(), c.RefundSat, refundStatus, id[:])
		if err != nil {
			return fmt.Errorf("%s: unable to close session %x: %w",
				s.name, id, err)
		}
		return nil
	})
	return c, err
}

// RecordRefund records the outcome of a closed session's refund:
// mpp.RefundSucceeded or mpp.RefundFailed (then the refund is the
// operator's to settle; the row keeps what is owed and to whom).
func (s *Store) RecordRefund(ctx context.Context, id [32]byte,
	status string) error {

	defer s.writer()()
	_, err := s.db.ExecContext(ctx, s.query(`UPDATE mpp_sessions SET
		refund_status = ? WHERE session_id = ? AND status = 'closed'`),
		status, id[:])
	if err != nil {
		return fmt.Errorf("%s: unable to record the refund of session "+
			"%x: %w", s.name, id, err)
	}
	return nil
}

// IdleSessions returns at most limit open sessions last used before
// before, the longest idle first: the pruner closes them.
func (s *Store) IdleSessions(ctx context.Context, before time.Time,
	limit int) ([][32]byte, error) {

	if err := s.writeHeldDraws(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.query(`SELECT session_id FROM
		mpp_sessions WHERE status = 'open' AND last_used_at < ?
		ORDER BY last_used_at, session_id LIMIT ?`), before.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("%s: unable to list idle sessions: %w",
			s.name, err)
	}
	defer rows.Close()
	var out [][32]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("%s: unable to read an idle session: "+
				"%w", s.name, err)
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: session id %x is %d bytes: the "+
				"database is damaged", s.name, b, len(b))
		}
		var id [32]byte
		copy(id[:], b)
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: unable to list idle sessions: %w",
			s.name, err)
	}
	return out, nil
}

// SessionInfo is a session as stored.
type SessionInfo struct {
	Service       string
	Status        string
	BalanceSat    int64
	DepositedSat  int64
	SpentSat      int64
	RefundSat     int64
	RefundStatus  string
	ReturnInvoice string
	CreatedAt     time.Time
	LastUsedAt    time.Time
}

// Session returns the session id, or an error wrapping
// mpp.ErrUnknownSession.
func (s *Store) Session(ctx context.Context, id [32]byte) (SessionInfo,
	error) {

	var (
		i              SessionInfo
		refund         sql.NullInt64
		refundStatus   sql.NullString
		created, lastU int64
	)
	if err := s.writeHeldDraws(); err != nil {
		return i, err
	}
	err := s.db.QueryRowContext(ctx, s.query(`SELECT service, status,
		balance_sat, deposited_sat, spent_sat, refund_sat, refund_status,
		return_invoice, created_at, last_used_at FROM mpp_sessions WHERE
		session_id = ?`), id[:]).Scan(&i.Service, &i.Status, &i.BalanceSat,
		&i.DepositedSat, &i.SpentSat, &refund, &refundStatus,
		&i.ReturnInvoice, &created, &lastU)
	if errors.Is(err, sql.ErrNoRows) {
		return i, fmt.Errorf("session %x: %w", id, mpp.ErrUnknownSession)
	}
	if err != nil {
		return i, fmt.Errorf("%s: unable to read session %x: %w", s.name,
			id, err)
	}
	i.RefundSat, i.RefundStatus = refund.Int64, refundStatus.String
	i.CreatedAt, i.LastUsedAt = time.Unix(created, 0), time.Unix(lastU, 0)
	return i, nil
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: unable to begin a transaction: %w", s.name,
			err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: unable to commit: %w", s.name, err)
	}
	return nil
}
