package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Shadow is what a service in shadow mode would have asked: the
// challenges it would have sent and their prices' sum.
type Shadow struct {
	Challenges int64
	PriceSat   int64
}

// AddShadowChallenges adds shadow mode's would-be challenges, by service,
// to day's.
func (s *Store) AddShadowChallenges(ctx context.Context, day time.Time,
	counts map[string]Shadow) error {

	d := day.UTC().Format(time.DateOnly)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for service, n := range counts {
			if _, err := tx.ExecContext(ctx, s.query(`INSERT INTO
				shadow_challenges (day, service, count, price_sat)
				VALUES (?, ?, ?, ?) ON CONFLICT (day, service) DO UPDATE
				SET count = shadow_challenges.count + excluded.count,
				price_sat = shadow_challenges.price_sat +
				excluded.price_sat`), d, service, n.Challenges,
				n.PriceSat); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: unable to count shadow challenges: %w",
			s.name, err)
	}
	return nil
}

// shadowChallenges adds the would-be challenges of the days from..to to
// get's days.
func (s *Store) shadowChallenges(ctx context.Context, from, to time.Time,
	get func(date, service string) *Day) error {

	lo, hi := dayRange(from, to)
	rows, err := s.db.QueryContext(ctx, s.query(`SELECT day, service, count,
		price_sat FROM shadow_challenges WHERE day BETWEEN ? AND ?`), lo, hi)
	if err != nil {
		return fmt.Errorf("%s: unable to read the shadow challenges: %w",
			s.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var day, service string
		var n, sat int64
		if err := rows.Scan(&day, &service, &n, &sat); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		d := get(day, service)
		d.ShadowChallenges += n
		d.ShadowRevenueSat += sat
	}
	return rows.Err()
}
