package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// What the built-in meter keeps (migration 0006): prepaid bundles and the
// reservations of the requests drawing on them. An admission and a
// settlement are each one transaction, whose conditional UPDATE decides:
// replicas on one Postgres database never admit two requests against the
// same last msat.

// Booking is a bundle booked as its 402 is minted.
type Booking struct {
	// Key names the bundle ("token:<hex>" or "payment:<hex>").
	Key     string
	Service string
	Model   string

	// PriceSat is what the invoice asks; ValueMsat what the bundle
	// holds once paid.
	PriceSat  int64
	ValueMsat int64

	// Now is when it was booked; Expires when an unpaid booking may be
	// pruned (its invoice can no longer be paid).
	Now     time.Time
	Expires time.Time
}

// BookBundle books b. Booking a key twice books nothing more and is not
// an error.
func (s *Store) BookBundle(ctx context.Context, b Booking) error {
	if b.Key == "" || b.ValueMsat < 0 || b.PriceSat <= 0 {
		return fmt.Errorf("bundle %q: bad booking of %d msat for %d sat",
			b.Key, b.ValueMsat, b.PriceSat)
	}
	defer s.writer()()
	_, err := s.db.ExecContext(ctx, s.query(`INSERT INTO meter_bundles
		(bundle_key, service, model, price_sat, value_msat, balance_msat,
		booked_at, book_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (bundle_key) DO NOTHING`), b.Key, b.Service, b.Model,
		b.PriceSat, b.ValueMsat, b.ValueMsat, b.Now.Unix(),
		b.Expires.Unix())
	if err != nil {
		return fmt.Errorf("%s: unable to book bundle %s: %w", s.name, b.Key,
			err)
	}
	return nil
}

// Refusal is why a bundle admitted no request.
type Refusal uint8

const (
	// Admitted: no refusal.
	Admitted Refusal = iota

	// RefusedUnknown: no bundle under the key for the service.
	RefusedUnknown

	// RefusedModel: the bundle was bought for another model.
	RefusedModel

	// RefusedShort: what is left, less what requests in flight hold,
	// does not cover the reservation.
	RefusedShort
)

// Hold is what ReserveBundle did.
type Hold struct {
	// Refused is Admitted when the reservation is held.
	Refused Refusal

	// ID names the reservation, for SettleBundle.
	ID int64

	// BalanceMsat is the bundle's balance, before this reservation and
	// not less what others hold; Model is the model it was bought for
	// ("" when unknown).
	BalanceMsat int64
	Model       string

	// Activated says that this was the bundle's first admission.
	Activated bool
}

// ReserveBundle holds msat of bundle key (of service, for model) for one
// request, when its balance less what requests in flight hold covers it.
// A refusal is a Hold, not an error.
func (s *Store) ReserveBundle(ctx context.Context, key, service,
	model string, msat int64, now time.Time) (Hold, error) {

	if msat < 0 {
		return Hold{}, fmt.Errorf("bundle %s: bad reservation of %d msat",
			key, msat)
	}
	var h Hold
	err := s.inMeterTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var uses int64
		reserve, err := s.txStmt(ctx, tx, reserveQuery)
		if err != nil {
			return err
		}
		err = reserve.QueryRowContext(ctx, msat, now.Unix(), now.Unix(),
			key, service, model, msat).Scan(&h.BalanceMsat, &uses)
		if errors.Is(err, sql.ErrNoRows) {
			h, err = s.whyShort(ctx, tx, key, service, model)
			return err
		}
		if err != nil {
			return fmt.Errorf("%s: unable to reserve on bundle %s: %w",
				s.name, key, err)
		}
		h.Model, h.Activated = model, uses == 1
		hold, err := s.txStmt(ctx, tx, holdQuery)
		if err != nil {
			return err
		}
		err = hold.QueryRowContext(ctx, key, msat, now.Unix()).Scan(&h.ID)
		if err != nil {
			return fmt.Errorf("%s: unable to reserve on bundle %s: %w",
				s.name, key, err)
		}
		return nil
	})
	if err != nil {
		return Hold{}, err
	}
	return h, nil
}

