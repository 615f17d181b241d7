package tokens

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/l402"
)

// The kinds of ledger entries: a purchase buys a token, a charge or a
// session's first deposit; a top-up adds to a session's deposit and a
// refund returns what a session left (money in, which no cap counts).
const (
	KindPurchase = "purchase"
	KindTopUp    = "top-up"
	KindRefund   = "refund"
)

// ErrRefundHash: a payment to the payment hash of a refund the ledger
// received (a session's return invoice). The server that paid the refund
// knows its preimage and can sell an invoice of that hash; the ledger,
// keyed by payment hash, would keep the refund's row, and no cap would
// count what left the node. Nothing is paid.
var ErrRefundHash = fault.New("refund_hash", "a payment to the payment "+
	"hash of a refund received")

// kinds are the values the ledger keeps for a kind.
var kinds = map[string]bool{KindPurchase: true, KindTopUp: true,
	KindRefund: true}

// kindOf returns a pending payment's kind, KindPurchase when unset, or
// an error for a value the ledger does not know.
func kindOf(p Pending) (string, error) {
	kind := p.Kind
	if kind == "" {
		kind = KindPurchase
	}
	if !kinds[kind] {
		return "", fmt.Errorf("unable to record a %q payment: the ledger "+
			"knows the kinds purchase, top-up and refund", kind)
	}
	return kind, nil
}

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

// HistoryFilter selects entries of History; its zero value selects all.
type HistoryFilter struct {
	// Origin keeps one origin's entries.
	Origin string

	// Since keeps the entries of this time or later (paid, or recorded
	// as pending).
	Since time.Time

	// State keeps only "paid" or only "pending" entries.
	State string
}

// Entry is one payment of the history: a ledger row (state paid) or a
// pending payment whose outcome is not known yet. Its JSON field names are
// stable for agents (`l402 tokens history --json`).
type Entry struct {
	// Time is when it was paid, or recorded as pending.
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	State string    `json:"state"`

	// Scheme is l402 or payment.
	Scheme      string `json:"scheme"`
	Origin      string `json:"origin"`
	PaymentHash string `json:"payment_hash"`

	// The amounts in sats (rounded up) and msat; a pending payment's fee
	// is the most it may cost, which the caps count it at.
	AmountSat  int64 `json:"amount_sat"`
	FeeSat     int64 `json:"fee_sat"`
	AmountMsat int64 `json:"amount_msat"`
	FeeMsat    int64 `json:"fee_msat"`
}

// History returns the payments f selects, newest first: the ledger's and
// the pending ones.
func (s *Store) History(ctx context.Context, f HistoryFilter) ([]Entry,
	error) {

	if f.State != "" && f.State != "paid" && f.State != "pending" {
		return nil, fmt.Errorf("history state %q: paid or pending",
			f.State)
	}
	var since int64
	if !f.Since.IsZero() {
		since = f.Since.Unix()
	}
	var out []Entry
	for _, q := range []struct {
		state, query string
	}{
		{"paid", `SELECT payment_hash, origin, amount_msat, fee_msat,
			paid_at, scheme, kind FROM payments`},
		{"pending", `SELECT payment_hash, origin, amount_msat,
			max_fee_msat, created_at, scheme, kind FROM pending`},
	} {
		if f.State != "" && f.State != q.state {
			continue
		}
		at := "paid_at"
		if q.state == "pending" {
			at = "created_at"
		}
		entries, err := s.historyRows(ctx, q.state, q.query+
			` WHERE (? = '' OR origin = ?) AND `+at+` >= ?`, f.Origin,
			f.Origin, since)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].PaymentHash < out[j].PaymentHash
	})
	return out, nil
}

// historyRows reads the entries of one query, in the given state.
func (s *Store) historyRows(ctx context.Context, state, query string,
	args ...any) ([]Entry, error) {

	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			e   = Entry{State: state}
			hsh []byte
			at  int64
		)
		if err := rows.Scan(&hsh, &e.Origin, &e.AmountMsat, &e.FeeMsat,
			&at, &e.Scheme, &e.Kind); err != nil {
			return nil, err
		}
		if len(hsh) != l402.HashSize {
			return nil, errors.New("ledger entry with a corrupt hash")
		}
		var h l402.Hash
		copy(h[:], hsh)
		e.PaymentHash = h.String()
		e.Time = time.Unix(at, 0).UTC()
		e.AmountSat, e.FeeSat = MsatToSat(e.AmountMsat), MsatToSat(e.FeeMsat)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ParseSince reads a --since value: a duration back from now ("90m",
// "24h", or whole days "7d"), an RFC 3339 time, or a date (YYYY-MM-DD,
// midnight UTC).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 &&
			n <= 100*366 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("since %q: a duration back "+
				"from now cannot be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since %q: give a duration back from "+
		"now (90m, 24h, 7d), an RFC 3339 time (2026-05-01T12:00:00Z) or "+
		"a date (2026-05-01)", s)
}
