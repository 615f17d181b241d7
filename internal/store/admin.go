package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/l402/l402/internal/l402"
)

// AdminRootKey returns the admin macaroon's root key, storing fresh as it
// when the database has none yet: every replica of one database shares
// the key, so one admin macaroon works with all of them.
func (s *Store) AdminRootKey(ctx context.Context, fresh []byte) ([]byte,
	error) {

	if _, err := s.db.ExecContext(ctx, s.query(`UPDATE admin_state SET
		admin_root_key = ? WHERE id = 1 AND admin_root_key IS NULL`),
		fresh); err != nil {
		return nil, fmt.Errorf("%s: unable to store the admin root key: %w",
			s.name, err)
	}
	var key []byte
	if err := s.db.QueryRowContext(ctx, `SELECT admin_root_key FROM
		admin_state WHERE id = 1`).Scan(&key); err != nil {
		return nil, fmt.Errorf("%s: unable to read the admin root key: %w",
			s.name, err)
	}
	return key, nil
}

// ServiceRow is a service created or changed through the admin API. A nil
// field keeps the config file's value.
type ServiceRow struct {
	Name    string
	Seq     int64
	Created bool
	Deleted bool

	Address, Protocol, HostRegexp, PathRegexp *string
	Price                                     *int64
	Auth, AuthScheme                          *string

	UpdatedAt time.Time
}

// Generations are the counters replicas poll to see a change: of the
// admin services, and the newest revocation's sequence number.
type Generations struct {
	Services    int64
	Revocations int64
}

// Generations returns the current generations, in one cheap query.
func (s *Store) Generations(ctx context.Context) (Generations, error) {
	var g Generations
	err := s.db.QueryRowContext(ctx, `SELECT services_gen, (SELECT
		COALESCE(MAX(seq), 0) FROM revoked_tokens) FROM admin_state
		WHERE id = 1`).Scan(&g.Services, &g.Revocations)
	if err != nil {
		return g, fmt.Errorf("%s: unable to read the admin generations: %w",
			s.name, err)
	}
	return g, nil
}

// ServiceRows returns every admin service row, created ones in their
// order of creation, and the generation they are of.
func (s *Store) ServiceRows(ctx context.Context) ([]ServiceRow, int64,
	error) {

	var rows []ServiceRow
	var gen int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT services_gen FROM
			admin_state WHERE id = 1`).Scan(&gen); err != nil {
			return err
		}
		r, err := tx.QueryContext(ctx, `SELECT name, seq, created,
			deleted, address, protocol, host_regexp, path_regexp, price,
			auth, auth_scheme, updated_at FROM admin_services ORDER BY
			seq, name`)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			row, err := scanServiceRow(r)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return r.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("%s: unable to read the admin services: "+
			"%w", s.name, err)
	}
	return rows, gen, nil
}

// scanServiceRow reads one admin_services row.
func scanServiceRow(r scanner) (ServiceRow, error) {
	var row ServiceRow
	var created, deleted int64
	var addr, proto, host, path, auth, scheme sql.NullString
	var price sql.NullInt64
	var updated int64
	if err := r.Scan(&row.Name, &row.Seq, &created, &deleted, &addr,
		&proto, &host, &path, &price, &auth, &scheme, &updated); err != nil {
		return row, err
	}
	row.Created, row.Deleted = created == 1, deleted == 1
	str := func(v sql.NullString) *string {
		if !v.Valid {
			return nil
		}
		return &v.String
	}
	row.Address, row.Protocol = str(addr), str(proto)
	row.HostRegexp, row.PathRegexp = str(host), str(path)
	row.Auth, row.AuthScheme = str(auth), str(scheme)
	if price.Valid {
		row.Price = &price.Int64
	}
	row.UpdatedAt = time.Unix(updated, 0).UTC()
	return row, nil
}

// PutServiceRow stores a row in place of the one of its name (a new row
// takes the next seq) and bumps the services generation, in one
// transaction, so that every replica rebuilds its services.
func (s *Store) PutServiceRow(ctx context.Context, row ServiceRow) error {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query(`INSERT INTO
			admin_services (name, seq, created, deleted, address,
			protocol, host_regexp, path_regexp, price, auth, auth_scheme,
			updated_at) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM
			admin_services), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET created = excluded.created,
			deleted = excluded.deleted, address = excluded.address,
			protocol = excluded.protocol,
			host_regexp = excluded.host_regexp,
			path_regexp = excluded.path_regexp, price = excluded.price,
			auth = excluded.auth, auth_scheme = excluded.auth_scheme,
			updated_at = excluded.updated_at`), row.Name, b(row.Created),
			b(row.Deleted), row.Address, row.Protocol, row.HostRegexp,
			row.PathRegexp, row.Price, row.Auth, row.AuthScheme,
			row.UpdatedAt.Unix()); err != nil {
			return err
		}
		return bumpServices(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("%s: unable to store service %q: %w", s.name,
			row.Name, err)
	}
	return nil
}

// DeleteServiceRow deletes the row of a name and bumps the services
// generation; it reports whether there was one.
func (s *Store) DeleteServiceRow(ctx context.Context, name string) (bool,
	error) {

	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query(`DELETE FROM admin_services
			WHERE name = ?`), name)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return bumpServices(ctx, tx)
	})
	if err != nil {
		return false, fmt.Errorf("%s: unable to delete service %q: %w",
			s.name, name, err)
	}
	return n > 0, nil
}

// bumpServices increments the services generation.
func bumpServices(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE admin_state SET services_gen =
		services_gen + 1 WHERE id = 1`)
	return err
}