// The statements every metered request runs, prepared once per store.
const (
	// reserveQuery holds a reservation on a bundle that covers it.
	reserveQuery = `UPDATE meter_bundles SET
		reserved_msat = reserved_msat + ?, uses = uses + 1,
		activated_at = COALESCE(activated_at, ?), last_used_at = ?
		WHERE bundle_key = ? AND service = ? AND model = ? AND
		balance_msat - reserved_msat >= ? AND balance_msat > 0
		RETURNING balance_msat, uses`

	// holdQuery records the reservation.
	holdQuery = `INSERT INTO meter_reservations (bundle_key, msat,
		created_at) VALUES (?, ?, ?) RETURNING id`

	// releaseQuery drops a reservation and says what it held.
	releaseQuery = `DELETE FROM meter_reservations WHERE id = ? AND
		bundle_key = ? RETURNING msat`

	// debitQuery releases what a reservation held and takes the cost,
	// never below zero. On the right of SET, columns are the row's
	// values before the update: last_debit_msat is what this
	// settlement took.
	debitQuery = `UPDATE meter_bundles SET
		reserved_msat = CASE WHEN reserved_msat > ? THEN
			reserved_msat - ? ELSE 0 END,
		last_debit_msat = CASE WHEN balance_msat > ? THEN ? ELSE
			balance_msat END,
		unbilled_msat = unbilled_msat + CASE WHEN balance_msat > ?
			THEN 0 ELSE ? - balance_msat END,
		spent_msat = spent_msat + CASE WHEN balance_msat > ? THEN ?
			ELSE balance_msat END,
		balance_msat = CASE WHEN balance_msat > ? THEN
			balance_msat - ? ELSE 0 END,
		last_used_at = ?
		WHERE bundle_key = ?
		RETURNING balance_msat, last_debit_msat`
)

// meterQueries are the statements prepareMeter prepares.
var meterQueries = []string{reserveQuery, holdQuery, releaseQuery,
	debitQuery}

// prepareMeter prepares the meter's statements, once per store, before a
// transaction takes a connection: preparing needs one of its own, which a
// pool of one held by the transaction would never give.
func (s *Store) prepareMeter(ctx context.Context) error {
	for _, q := range meterQueries {
		if _, err := s.prepared(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// txStmt returns the statement of q, which prepareMeter prepared, in tx
// (closed with it).
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt,
	error) {

	st, ok := s.stmts.Load(q)
	if !ok {
		return nil, fmt.Errorf("%s: a meter statement was not prepared",
			s.name)
	}
	return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
}

// whyShort says why bundle key admitted nothing: unknown, of another
// model, or short.
func (s *Store) whyShort(ctx context.Context, db queryer, key, service,
	model string) (Hold, error) {

	var (
		svc string
		h   Hold
	)
	err := db.QueryRowContext(ctx, s.query(`SELECT service, model,
		balance_msat FROM meter_bundles WHERE bundle_key = ?`), key).Scan(
		&svc, &h.Model, &h.BalanceMsat)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Hold{Refused: RefusedUnknown}, nil
	case err != nil:
		return Hold{}, fmt.Errorf("%s: unable to read bundle %s: %w",
			s.name, key, err)
	case svc != service:
		return Hold{Refused: RefusedUnknown}, nil
	case h.Model != model:
		h.Refused = RefusedModel
	default:
		h.Refused = RefusedShort
	}
	return h, nil
}

// Settled is what SettleBundle did.
type Settled struct {
	// DebitedMsat is what was taken from the balance, UnbilledMsat what
	// the request cost beyond what the balance held.
	DebitedMsat  int64
	UnbilledMsat int64

	// BalanceMsat is what is left.
	BalanceMsat int64
}

// SettleBundle releases reservation hold of bundle key and takes costMsat
// from its balance, never below zero, in one transaction. A reservation
// the pruner released already is not released twice.
func (s *Store) SettleBundle(ctx context.Context, key string, hold int64,
	costMsat int64, now time.Time) (Settled, error) {

	if costMsat < 0 {
		return Settled{}, fmt.Errorf("bundle %s: bad debit of %d msat", key,
			costMsat)
	}
	var st Settled
	err := s.inMeterTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var released int64
		release, err := s.txStmt(ctx, tx, releaseQuery)
		if err != nil {
			return err
		}
		err = release.QueryRowContext(ctx, hold, key).Scan(&released)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: unable to release a reservation of "+
				"bundle %s: %w", s.name, key, err)
		}
		debit, err := s.txStmt(ctx, tx, debitQuery)
		if err != nil {
			return err
		}
		err = debit.QueryRowContext(ctx, released, released, costMsat,
			costMsat, costMsat, costMsat, costMsat, costMsat, costMsat,
			costMsat, now.Unix(), key).Scan(&st.BalanceMsat,
			&st.DebitedMsat)
		if errors.Is(err, sql.ErrNoRows) {
			// Pruned meanwhile: nothing is left to take from.
			st.UnbilledMsat = costMsat
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: unable to debit bundle %s: %w", s.name,
				key, err)
		}
		st.UnbilledMsat = costMsat - st.DebitedMsat
		return nil
	})
	if err != nil {
		return Settled{}, err
	}
	return st, nil
}

// Bundle is a bundle as stored.
type Bundle struct {
	Service      string
	Model        string
	PriceSat     int64
	ValueMsat    int64
	BalanceMsat  int64
	ReservedMsat int64
	SpentMsat    int64
	UnbilledMsat int64
	Uses         int64
	Activated    bool
}

