package tokens

import (
	"context"
	"errors"
	"time"

	"github.com/l402/l402/internal/l402"
)

// Payment is one entry of the ledger: a payment that succeeded.
type Payment struct {
	PaymentHash l402.Hash
	Origin      string
	Scheme      string // SchemeL402 or SchemePayment
	AmountMsat  int64
	FeeMsat     int64
	PaidAt      time.Time
}

// Payments returns the ledger, newest first: every origin's when origin
// is empty, and at most limit entries when limit is above zero.
func (s *Store) Payments(ctx context.Context, origin string, limit int) (
	[]Payment, error) {

	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT payment_hash, origin, scheme,
		amount_msat, fee_msat, paid_at FROM payments
		WHERE ? = '' OR origin = ? ORDER BY paid_at DESC, payment_hash
		LIMIT ?`, origin, origin, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		var (
			p    Payment
			hsh  []byte
			paid int64
		)
		if err := rows.Scan(&hsh, &p.Origin, &p.Scheme, &p.AmountMsat,
			&p.FeeMsat, &paid); err != nil {
			return nil, err
		}
		if len(hsh) != l402.HashSize {
			return nil, errors.New("ledger entry with a corrupt hash")
		}
		copy(p.PaymentHash[:], hsh)
		p.PaidAt = time.Unix(paid, 0)
		out = append(out, p)
	}
	return out, rows.Err()
}