// ErrAlreadyRevoked is returned when a token is revoked twice.
var ErrAlreadyRevoked = errors.New("the token is already revoked")

// Revoke records that a token is revoked, for every replica, and marks its
// transaction so. A token revoked before is an error wrapping
// ErrAlreadyRevoked.
func (s *Store) Revoke(ctx context.Context, id l402.TokenID,
	at time.Time) error {

	if err := s.Flush(ctx); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query(`INSERT INTO
			revoked_tokens (token_id, revoked_at) VALUES (?, ?)`), id[:],
			at.Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query(`UPDATE transactions SET
			revoked_at = ? WHERE token_id = ?`), at.Unix(), id[:])
		return err
	})
	if isDuplicate(err) {
		return fmt.Errorf("%s: token %s: %w", s.name, id, ErrAlreadyRevoked)
	}
	if err != nil {
		return fmt.Errorf("%s: unable to revoke token %s: %w", s.name, id,
			err)
	}
	return nil
}

// Revoked is a revoked token and its sequence number.
type Revoked struct {
	Seq     int64
	TokenID l402.TokenID
}

// RevokedSince returns the revocations with a sequence number above seq,
// in order.
func (s *Store) RevokedSince(ctx context.Context, seq int64) ([]Revoked,
	error) {

	rows, err := s.db.QueryContext(ctx, s.query(`SELECT seq, token_id FROM
		revoked_tokens WHERE seq > ? ORDER BY seq`), seq)
	if err != nil {
		return nil, fmt.Errorf("%s: unable to read revocations: %w",
			s.name, err)
	}
	defer rows.Close()
	var out []Revoked
	for rows.Next() {
		var r Revoked
		var id []byte
		if err := rows.Scan(&r.Seq, &id); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		copy(r.TokenID[:], id)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: unable to read revocations: %w",
			s.name, err)
	}
	return out, nil
}

// IsRevoked reports whether a token is revoked, asking the database.
func (s *Store) IsRevoked(ctx context.Context, id l402.TokenID) (bool,
	error) {

	var n int64
	err := s.db.QueryRowContext(ctx, s.query(`SELECT COUNT(*) FROM
		revoked_tokens WHERE token_id = ?`), id[:]).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("%s: unable to check revocation: %w",
			s.name, err)
	}
	return n > 0, nil
}

// AddPaidRequests adds counts of paid requests, by service, to day's.
func (s *Store) AddPaidRequests(ctx context.Context, day time.Time,
	counts map[string]int64) error {

	d := day.UTC().Format(time.DateOnly)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for service, n := range counts {
			if _, err := tx.ExecContext(ctx, s.query(`INSERT INTO
				paid_requests (day, service, count) VALUES (?, ?, ?)
				ON CONFLICT (day, service) DO UPDATE SET count =
				paid_requests.count + excluded.count`), d, service,
				n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: unable to count paid requests: %w", s.name,
			err)
	}
	return nil
}

