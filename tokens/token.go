package tokens

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"gopkg.in/macaroon.v2"
)

// Token is a paid L402 token for one origin.
type Token struct {
	Origin      string
	Macaroon    []byte // binary
	Preimage    l402.Preimage
	PaymentHash l402.Hash
	AmountMsat  int64
	FeeMsat     int64
	CreatedAt   time.Time
}

// Credential decodes the token into the credential a request carries.
func (t Token) Credential() (l402.Credential, error) {
	var mac macaroon.Macaroon
	if err := mac.UnmarshalBinary(t.Macaroon); err != nil {
		return l402.Credential{}, fmt.Errorf("stored macaroon for %s is "+
			"corrupt: %w", t.Origin, err)
	}
	return l402.Credential{Macaroon: &mac, Preimage: t.Preimage}, nil
}

// ValidUntil returns the earliest <service>_valid_until of the token's
// caveats, and false when it has none.
func (t Token) ValidUntil() (time.Time, bool) {
	cred, err := t.Credential()
	if err != nil {
		return time.Time{}, false
	}
	caveats, err := l402.Caveats(cred.Macaroon)
	if err != nil {
		return time.Time{}, false
	}
	var (
		min   int64 = math.MaxInt64
		found bool
	)
	for _, c := range caveats {
		if !strings.HasSuffix(c.Condition, l402.CondValidUntilSuffix) {
			continue
		}
		v, err := strconv.ParseInt(c.Value, 10, 64)
		if err == nil && v < min {
			min, found = v, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return time.Unix(min, 0), true
}

// The schemes a payment is made for: an L402 token, or a Payment (MPP)
// charge, which buys one request and is never a token.
const (
	SchemeL402    = "l402"
	SchemePayment = "payment"
)

// Pending is a payment recorded before it was made.
type Pending struct {
	PaymentHash l402.Hash
	Origin      string

	// Scheme is SchemeL402 (also when empty) or SchemePayment.
	Scheme string

	// Macaroon is an L402 challenge's, binary; empty for a Payment
	// charge, whose Challenge is the JSON of the challenge it answers,
	// echoed unchanged in the credential once the invoice is paid.
	Macaroon  []byte
	Challenge string

	Invoice    string
	AmountMsat int64
	MaxFeeMsat int64 // the fee limit the payment was made with
	CreatedAt  time.Time

	// Kind goes into the ledger with the payment: KindPurchase when
	// empty, KindTopUp for a session's top-up.
	Kind string

	// ReturnInvoice is a session open's: the amountless invoice of the
	// buyer's node its open credential names for the refund.
	ReturnInvoice string

	// URL is a session open's: the URL it was asked for.
	URL string
}

// scheme returns the pending payment's scheme, SchemeL402 when unset.
func (p Pending) scheme() string {
	if p.Scheme == "" {
		return SchemeL402
	}
	return p.Scheme
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanToken reads one tokens row.
func scanToken(r scanner) (Token, error) {
	var (
		t             Token
		preimage, hsh []byte
		created       int64
	)
	err := r.Scan(&t.Origin, &t.Macaroon, &preimage, &hsh, &t.AmountMsat,
		&t.FeeMsat, &created)
	if err != nil {
		return t, err
	}
	if len(preimage) != l402.HashSize || len(hsh) != l402.HashSize {
		return t, fmt.Errorf("token for %s is corrupt", t.Origin)
	}
	copy(t.Preimage[:], preimage)
	copy(t.PaymentHash[:], hsh)
	t.CreatedAt = time.Unix(created, 0)
	return t, nil
}

const tokenColumns = `origin, macaroon, preimage, payment_hash, amount_msat,
	fee_msat, created_at`

// Token returns the token for an origin, or ErrNotFound.
func (s *Store) Token(ctx context.Context, origin string) (Token, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+`
		FROM tokens WHERE origin = ?`, origin)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("no token for %s: %w", origin, ErrNotFound)
	}
	return t, err
}

// Tokens returns every token, by origin.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+`
		FROM tokens ORDER BY origin`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// PutToken stores a token, replacing the origin's previous one. It is for
// `tokens import`; bought tokens arrive through CompletePending.
func (s *Store) PutToken(ctx context.Context, t Token) error {
	if t.Preimage.Hash() != t.PaymentHash {
		return l402.ErrPreimageMismatch
	}
	return upsertToken(ctx, s.db, t)
}

// execer is a *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (
		sql.Result, error)
}

// upsertToken stores t as its origin's token.
func upsertToken(ctx context.Context, db execer, t Token) error {
	_, err := db.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (origin) DO UPDATE SET macaroon = excluded.macaroon,
			preimage = excluded.preimage,
			payment_hash = excluded.payment_hash,
			amount_msat = excluded.amount_msat,
			fee_msat = excluded.fee_msat,
			created_at = excluded.created_at`,
		t.Origin, t.Macaroon, t.Preimage[:], t.PaymentHash[:], t.AmountMsat,
		t.FeeMsat, t.CreatedAt.Unix())
	return err
}

