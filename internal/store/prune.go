package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
)

// Candidate is a token whose invoice expired unpaid as far as the store
// knows: whether it may go is for the node that issued the invoice to say.
type Candidate struct {
	// Key is the row's key, sha256(identifier).
	Key [32]byte

	// PaymentHash is the hash of the token's invoice.
	PaymentHash l402.Hash
}

// PruneCandidates returns at most limit tokens with a stored root key
// (minted before root keys were derived) not known to be settled whose
// invoice expired before now, oldest expiry first. Tokens stored before
// payment hashes were recorded are never candidates; a token whose key
// is derived has no row here, and needs no pruning.
func (s *Store) PruneCandidates(ctx context.Context, now time.Time,
	limit int) ([]Candidate, error) {

	if limit <= 0 {
		return nil, fmt.Errorf("prune candidates: limit %d must be "+
			"positive", limit)
	}
	rows, err := s.db.QueryContext(ctx, s.query(`SELECT id_key, payment_hash
		FROM root_keys WHERE settled = 0 AND payment_hash IS NOT NULL
		AND invoice_expires_at < ? ORDER BY invoice_expires_at, id_key
		LIMIT ?`), now.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("%s: unable to list prune candidates: %w",
			s.name, err)
	}
	defer rows.Close()

	var out []Candidate
	for rows.Next() {
		var key, hash []byte
		if err := rows.Scan(&key, &hash); err != nil {
			return nil, fmt.Errorf("%s: unable to read a prune "+
				"candidate: %w", s.name, err)
		}
		if len(key) != 32 || len(hash) != l402.HashSize {
			return nil, fmt.Errorf("%s: root_keys row %x has a %d-byte "+
				"key and a %d-byte payment hash, want 32 each: the "+
				"database is damaged", s.name, key, len(key), len(hash))
		}
		var c Candidate
		copy(c.Key[:], key)
		copy(c.PaymentHash[:], hash)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: unable to list prune candidates: %w",
			s.name, err)
	}
	return out, nil
}

// MarkSettled records that the token's invoice was paid: it marks its
// stored root key's row (a token minted before root keys were derived),
// so that pruning never deletes it, and settles its transaction if it
// was pending. A key with neither such a row nor a pending transaction
// is an error wrapping ErrNotFound.
func (s *Store) MarkSettled(ctx context.Context, key [32]byte) error {
	if err := s.Flush(ctx); err != nil {
		return err
	}
	var n int64
	unlock := s.writer()
	defer unlock()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query(`UPDATE root_keys SET
			settled = 1 WHERE id_key = ?`), key[:])
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, s.query(`UPDATE transactions SET
			state = 'settled', settled_at = ? WHERE id_key = ? AND
			state = 'pending'`), time.Now().Unix(), key[:])
		if err != nil {
			return err
		}
		settled, err := res.RowsAffected()
		n += settled
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: unable to mark token %x settled: %w",
			s.name, key, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: token %x: %w", s.name, key, ErrNotFound)
	}
	return nil
}

// DeleteUnsettled deletes the token's row unless it was marked settled,
// marks its transaction canceled (the node said so: Prune calls this for
// canceled invoices only), and reports whether a row went.
func (s *Store) DeleteUnsettled(ctx context.Context, key [32]byte) (bool,
	error) {

	var n int64
	unlock := s.writer()
	defer unlock()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query(`DELETE FROM root_keys
			WHERE id_key = ? AND settled = 0`), key[:])
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, s.query(`UPDATE transactions SET
			state = 'canceled', canceled_at = ? WHERE id_key = ? AND
			state = 'pending'`), time.Now().Unix(), key[:])
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: unable to delete token %x: %w",
			s.name, key, err)
	}
	return n > 0, nil
}

// Stats returns how many stored root keys (of tokens minted before root
// keys were derived) the store holds and how many of them are known to
// be settled.
func (s *Store) Stats(ctx context.Context) (total, settled int64,
	err error) {

	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(settled), 0) FROM root_keys`).Scan(&total, &settled)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: unable to count tokens: %w", s.name,
			err)
	}
	return total, settled, nil
}