// Day is one service's figures of one UTC day.
type Day struct {
	Date    string // YYYY-MM-DD
	Service string

	// RevenueSat and Settled count the transactions settled that day,
	// Challenges those created that day, PaidRequests the requests
	// served with a paid token.
	RevenueSat   int64
	Settled      int64
	Challenges   int64
	PaidRequests int64

	// ShadowChallenges are the challenges a service in shadow mode would
	// have sent that day, ShadowRevenueSat what they asked.
	ShadowChallenges int64
	ShadowRevenueSat int64
}

// DailyStats returns the figures of every day and service between from and to
// (inclusive; zero times leave the range open), ordered by day and
// service.
func (s *Store) DailyStats(ctx context.Context, from, to time.Time) ([]Day,
	error) {

	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	lo, hi := int64(0), int64(1<<62)
	if !from.IsZero() {
		lo = from.Unix()
	}
	if !to.IsZero() {
		hi = to.Unix()
	}
	days := map[[2]string]*Day{}
	get := func(date, service string) *Day {
		k := [2]string{date, service}
		if days[k] == nil {
			days[k] = &Day{Date: date, Service: service}
		}
		return days[k]
	}
	if err := s.statsOf(ctx, `SELECT created_at, service, price_sat, state,
		settled_at FROM transactions WHERE (created_at BETWEEN ? AND ?) OR
		(settled_at BETWEEN ? AND ?)`, []any{lo, hi, lo, hi},
		func(created int64, service string, price int64, state string,
			settled sql.NullInt64) {
			if created >= lo && created <= hi {
				get(dateOf(created), service).Challenges++
			}
			if state == StateSettled && settled.Valid &&
				settled.Int64 >= lo && settled.Int64 <= hi {
				d := get(dateOf(settled.Int64), service)
				d.Settled++
				d.RevenueSat += price
			}
		}); err != nil {
		return nil, err
	}
	if err := s.paidRequests(ctx, from, to, get); err != nil {
		return nil, err
	}
	if err := s.shadowChallenges(ctx, from, to, get); err != nil {
		return nil, err
	}
	out := make([]Day, 0, len(days))
	for _, d := range days {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Date != out[j].Date {
			return out[i].Date < out[j].Date
		}
		return out[i].Service < out[j].Service
	})
	return out, nil
}

// statsOf runs the transactions query of DailyStats and hands each row to f.
func (s *Store) statsOf(ctx context.Context, q string, args []any,
	f func(created int64, service string, price int64, state string,
		settled sql.NullInt64)) error {

	rows, err := s.db.QueryContext(ctx, s.query(q), args...)
	if err != nil {
		return fmt.Errorf("%s: unable to read the statistics: %w", s.name,
			err)
	}
	defer rows.Close()
	for rows.Next() {
		var created, price int64
		var service, state string
		var settled sql.NullInt64
		if err := rows.Scan(&created, &service, &price, &state,
			&settled); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		f(created, service, price, state, settled)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: unable to read the statistics: %w", s.name,
			err)
	}
	return nil
}

// dayRange is the days of from..to, open where a time is zero.
func dayRange(from, to time.Time) (string, string) {
	lo, hi := "0000-00-00", "9999-99-99"
	if !from.IsZero() {
		lo = from.UTC().Format(time.DateOnly)
	}
	if !to.IsZero() {
		hi = to.UTC().Format(time.DateOnly)
	}
	return lo, hi
}

// paidRequests adds the paid requests of the days from..to to get's days.
func (s *Store) paidRequests(ctx context.Context, from, to time.Time,
	get func(date, service string) *Day) error {

	lo, hi := dayRange(from, to)
	rows, err := s.db.QueryContext(ctx, s.query(`SELECT day, service, count
		FROM paid_requests WHERE day BETWEEN ? AND ?`), lo, hi)
	if err != nil {
		return fmt.Errorf("%s: unable to read the paid requests: %w",
			s.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var day, service string
		var n int64
		if err := rows.Scan(&day, &service, &n); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		get(day, service).PaidRequests += n
	}
	return rows.Err()
}

// dateOf is the UTC day of Unix seconds.
func dateOf(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(time.DateOnly)
}
