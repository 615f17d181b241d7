package tokens

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
)

// The states of a stored session: the deposit is paid and the server has
// not yet accepted the open credential, or it has.
const (
	SessionOpening = "opening"
	SessionOpen    = "open"
)

// Session is a Payment session (draft-lightning-session-00) fetch opened
// at an origin: at most one per origin. Preimage is the deposit's, a
// secret (it spends the balance): it is never logged or listed.
type Session struct {
	Origin   string
	ID       l402.Hash // the deposit's payment hash
	Preimage l402.Preimage

	// Realm and Service are the session challenge's realm and the
	// service its opaque names ("" when it names none).
	Realm   string
	Service string

	// Challenge is the JSON of the latest session challenge of the
	// origin, which bearer and close credentials echo.
	Challenge string

	// ReturnInvoice is the amountless invoice of the buyer's node the
	// open named for the refund.
	ReturnInvoice string

	// URL is the one the session was opened for: its service's, where
	// a close goes.
	URL string

	// PriceSat is a request's price; DepositSat every deposit paid into
	// the session; BalanceSat what is left, as fetch reckons it (the
	// server's is authoritative).
	PriceSat   int64
	DepositSat int64
	BalanceSat int64

	State string

	// TopUp is a paid top-up whose credential the server has not
	// accepted yet; nil when there is none.
	TopUp *SessionTopUp

	CreatedAt time.Time
	UpdatedAt time.Time
}

// SessionTopUp is a paid top-up of a session, to be sent.
type SessionTopUp struct {
	Hash      l402.Hash
	Preimage  l402.Preimage
	Challenge string
	AmountSat int64
}

// Refund is what a session's close returned to the buyer's node: the
// return invoice's payment hash and the amount the server says it paid.
type Refund struct {
	PaymentHash l402.Hash
	AmountSat   int64
}

// sessionFacts reads what a session keeps of its challenge (JSON): the
// realm, the service its opaque names, and the price of a request.
func sessionFacts(challenge string) (realm, service string, price int64,
	err error) {

	var ch mpp.Challenge
	if err := json.Unmarshal([]byte(challenge), &ch); err != nil {
		return "", "", 0, fmt.Errorf("the session challenge is damaged: "+
			"%w", err)
	}
	if ch.Intent != mpp.IntentSession {
		return "", "", 0, fmt.Errorf("a %q challenge opens no session",
			ch.Intent)
	}
	req, err := mpp.DecodeSessionRequest(ch.Request)
	if err != nil {
		return "", "", 0, err
	}
	price, err = mpp.ParseAmount(req.Amount)
	if err != nil {
		return "", "", 0, err
	}
	if ch.Opaque != "" {
		if op, err := mpp.DecodeOpaque(ch.Opaque); err == nil {
			service = op["service"]
		}
	}
	return ch.Realm, service, price, nil
}

// IsSessionChallenge says whether a pending Payment payment's challenge
// (its JSON) is a session's: an open (KindPurchase) or a top-up.
func IsSessionChallenge(challenge string) bool {
	var ch mpp.Challenge
	return json.Unmarshal([]byte(challenge), &ch) == nil &&
		ch.Intent == mpp.IntentSession
}

// completeSession is CompletePending's part for a session's deposit: an
// open stores the session (opening, its balance the deposit), a top-up
// is held on the origin's session until its credential is accepted.
func completeSession(ctx context.Context, tx *sql.Tx, origin, kind,
	challenge, returnInvoice, url string, hash l402.Hash,
	preimage l402.Preimage, amountMsat int64, at time.Time) error {

	amount := amountMsat / 1000
	if kind == KindTopUp {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET topup_hash = ?,
			topup_preimage = ?, topup_challenge = ?, topup_sat = ?,
			updated_at = ? WHERE origin = ?`, hash[:], preimage[:],
			challenge, amount, at.Unix(), origin)
		return err
	}
	realm, service, price, err := sessionFacts(challenge)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO sessions (origin, session_id,
		preimage, realm, service, challenge, return_invoice, url,
		price_sat, deposit_sat, balance_sat, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, origin, hash[:],
		preimage[:], realm, service, challenge, returnInvoice, url, price,
		amount, amount, SessionOpening, at.Unix(), at.Unix())
	if err != nil {
		return fmt.Errorf("unable to store the session: %w", err)
	}
	return nil
}

const sessionColumns = `origin, session_id, preimage, realm, service,
	challenge, return_invoice, url, price_sat, deposit_sat, balance_sat, state,
	topup_hash, topup_preimage, topup_challenge, topup_sat, created_at,
	updated_at`

// scanSession reads one sessions row.
func scanSession(r scanner) (Session, error) {
	var (
		s                      Session
		id, pre, tHash, tPre   []byte
		tChallenge             string
		tSat, created, updated int64
	)
	if err := r.Scan(&s.Origin, &id, &pre, &s.Realm, &s.Service,
		&s.Challenge, &s.ReturnInvoice, &s.URL, &s.PriceSat, &s.DepositSat,
		&s.BalanceSat, &s.State, &tHash, &tPre, &tChallenge, &tSat,
		&created, &updated); err != nil {
		return s, err
	}
	if len(id) != l402.HashSize || len(pre) != l402.HashSize {
		return s, fmt.Errorf("session for %s is corrupt", s.Origin)
	}
	copy(s.ID[:], id)
	copy(s.Preimage[:], pre)
	if len(tHash) == l402.HashSize && len(tPre) == l402.HashSize {
		t := &SessionTopUp{Challenge: tChallenge, AmountSat: tSat}
		copy(t.Hash[:], tHash)
		copy(t.Preimage[:], tPre)
		s.TopUp = t
	}
	s.CreatedAt, s.UpdatedAt = time.Unix(created, 0), time.Unix(updated, 0)
	return s, nil
}

// Session returns the origin's session, or ErrNotFound.
func (s *Store) Session(ctx context.Context, origin string) (Session,
	error) {

	sess, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+
		sessionColumns+` FROM sessions WHERE origin = ?`, origin))
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fmt.Errorf("no session for %s: %w", origin,
			ErrNotFound)
	}
	return sess, err
}

// Sessions returns every session, by origin.
func (s *Store) Sessions(ctx context.Context) ([]Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionColumns+`
		FROM sessions ORDER BY origin`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

// updateSession runs one UPDATE of the origin's session id and fails
// with ErrNotFound when it matched no row.
func (s *Store) updateSession(ctx context.Context, origin string,
	id l402.Hash, set string, args ...any) error {

	args = append(args, origin, id[:])
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET `+set+`
		WHERE origin = ? AND session_id = ?`, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no session %s for %s: %w", id, origin,
			ErrNotFound)
	}
	return nil
}

