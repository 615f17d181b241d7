package mcp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/l402/l402/tokens"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TokenInfo is one token or pending payment: `l402 tokens --json`'s
// fields, and lnget's (domain, created, pending).
type TokenInfo struct {
	Origin      string     `json:"origin" jsonschema:"scheme://host:port, the key of the token"`
	Domain      string     `json:"domain" jsonschema:"lnget's key: the host, with the port when not 80 or 443"`
	State       string     `json:"state" jsonschema:"paid, or pending: a payment whose outcome is not known yet"`
	Pending     bool       `json:"pending"`
	PaymentHash string     `json:"payment_hash"`
	AmountSat   int64      `json:"amount_sat"`
	FeeSat      int64      `json:"fee_sat"`
	CreatedAt   time.Time  `json:"created_at"`
	Created     string     `json:"created" jsonschema:"created_at as lnget writes it (UTC)"`
	ValidUntil  *time.Time `json:"valid_until" jsonschema:"the token's expiry from its caveats; null: none"`
	Expired     bool       `json:"expired"`
	Caveats     []string   `json:"caveats,omitempty"`
}

// tokenInfo adds lnget's fields to a view.
func tokenInfo(v tokens.View) TokenInfo {
	return TokenInfo{
		Origin:      v.Origin,
		Domain:      tokens.Domain(v.Origin),
		State:       v.State,
		Pending:     v.State == "pending",
		PaymentHash: v.PaymentHash,
		AmountSat:   v.AmountSat,
		FeeSat:      v.FeeSat,
		CreatedAt:   v.CreatedAt,
		Created:     v.CreatedAt.UTC().Format(time.DateTime),
		ValidUntil:  v.ValidUntil,
		Expired:     v.Expired,
		Caveats:     v.Caveats,
	}
}

// NoArgs are the arguments of a tool that takes none.
type NoArgs struct{}

// OriginArgs name one origin's token: by origin or URL, or by lnget's
// domain.
type OriginArgs struct {
	Origin string `json:"origin,omitempty" jsonschema:"the origin (https://host[:port]) or any URL of it"`
	Domain string `json:"domain,omitempty" jsonschema:"lnget's name for it: the host, with the port when not 80 or 443"`
}

// TokensList is tokens_list's result.
type TokensList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// TokenRemoved is tokens_remove's result.
type TokenRemoved struct {
	Removed bool   `json:"removed"`
	Origin  string `json:"origin"`
	Domain  string `json:"domain"`
}

// withStore opens the token store for one call.
func (s *Server) withStore(ctx context.Context,
	f func(*tokens.Store) error) error {

	store, err := tokens.Open(ctx, s.cfg.TokenStore)
	if err != nil {
		return plainError(err)
	}
	defer store.Close()
	if err := f(store); err != nil {
		return plainError(err)
	}
	return nil
}

// tokensList is tokens_list.
func (s *Server) tokensList(ctx context.Context, _ *sdk.CallToolRequest,
	_ NoArgs) (*sdk.CallToolResult, *TokensList, error) {

	out := &TokensList{Tokens: []TokenInfo{}}
	err := s.withStore(ctx, func(store *tokens.Store) error {
		views, err := store.Views(ctx, time.Now())
		for _, v := range views {
			out.Tokens = append(out.Tokens, tokenInfo(v))
		}
		return err
	})
	return nil, out, err
}

// tokensShow is tokens_show.
func (s *Server) tokensShow(ctx context.Context, _ *sdk.CallToolRequest,
	in OriginArgs) (*sdk.CallToolResult, *TokenInfo, error) {

	var out TokenInfo
	err := s.withStore(ctx, func(store *tokens.Store) error {
		origin, err := resolveOrigin(ctx, store, in)
		if err != nil {
			return err
		}
		v, err := store.Show(ctx, origin, time.Now())
		out = tokenInfo(v)
		return err
	})
	return nil, &out, err
}

