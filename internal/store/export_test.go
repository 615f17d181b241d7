package store

import (
	"context"
	"database/sql"
	"time"
)

// PutLegacyRootKey stores m's random root key in root_keys and its
// pending transaction, as l402 did before root keys were derived, for
// the tests of what still reads those rows (on either backend).
func (s *Store) PutLegacyRootKey(ctx context.Context, m Minted,
	rootKey []byte, invoiceExpiresAt time.Time) error {

	key, err := m.ID.Key()
	if err != nil {
		return err
	}
	defer s.writer()()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query(`INSERT INTO root_keys
			(id_key, root_key, service, created_at, payment_hash,
			invoice_expires_at) VALUES (?, ?, ?, ?, ?, ?)`), key[:],
			rootKey, m.Service, m.CreatedAt.Unix(), m.ID.PaymentHash[:],
			invoiceExpiresAt.Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query(`INSERT INTO transactions
			(id_key, token_id, payment_hash, service, price_sat, scheme,
			state, add_index, created_at) VALUES (?, ?, ?, ?, ?, 'l402',
			'pending', ?, ?)`), key[:], m.ID.TokenID[:],
			m.ID.PaymentHash[:], m.Service, m.PriceSat, int64(m.AddIndex),
			m.CreatedAt.Unix())
		return err
	})
}