// SessionOpened records that the server accepted the session's open
// credential: the session is open, and the request the open carried was
// served from the deposit.
func (s *Store) SessionOpened(ctx context.Context, origin string,
	id l402.Hash, at time.Time) error {

	return s.updateSession(ctx, origin, id, `state = ?,
		balance_sat = MAX(balance_sat - price_sat, 0), updated_at = ?`,
		SessionOpen, at.Unix())
}

// SessionDrawn records a request served from the session's balance, and
// the session challenge it echoed when it is a new one ("" keeps the
// stored one). A session still opening is open now: the server knows it.
func (s *Store) SessionDrawn(ctx context.Context, origin string,
	id l402.Hash, challenge string, at time.Time) error {

	return s.updateSession(ctx, origin, id, `state = ?,
		balance_sat = MAX(balance_sat - price_sat, 0),
		challenge = CASE WHEN ? = '' THEN challenge ELSE ? END,
		updated_at = ?`, SessionOpen, challenge, challenge, at.Unix())
}

// SetSessionChallenge keeps a newer session challenge of the origin, for
// bearer and close credentials to echo.
func (s *Store) SetSessionChallenge(ctx context.Context, origin string,
	id l402.Hash, challenge string, at time.Time) error {

	return s.updateSession(ctx, origin, id, `challenge = ?, updated_at = ?`,
		challenge, at.Unix())
}

// SessionShort records the server's word that the session's balance is
// below a request's price.
func (s *Store) SessionShort(ctx context.Context, origin string,
	id l402.Hash, at time.Time) error {

	return s.updateSession(ctx, origin, id, `balance_sat =
		CASE WHEN balance_sat >= price_sat THEN 0 ELSE balance_sat END,
		updated_at = ?`, at.Unix())
}

// SessionToppedUp records that the server accepted the session's held
// top-up (hash): its amount joins the deposit and the balance.
func (s *Store) SessionToppedUp(ctx context.Context, origin string,
	hash l402.Hash, at time.Time) error {

	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET
		balance_sat = balance_sat + topup_sat,
		deposit_sat = deposit_sat + topup_sat, topup_hash = NULL,
		topup_preimage = NULL, topup_challenge = '', topup_sat = 0,
		updated_at = ? WHERE origin = ? AND topup_hash = ?`, at.Unix(),
		origin, hash[:])
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no top-up %s held for %s: %w", hash, origin,
			ErrNotFound)
	}
	return nil
}

// DropTopUp forgets a held top-up the server will never accept (its
// challenge expired, or the server refused it): it stays in the ledger.
func (s *Store) DropTopUp(ctx context.Context, origin string,
	hash l402.Hash, at time.Time) error {

	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET topup_hash = NULL,
		topup_preimage = NULL, topup_challenge = '', topup_sat = 0,
		updated_at = ? WHERE origin = ? AND topup_hash = ?`, at.Unix(),
		origin, hash[:])
	return err
}

// CloseSession deletes the origin's session, closed at the server, and
// records its refund (when it has an amount) in the ledger, in one
// transaction. A refund is money in: it never lowers what the caps count
// as spent.
func (s *Store) CloseSession(ctx context.Context, origin string,
	id l402.Hash, r Refund, at time.Time) error {

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions
		WHERE origin = ? AND session_id = ?`, origin, id[:])
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no session %s for %s: %w", id, origin,
			ErrNotFound)
	}
	if r.AmountSat > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO payments
			(payment_hash, origin, scheme, kind, amount_msat, fee_msat,
			paid_at) VALUES (?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT (payment_hash) DO NOTHING`, r.PaymentHash[:],
			origin, SchemePayment, KindRefund, r.AmountSat*1000,
			at.Unix()); err != nil {
			return fmt.Errorf("unable to record the refund: %w", err)
		}
	}
	return tx.Commit()
}