// tokensRemove is tokens_remove.
func (s *Server) tokensRemove(ctx context.Context, _ *sdk.CallToolRequest,
	in OriginArgs) (*sdk.CallToolResult, *TokenRemoved, error) {

	var out TokenRemoved
	err := s.withStore(ctx, func(store *tokens.Store) error {
		origin, err := resolveOrigin(ctx, store, in)
		if err != nil {
			return err
		}
		if err := store.RemoveToken(ctx, origin); err != nil {
			return err
		}
		out = TokenRemoved{Removed: true, Origin: origin,
			Domain: tokens.Domain(origin)}
		return nil
	})
	return nil, &out, err
}

// resolveOrigin returns the origin the arguments name. An origin or URL
// is taken as it is; an lnget domain, which has no scheme, is the origin
// of the store's one token whose host and port it names.
func resolveOrigin(ctx context.Context, store *tokens.Store,
	in OriginArgs) (string, error) {

	switch {
	case in.Origin != "" && in.Domain != "":
		return "", ErrBadOptions.Mark(errors.New("name the token by " +
			"origin or by domain, not both"))
	case in.Origin != "":
		o, err := tokens.ParseOrigin(in.Origin)
		return o, ErrBadOptions.Mark(err)
	case in.Domain == "":
		return "", ErrBadOptions.Mark(errors.New("name the token: origin " +
			"(https://host[:port]) or domain (host[:port])"))
	}
	o, err := store.ResolveName(ctx, in.Domain)
	if errors.Is(err, tokens.ErrAmbiguous) || errors.Is(err,
		tokens.ErrBadName) {
		return "", ErrBadOptions.Mark(err)
	}
	return o, err
}

// HistoryArgs filter spending_history (lnget: events_list, whose
// arguments they are, and origin and since).
type HistoryArgs struct {
	Limit  int    `json:"limit,omitempty" jsonschema:"at most this many events (default 50)"`
	Offset int    `json:"offset,omitempty" jsonschema:"skip this many of the newest first"`
	Domain string `json:"domain,omitempty" jsonschema:"only this lnget domain (host[:port])"`
	Origin string `json:"origin,omitempty" jsonschema:"only this origin (https://host[:port]) or URL's"`
	Since  string `json:"since,omitempty" jsonschema:"only events since then: a duration back from now (24h, 7d), an RFC 3339 time or a date"`
	Status string `json:"status,omitempty" jsonschema:"only success (paid) or pending; l402 keeps no failed payments"`
}

// Event is one payment, as lnget's events_list reports it, with the
// ledger's kind.
type Event struct {
	Origin      string    `json:"origin"`
	Domain      string    `json:"domain"`
	PaymentHash string    `json:"payment_hash"`
	AmountSat   int64     `json:"amount_sat"`
	FeeSat      int64     `json:"fee_sat" jsonschema:"the fee paid; of a pending payment, the most it may cost"`
	Status      string    `json:"status" jsonschema:"success or pending"`
	Scheme      string    `json:"scheme" jsonschema:"l402, or payment (the Payment scheme)"`
	Kind        string    `json:"kind" jsonschema:"purchase; top-up and refund come with sessions"`
	CreatedAt   time.Time `json:"created_at" jsonschema:"when it was paid, or recorded as pending"`
}

// History is spending_history's result.
type History struct {
	Events []Event `json:"events"`
	Count  int     `json:"count"`
}