// RemoveToken deletes an origin's token, or returns ErrNotFound.
func (s *Store) RemoveToken(ctx context.Context, origin string) error {
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM tokens WHERE origin = ?`, origin)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no token for %s: %w", origin, ErrNotFound)
	}
	return nil
}

// Clear deletes every token and returns how many there were. Pending
// payments and the ledger stay: forgetting a pending payment could pay it
// twice, and the ledger is what budgets are checked against.
func (s *Store) Clear(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM tokens`)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AddPending records a payment about to be made. It must be called, and
// succeed, before the node is asked to pay. An L402 payment has its
// challenge's macaroon, a Payment charge its challenge.
func (s *Store) AddPending(ctx context.Context, p Pending) error {
	switch scheme := p.scheme(); {
	case scheme == SchemeL402 && len(p.Macaroon) == 0:
		return errors.New("an L402 pending payment needs its macaroon")
	case scheme == SchemePayment && (p.Challenge == "" ||
		len(p.Macaroon) != 0):
		return errors.New("a Payment pending payment has its challenge " +
			"and no macaroon")
	case scheme != SchemeL402 && scheme != SchemePayment:
		return fmt.Errorf("unknown payment scheme %q", scheme)
	}
	kind, err := kindOf(p)
	if err != nil {
		return err
	}
	mac := p.Macaroon
	if mac == nil {
		mac = []byte{} // the column is NOT NULL
	}
	var refunds int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments
		WHERE payment_hash = ? AND kind = ?`, p.PaymentHash[:],
		KindRefund).Scan(&refunds); err != nil {
		return err
	}
	if refunds > 0 {
		return ErrRefundHash.Mark(fmt.Errorf("refusing to pay %s: its "+
			"payment hash %s is that of a refund received (the server "+
			"that paid it knows the preimage); nothing was paid",
			p.Origin, p.PaymentHash))
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO pending (payment_hash,
		origin, scheme, macaroon, challenge, invoice, amount_msat,
		max_fee_msat, created_at, kind, return_invoice, url) VALUES (?, ?,
		?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.PaymentHash[:], p.Origin,
		p.scheme(), mac, p.Challenge, p.Invoice, p.AmountMsat, p.MaxFeeMsat,
		p.CreatedAt.Unix(), kind, p.ReturnInvoice, p.URL)
	if err != nil {
		return fmt.Errorf("unable to record the pending payment: %w", err)
	}
	return nil
}

const pendingColumns = `payment_hash, origin, scheme, macaroon, challenge,
	invoice, amount_msat, max_fee_msat, created_at, kind, return_invoice,
	url`

// scanPending reads one pending row.
func scanPending(r scanner) (Pending, error) {
	var (
		p       Pending
		hsh     []byte
		created int64
	)
	if err := r.Scan(&hsh, &p.Origin, &p.Scheme, &p.Macaroon,
		&p.Challenge, &p.Invoice, &p.AmountMsat, &p.MaxFeeMsat,
		&created, &p.Kind, &p.ReturnInvoice, &p.URL); err != nil {
		return p, err
	}
	if len(hsh) != l402.HashSize {
		return p, errors.New("pending payment with a corrupt hash")
	}
	copy(p.PaymentHash[:], hsh)
	p.CreatedAt = time.Unix(created, 0)
	return p, nil
}

// PendingFor returns the pending payments of an origin, oldest first; of
// every origin when origin is empty.
func (s *Store) PendingFor(ctx context.Context, origin string) ([]Pending,
	error) {

	rows, err := s.db.QueryContext(ctx, `SELECT `+pendingColumns+`
		FROM pending WHERE ? = '' OR origin = ?
		ORDER BY created_at, payment_hash`, origin, origin)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		p, err := scanPending(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PendingPayment returns the pending payment of a payment hash, or
// ErrNotFound.
func (s *Store) PendingPayment(ctx context.Context, hash l402.Hash) (
	Pending, error) {

	p, err := scanPending(s.db.QueryRowContext(ctx, `SELECT `+
		pendingColumns+` FROM pending WHERE payment_hash = ?`, hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("no pending payment %s: %w", hash, ErrNotFound)
	}
	return p, err
}

// CompletePending turns a pending payment that succeeded into a ledger
// entry and, for L402, the origin's token, in one transaction: the old
// token is replaced only now that the new one is in hand. A Payment
// charge stores no token (its credential buys one request, and is never
// sent twice): the Token returned then has the origin, the hash, the
// preimage and the amounts, and no macaroon.
func (s *Store) CompletePending(ctx context.Context, hash l402.Hash,
	preimage l402.Preimage, feeMsat int64, at time.Time) (Token, error) {

	if preimage.Hash() != hash {
		return Token{}, l402.ErrPreimageMismatch
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, err
	}
	defer tx.Rollback()

	var (
		t            = Token{PaymentHash: hash, Preimage: preimage, FeeMsat: feeMsat}
		scheme, kind string
		challenge    string
		ret, url     string
		created      int64
	)
	err = tx.QueryRowContext(ctx, `SELECT origin, scheme, kind, macaroon,
		amount_msat, created_at, challenge, return_invoice, url FROM pending
		WHERE payment_hash = ?`, hash[:]).Scan(&t.Origin, &scheme, &kind,
		&t.Macaroon, &t.AmountMsat, &created, &challenge, &ret, &url)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("no pending payment %s: %w", hash,
			ErrNotFound)
	}
	if err != nil {
		return Token{}, err
	}
	t.CreatedAt = time.Unix(at.Unix(), 0)

	// A server that sells a payment hash already paid gets no second
	// ledger entry, and the pending row still resolves. A refund's row
	// of the hash (money in, which AddPending refuses to pay out to, but
	// which a close may have recorded while this was pending) becomes
	// the payment's: what left the node is what the caps count.
	if _, err := tx.ExecContext(ctx, `INSERT INTO payments (payment_hash,
		origin, scheme, kind, amount_msat, fee_msat, paid_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (payment_hash) DO UPDATE
		SET origin = excluded.origin, scheme = excluded.scheme,
		kind = excluded.kind, amount_msat = excluded.amount_msat,
		fee_msat = excluded.fee_msat, paid_at = excluded.paid_at
		WHERE payments.kind = ?`,
		hash[:], t.Origin, scheme, kind, t.AmountMsat, feeMsat,
		at.Unix(), KindRefund); err != nil {
		return Token{}, fmt.Errorf("unable to record the payment: %w", err)
	}
	if scheme == SchemePayment && IsSessionChallenge(challenge) {
		// A session's deposit: the session (an open) or its held
		// top-up, with the ledger's row.
		if err := completeSession(ctx, tx, t.Origin, kind, challenge, ret,
			url, hash, preimage, t.AmountMsat, at); err != nil {
			return Token{}, err
		}
	}
	if scheme == SchemePayment {
		t.Macaroon = nil
	} else if err := upsertToken(ctx, tx, t); err != nil {
		return Token{}, fmt.Errorf("unable to store the token: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM pending
		WHERE payment_hash = ?`, hash[:]); err != nil {
		return Token{}, err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, fmt.Errorf("unable to store the payment: %w", err)
	}
	return t, nil
}

