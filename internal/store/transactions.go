package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
)

// Transaction states: a challenge's invoice as the node reports it.
const (
	StatePending  = "pending"
	StateSettled  = "settled"
	StateCanceled = "canceled"
)

// Transaction is one minted challenge, as the admin API lists it.
type Transaction struct {
	ID          int64
	TokenID     l402.TokenID
	PaymentHash l402.Hash
	Service     string
	PriceSat    int64
	Scheme      string
	State       string
	CreatedAt   time.Time

	// SettledAt, CanceledAt and RevokedAt are zero when not so.
	SettledAt  time.Time
	CanceledAt time.Time
	RevokedAt  time.Time
}

// TransactionFilter selects transactions; zero fields select all.
type TransactionFilter struct {
	Service string
	State   string

	// From and To bound created_at (both inclusive) when set.
	From, To time.Time

	// Tokens selects settled, unrevoked L402 transactions only (the
	// tokens a client may still use; a Payment charge or deposit is no
	// token).
	Tokens bool

	Limit, Offset int
}

// where returns the filter's WHERE clause and its arguments.
func (f TransactionFilter) where() (string, []any) {
	var conds []string
	var args []any
	if f.Service != "" {
		conds, args = append(conds, "service = ?"), append(args, f.Service)
	}
	if f.State != "" {
		conds, args = append(conds, "state = ?"), append(args, f.State)
	}
	if f.Tokens {
		conds = append(conds, "state = 'settled' AND revoked_at IS NULL "+
			"AND scheme = '"+SchemeL402+"'")
	}
	if !f.From.IsZero() {
		conds = append(conds, "created_at >= ?")
		args = append(args, f.From.Unix())
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "created_at <= ?"), append(args, f.To.Unix())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// transactionColumns are the columns scanTransaction reads, in its order.
const transactionColumns = `id, token_id, payment_hash, service, price_sat,
	scheme, state, created_at, settled_at, canceled_at, revoked_at`

// Transactions returns the transactions f selects, newest first, and how
// many match without the limit.
func (s *Store) Transactions(ctx context.Context, f TransactionFilter) (
	[]Transaction, int64, error) {

	if err := s.Flush(ctx); err != nil {
		return nil, 0, err
	}
	where, args := f.where()
	var total int64
	if err := s.db.QueryRowContext(ctx, s.query(`SELECT COUNT(*) FROM
		transactions`+where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("%s: unable to count transactions: %w",
			s.name, err)
	}
	rows, err := s.db.QueryContext(ctx, s.query(`SELECT `+
		transactionColumns+` FROM transactions`+where+
		` ORDER BY id DESC LIMIT ? OFFSET ?`),
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: unable to list transactions: %w",
			s.name, err)
	}
	defer rows.Close()
	var out []Transaction
	for rows.Next() {
		t, err := scanTransaction(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", s.name, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: unable to list transactions: %w",
			s.name, err)
	}
	return out, total, nil
}

// TransactionByToken returns the transaction of a token, or an error
// wrapping ErrNotFound.
func (s *Store) TransactionByToken(ctx context.Context, id l402.TokenID) (
	Transaction, error) {

	if err := s.Flush(ctx); err != nil {
		return Transaction{}, err
	}
	row := s.db.QueryRowContext(ctx, s.query(`SELECT `+transactionColumns+
		` FROM transactions WHERE token_id = ? ORDER BY id LIMIT 1`), id[:])
	t, err := scanTransaction(row)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("%s: token %s: %w", s.name, id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("%s: %w", s.name, err)
	}
	return t, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanTransaction reads the transactionColumns of one row.
func scanTransaction(r scanner) (Transaction, error) {
	var t Transaction
	var token, hash []byte
	var created int64
	var settled, canceled, revoked sql.NullInt64
	if err := r.Scan(&t.ID, &token, &hash, &t.Service, &t.PriceSat,
		&t.Scheme, &t.State, &created, &settled, &canceled,
		&revoked); err != nil {
		return t, err
	}
	if len(token) != len(t.TokenID) || len(hash) != len(t.PaymentHash) {
		return t, fmt.Errorf("transaction %d has a %d-byte token id and "+
			"a %d-byte payment hash: the database is damaged", t.ID,
			len(token), len(hash))
	}
	copy(t.TokenID[:], token)
	copy(t.PaymentHash[:], hash)
	t.CreatedAt = time.Unix(created, 0).UTC()
	t.SettledAt, t.CanceledAt = unixOrZero(settled), unixOrZero(canceled)
	t.RevokedAt = unixOrZero(revoked)
	return t, nil
}

// unixOrZero is the time of a nullable column of Unix seconds.
func unixOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}

// SettleInvoice marks the pending transaction of a payment hash settled at
// at, as the node reported, and reports whether one was pending.
func (s *Store) SettleInvoice(ctx context.Context, hash l402.Hash,
	at time.Time) (bool, error) {

	return s.resolve(ctx, hash, "state = 'settled', settled_at = ?", at)
}

// CancelInvoice marks the pending transaction of a payment hash canceled
// at at, as the node reported, and reports whether one was pending.
func (s *Store) CancelInvoice(ctx context.Context, hash l402.Hash,
	at time.Time) (bool, error) {

	return s.resolve(ctx, hash, "state = 'canceled', canceled_at = ?", at)
}

// resolve sets a pending transaction's final state.
func (s *Store) resolve(ctx context.Context, hash l402.Hash, set string,
	at time.Time) (bool, error) {

	if err := s.Flush(ctx); err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, s.query(`UPDATE transactions SET `+
		set+` WHERE payment_hash = ? AND state = 'pending'`), at.Unix(),
		hash[:])
	if err != nil {
		return false, fmt.Errorf("%s: unable to update the transaction "+
			"of invoice %x: %w", s.name, hash, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: unable to update the transaction "+
			"of invoice %x: %w", s.name, hash, err)
	}
	return n > 0, nil
}