// history is spending_history and events_list: `l402 tokens history`'s
// entries (tokens' History), newest first, with lnget's names.
func (s *Server) history(ctx context.Context, _ *sdk.CallToolRequest,
	in HistoryArgs) (*sdk.CallToolResult, *History, error) {

	if in.Limit < 0 || in.Offset < 0 {
		return nil, nil, plainError(ErrBadOptions.Mark(errors.New(
			"limit and offset cannot be negative")))
	}
	if in.Limit == 0 {
		in.Limit = 50
	}
	f := tokens.HistoryFilter{}
	switch in.Status {
	case "":
	case "success":
		f.State = "paid"
	case "pending":
		f.State = "pending"
	case "failed":
		// l402 keeps no failed payments.
		return nil, &History{Events: []Event{}}, nil
	default:
		return nil, nil, plainError(ErrBadOptions.Mark(fmt.Errorf(
			"status %q: success, pending or failed", in.Status)))
	}
	if in.Since != "" {
		t, err := tokens.ParseSince(in.Since, time.Now())
		if err != nil {
			return nil, nil, plainError(ErrBadOptions.Mark(err))
		}
		f.Since = t
	}
	if in.Origin != "" {
		o, err := tokens.ParseOrigin(in.Origin)
		if err != nil {
			return nil, nil, plainError(ErrBadOptions.Mark(err))
		}
		f.Origin = o
	}
	out := &History{Events: []Event{}}
	err := s.withStore(ctx, func(store *tokens.Store) error {
		entries, err := store.History(ctx, f)
		if err != nil {
			return err
		}
		var events []Event
		for _, e := range entries {
			if in.Domain != "" && tokens.Domain(e.Origin) != tokens.NormalDomain(
				in.Domain) {
				continue
			}
			status := "success"
			if e.State == "pending" {
				status = "pending"
			}
			events = append(events, Event{Origin: e.Origin,
				Domain: tokens.Domain(e.Origin), PaymentHash: e.PaymentHash,
				AmountSat: e.AmountSat, FeeSat: e.FeeSat, Status: status,
				Scheme: e.Scheme, Kind: e.Kind, CreatedAt: e.Time})
		}
		if in.Offset < len(events) {
			events = events[in.Offset:]
			if len(events) > in.Limit {
				events = events[:in.Limit]
			}
			out.Events = events
		}
		out.Count = len(out.Events)
		return nil
	})
	return nil, out, err
}

// Stats is spending_stats' result: `l402 tokens stats --json`'s fields,
// lnget's events_stats fields, and the last 24 hours against the caps.
type Stats struct {
	Origins  []tokens.OriginSpending `json:"origins"`
	Payments int                     `json:"payments"`
	SpentSat int64                   `json:"spent_sat"`
	FeesSat  int64                   `json:"fees_sat"`

	TotalSpentSat   int64 `json:"total_spent_sat"`
	TotalFeesSat    int64 `json:"total_fees_sat"`
	TotalPayments   int64 `json:"total_payments"`
	ActiveTokens    int   `json:"active_tokens" jsonschema:"tokens held and not expired"`
	DomainsAccessed int   `json:"domains_accessed" jsonschema:"origins paid"`

	Spent24hSat int64  `json:"spent_24h_sat" jsonschema:"spent in the last 24 hours, fees included, pending payments at their most"`
	Limits      Limits `json:"limits" jsonschema:"the caps in force, the user's"`
}

// stats is spending_stats and events_stats.
func (s *Server) stats(ctx context.Context, _ *sdk.CallToolRequest,
	_ NoArgs) (*sdk.CallToolResult, *Stats, error) {

	out := &Stats{Limits: s.limits}
	err := s.withStore(ctx, func(store *tokens.Store) error {
		sp, err := store.Spending(ctx)
		if err != nil {
			return err
		}
		out.Origins, out.Payments = sp.Origins, sp.Payments
		out.SpentSat, out.FeesSat = sp.SpentSat, sp.FeesSat
		out.TotalSpentSat, out.TotalFeesSat = sp.SpentSat, sp.FeesSat
		out.TotalPayments = int64(sp.Payments)
		out.DomainsAccessed = len(sp.Origins)

		views, err := store.Views(ctx, time.Now())
		if err != nil {
			return err
		}
		for _, v := range views {
			if v.State == "paid" && !v.Expired {
				out.ActiveTokens++
			}
		}
		spent, err := store.Spent(ctx, "", time.Now().Add(-24*time.Hour))
		out.Spent24hSat = tokens.MsatToSat(spent)
		return err
	})
	return nil, out, err
}