// DropPending forgets a pending payment that failed for good, or returns
// ErrNotFound.
func (s *Store) DropPending(ctx context.Context, hash l402.Hash) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM pending
		WHERE payment_hash = ?`, hash[:])
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no pending payment %s: %w", hash, ErrNotFound)
	}
	return nil
}

// Spent returns what was paid since a time, amounts and fees in msat,
// counting pending payments recorded since then at their amount and fee
// limit (they may still settle; one that settles later counts from the
// time it settled). An empty origin counts every origin. A session's
// refund is money in, and is not counted: it does not reopen a cap (a
// server cannot raise one).
func (s *Store) Spent(ctx context.Context, origin string, since time.Time) (
	int64, error) {

	var paid, pending int64
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(amount_msat + fee_msat), 0) FROM payments
		WHERE (? = '' OR origin = ?) AND paid_at >= ? AND kind != ?`,
		origin, origin, since.Unix(), KindRefund).Scan(&paid)
	if err != nil {
		return 0, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(amount_msat + max_fee_msat), 0)
		FROM pending WHERE (? = '' OR origin = ?) AND created_at >= ?`,
		origin, origin, since.Unix()).Scan(&pending)
	if err != nil {
		return 0, err
	}
	return paid + pending, nil
}

// OriginStats sums the ledger for one origin.
type OriginStats struct {
	Origin     string
	Payments   int
	AmountMsat int64
	FeeMsat    int64
}

// Stats returns the ledger's payments (refunds left out) summed per
// origin, by origin.
func (s *Store) Stats(ctx context.Context) ([]OriginStats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT origin, COUNT(*),
		SUM(amount_msat), SUM(fee_msat) FROM payments WHERE kind != ?
		GROUP BY origin ORDER BY origin`, KindRefund)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OriginStats
	for rows.Next() {
		var st OriginStats
		if err := rows.Scan(&st.Origin, &st.Payments, &st.AmountMsat,
			&st.FeeMsat); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