// PendingSince returns the payment hashes of the pending transactions and
// the smallest node add index among them (0 when some have none), for the
// catch-up with the node's invoices at start.
func (s *Store) PendingSince(ctx context.Context) (map[l402.Hash]bool,
	uint64, error) {

	if err := s.Flush(ctx); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT payment_hash, add_index
		FROM transactions WHERE state = 'pending'`)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: unable to list pending "+
			"transactions: %w", s.name, err)
	}
	defer rows.Close()
	pending := map[l402.Hash]bool{}
	var first uint64
	for rows.Next() {
		var hash []byte
		var index int64
		if err := rows.Scan(&hash, &index); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", s.name, err)
		}
		var h l402.Hash
		copy(h[:], hash)
		if len(pending) == 0 || uint64(index) < first {
			first = uint64(index)
		}
		pending[h] = true
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", s.name, err)
	}
	return pending, first, nil
}

// The Payment scheme's transactions: a charge's invoice, and a session
// challenge's deposit invoice (which opens a session, or tops one up).
const (
	SchemePayment        = "payment"
	SchemePaymentSession = "payment-session"
)

// Challenge is a Payment challenge's invoice, as its transaction records
// it: the admin API lists it beside L402's, and the node's settlement
// settles it by its payment hash.
type Challenge struct {
	PaymentHash l402.Hash
	Service     string
	PriceSat    int64
	Scheme      string // SchemePayment or SchemePaymentSession
	AddIndex    uint64
	CreatedAt   time.Time
}

// RecordChallenge queues a Payment challenge's transaction (pending) and
// returns without waiting for it, as RecordToken does. It has no token:
// its key and its token id are derived from its payment hash, so that
// one invoice recorded twice is written once (the second is no failure:
// the row is there).
func (s *Store) RecordChallenge(ctx context.Context, c Challenge) {
	s.record(ctx, bookItem{
		key:     challengeKey(c.PaymentHash),
		tokenID: c.PaymentHash, paymentHash: c.PaymentHash,
		service: c.Service, priceSat: c.PriceSat, scheme: c.Scheme,
		addIndex: c.AddIndex, createdAt: c.CreatedAt.Unix()})
}

// challengeKey is the transaction key of a Payment challenge's invoice.
func challengeKey(hash l402.Hash) [32]byte {
	return sha256.Sum256(append([]byte("payment:"), hash[:]...))
}

// ChallengeIssuance tells whether the Payment challenge c names (its
// invoice's payment hash, and the service, amount and scheme it is for)
// was issued here, by its transaction (every Payment challenge queues
// one, RecordChallenge): Recorded when the invoice's row says what c
// says; OtherToken when the payment hash's transactions are another's
// (an L402 token's) or the row says another service, amount or scheme;
// NotRecorded when there is none (the row lost to a crash, or never
// written). The challenge secret is in the database, so a reader of it
// can bind a challenge for a payment hash of its own, or for a cheap
// invoice it paid as a dearer one: this is how serve tells. It reads
// first, and writes this process's queue (Flush) and reads again only
// when it found nothing, so that a charge paid after its row was
// written (nearly all) forces no early write of the queue.
func (s *Store) ChallengeIssuance(ctx context.Context, c Challenge) (
	Issuance, error) {

	found, err := s.challengeIssuance(ctx, c)
	if err != nil || found != NotRecorded {
		return found, err
	}
	if err := s.Flush(ctx); err != nil {
		return NotRecorded, err
	}
	return s.challengeIssuance(ctx, c)
}

// challengeIssuance is one read of ChallengeIssuance: c's own row is
// its key's, for c's service, amount and scheme.
func (s *Store) challengeIssuance(ctx context.Context, c Challenge) (
	Issuance, error) {

	own := issuedRow{key: challengeKey(c.PaymentHash), service: c.Service,
		priceSat: c.PriceSat, scheme: c.Scheme}
	return s.hashIssuance(ctx, c.PaymentHash, func(r issuedRow) bool {
		return r == own
	})
}

// issuedRow is what a transaction says of the credential it was written
// for.
type issuedRow struct {
	key      [32]byte
	service  string
	priceSat int64
	scheme   string
}

// hashIssuance reads the transactions of hash: Recorded when one is the
// credential's own (own), OtherToken when only others are there, else
// NotRecorded.
func (s *Store) hashIssuance(ctx context.Context, hash l402.Hash,
	own func(issuedRow) bool) (Issuance, error) {

	rows, err := s.db.QueryContext(ctx, s.query(`SELECT id_key, service,
		price_sat, scheme FROM transactions WHERE payment_hash = ?`),
		hash[:])
	if err != nil {
		return NotRecorded, fmt.Errorf("%s: unable to read the "+
			"transactions of invoice %x: %w", s.name, hash, err)
	}
	defer rows.Close()
	found := NotRecorded
	for rows.Next() {
		var r issuedRow
		var k []byte
		if err := rows.Scan(&k, &r.service, &r.priceSat,
			&r.scheme); err != nil {
			return NotRecorded, fmt.Errorf("%s: %w", s.name, err)
		}
		if len(k) == len(r.key) {
			copy(r.key[:], k)
			if own(r) {
				return Recorded, nil
			}
		}
		found = OtherToken
	}
	if err := rows.Err(); err != nil {
		return NotRecorded, fmt.Errorf("%s: unable to read the "+
			"transactions of invoice %x: %w", s.name, hash, err)
	}
	return found, nil
}

// Issuance is what the transactions say of a token's identifier: whether
// it was issued here.
type Issuance int

const (
	// NotRecorded: no transaction has the token's payment hash. The
	// token's row was lost (a crash between its 402 and the write behind
	// it, or a failed write), or the token was never issued here.
	NotRecorded Issuance = iota

	// Recorded: the token's own transaction is there.
	Recorded

	// OtherToken: the payment hash belongs to other transactions (another
	// token of the same invoice, or a Payment charge's or deposit's), or,
	// with no transaction of the payment hash, the token ID is another
	// transaction's: the token was not issued here.
	OtherToken
)

// TokenIssuance tells whether the token with identifier id was issued
// here, by its transaction: every challenge queues one (RecordToken). It
// writes this process's queue first (Flush), so that a token minted here
// a moment ago is found. A payment hash with no transaction is asked of
// the node by the caller; so that a holder of the root key secret, with a
// paid invoice of its own whose row is not there (yet), cannot sign it
// with another token's ID (and take that token's meter bundle, rate limit
// and revocation), a token ID that another transaction has is
// OtherToken too. Token IDs are random: a token's own ID is on no other
// payment hash.
func (s *Store) TokenIssuance(ctx context.Context, id l402.Identifier) (
	Issuance, error) {

	key, err := id.Key()
	if err != nil {
		return NotRecorded, err
	}
	if err := s.Flush(ctx); err != nil {
		return NotRecorded, err
	}
	found, err := s.hashIssuance(ctx, id.PaymentHash,
		func(r issuedRow) bool { return r.key == key })
	if err != nil || found != NotRecorded {
		return found, err
	}
	return s.tokenIDIssuance(ctx, id.TokenID, key)
}

// tokenIDIssuance is TokenIssuance for a payment hash without a
// transaction: OtherToken when a transaction of another identifier has
// the token's ID, Recorded when the token's own row has appeared since
// (written by a concurrent first use), else NotRecorded.
func (s *Store) tokenIDIssuance(ctx context.Context, id l402.TokenID,
	key [32]byte) (Issuance, error) {

	rows, err := s.db.QueryContext(ctx, s.query(`SELECT id_key FROM
		transactions WHERE token_id = ?`), id[:])
	if err != nil {
		return NotRecorded, fmt.Errorf("%s: unable to read the "+
			"transactions of the token's ID: %w", s.name, err)
	}
	defer rows.Close()
	found := NotRecorded
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return NotRecorded, fmt.Errorf("%s: %w", s.name, err)
		}
		if !bytes.Equal(k, key[:]) {
			return OtherToken, nil
		}
		found = Recorded
	}
	if err := rows.Err(); err != nil {
		return NotRecorded, fmt.Errorf("%s: unable to read the "+
			"transactions of the token's ID: %w", s.name, err)
	}
	return found, nil
}