// Bundle returns bundle key, and false when there is none.
func (s *Store) Bundle(ctx context.Context, key string) (Bundle, bool,
	error) {

	var (
		b         Bundle
		activated sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, s.query(`SELECT service, model,
		price_sat, value_msat, balance_msat, reserved_msat, spent_msat,
		unbilled_msat, uses, activated_at FROM meter_bundles WHERE
		bundle_key = ?`), key).Scan(&b.Service, &b.Model, &b.PriceSat,
		&b.ValueMsat, &b.BalanceMsat, &b.ReservedMsat, &b.SpentMsat,
		&b.UnbilledMsat, &b.Uses, &activated)
	if errors.Is(err, sql.ErrNoRows) {
		return Bundle{}, false, nil
	}
	if err != nil {
		return Bundle{}, false, fmt.Errorf("%s: unable to read bundle %s: "+
			"%w", s.name, key, err)
	}
	b.Activated = activated.Valid
	return b, true, nil
}

// Reservations returns how many reservations are held, and their msat:
// the requests in flight on every replica.
func (s *Store) Reservations(ctx context.Context) (int64, int64, error) {
	var n, msat int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(msat),
		0) FROM meter_reservations`).Scan(&n, &msat)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: unable to count reservations: %w",
			s.name, err)
	}
	return n, msat, nil
}

// PruneMeter drops the bookings never activated whose invoice expired
// before now, and releases the reservations made before stale (of
// requests whose replica stopped before they settled). It returns how
// many of each.
func (s *Store) PruneMeter(ctx context.Context, now, stale time.Time) (
	bookings, reservations int64, err error) {

	defer s.writer()()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query(`DELETE FROM meter_bundles
			WHERE activated_at IS NULL AND book_expires_at < ?`), now.Unix())
		if err != nil {
			return fmt.Errorf("%s: unable to prune bookings: %w", s.name,
				err)
		}
		bookings, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, s.query(`UPDATE meter_bundles SET
			reserved_msat = CASE WHEN reserved_msat > held.msat THEN
				reserved_msat - held.msat ELSE 0 END
			FROM (SELECT bundle_key AS held_key, SUM(msat) AS msat FROM
				meter_reservations WHERE created_at < ? GROUP BY
				bundle_key) AS held
			WHERE bundle_key = held.held_key`), stale.Unix()); err != nil {
			return fmt.Errorf("%s: unable to release stale reservations: "+
				"%w", s.name, err)
		}
		res, err = tx.ExecContext(ctx, s.query(`DELETE FROM
			meter_reservations WHERE created_at < ?`), stale.Unix())
		if err != nil {
			return fmt.Errorf("%s: unable to release stale reservations: "+
				"%w", s.name, err)
		}
		reservations, _ = res.RowsAffected()
		return nil
	})
	return bookings, reservations, err
}

// SettleSessionDraw reconciles a request drawn on session id of service
// with what it cost: drawnSat was taken before it was proxied, costSat is
// what it cost. The difference goes back to the balance, or the rest is
// taken (never below zero). It returns the balance; a session closed
// meanwhile is left as it is (its refund went out), with balance 0.
func (s *Store) SettleSessionDraw(ctx context.Context, id [32]byte,
	service string, drawnSat, costSat int64) (int64, error) {

	if drawnSat < 0 || costSat < 0 {
		return 0, fmt.Errorf("session %x: bad settlement of %d against %d "+
			"sat", id, costSat, drawnSat)
	}
	if s.ledger != nil {
		if balance, held := s.ledger.settleHeld(s, id, service, drawnSat,
			costSat); held {
			return balance, nil
		}
		unlock, err := s.releaseSession(id)
		if err != nil {
			return 0, err
		}
		defer unlock()
	}
	if drawnSat == costSat {
		var balance int64
		err := s.db.QueryRowContext(ctx, s.query(`SELECT balance_sat FROM
			mpp_sessions WHERE session_id = ?`), id[:]).Scan(&balance)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("%s: unable to read session %x: %w",
				s.name, id, err)
		}
		return balance, nil
	}
	defer s.writer()()
	var balance int64
	err := s.db.QueryRowContext(ctx, s.query(`UPDATE mpp_sessions SET
		spent_sat = spent_sat - ? + CASE WHEN balance_sat + ? > ? THEN ?
			ELSE balance_sat + ? END,
		balance_sat = CASE WHEN balance_sat + ? > ? THEN
			balance_sat + ? - ? ELSE 0 END
		WHERE session_id = ? AND service = ? AND status = 'open'
		RETURNING balance_sat`), drawnSat, drawnSat, costSat, costSat,
		drawnSat, drawnSat, costSat, drawnSat, costSat, id[:],
		service).Scan(&balance)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: unable to settle a draw on session %x: "+
			"%w", s.name, id, err)
	}
	return balance, nil
}
