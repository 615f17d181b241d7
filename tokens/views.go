package tokens

import (
	"context"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// View is a token or pending payment as `l402 tokens` shows it; its JSON
// field names are stable for agents.
type View struct {
	Origin      string     `json:"origin"`
	State       string     `json:"state"`  // "paid", "pending" or "session"
	Scheme      string     `json:"scheme"` // "l402" or "payment"
	PaymentHash string     `json:"payment_hash"`
	AmountSat   int64      `json:"amount_sat"`
	FeeSat      int64      `json:"fee_sat"`
	CreatedAt   time.Time  `json:"created_at"`
	ValidUntil  *time.Time `json:"valid_until"`
	Expired     bool       `json:"expired"`
	Caveats     []string   `json:"caveats,omitempty"`

	// A session's (state "session"): its balance as fetch reckons it,
	// the price of a request, whether the server has accepted its open
	// ("opening" or "open"), and the realm and service. PaymentHash is
	// the session id, AmountSat every deposit paid into it.
	BalanceSat   *int64 `json:"balance_sat,omitempty"`
	PriceSat     int64  `json:"price_sat,omitempty"`
	SessionState string `json:"session_state,omitempty"`
	Realm        string `json:"realm,omitempty"`
	Service      string `json:"service,omitempty"`
}

// SessionViews lists every Payment session, by origin, as `l402 tokens
// list` shows them (state "session").
func (s *Store) SessionViews(ctx context.Context) ([]View, error) {
	sessions, err := s.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(sessions))
	for _, sess := range sessions {
		out = append(out, sessionView(sess))
	}
	return out, nil
}

// sessionView describes a session; never its preimage.
func sessionView(s Session) View {
	balance := s.BalanceSat
	return View{Origin: s.Origin, State: "session", Scheme: SchemePayment,
		PaymentHash: s.ID.String(), AmountSat: s.DepositSat,
		CreatedAt: s.CreatedAt.UTC(), BalanceSat: &balance,
		PriceSat: s.PriceSat, SessionState: s.State, Realm: s.Realm,
		Service: s.Service}
}

// MsatToSat rounds msat up to whole sats, as every l402 report does.
func MsatToSat(msat int64) int64 { return (msat + 999) / 1000 }

// viewOf describes a token; with caveats, its macaroon's caveats too.
func viewOf(t Token, now time.Time, caveats bool) View {
	v := View{
		Origin:      t.Origin,
		State:       "paid",
		Scheme:      SchemeL402,
		PaymentHash: t.PaymentHash.String(),
		AmountSat:   MsatToSat(t.AmountMsat),
		FeeSat:      MsatToSat(t.FeeMsat),
		CreatedAt:   t.CreatedAt.UTC(),
	}
	if until, ok := t.ValidUntil(); ok {
		u := until.UTC()
		v.ValidUntil = &u
		v.Expired = !now.Before(until) // as serve decides (internal/l402)
	}
	if caveats {
		if cred, err := t.Credential(); err == nil {
			cs, _ := l402.Caveats(cred.Macaroon)
			for _, c := range cs {
				v.Caveats = append(v.Caveats, c.String())
			}
		}
	}
	return v
}

// Views lists every token and every pending payment, by origin.
// Sessions are SessionViews'.
func (s *Store) Views(ctx context.Context, now time.Time) ([]View, error) {
	toks, err := s.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	pend, err := s.PendingFor(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(toks)+len(pend))
	for _, t := range toks {
		out = append(out, viewOf(t, now, false))
	}
	for _, p := range pend {
		out = append(out, View{
			Origin:      p.Origin,
			State:       "pending",
			Scheme:      p.scheme(),
			PaymentHash: p.PaymentHash.String(),
			AmountSat:   MsatToSat(p.AmountMsat),
			CreatedAt:   p.CreatedAt.UTC(),
		})
	}
	return out, nil
}

// PendingView is a pending payment as `l402 tokens pending` shows it;
// its JSON field names are stable for agents.
type PendingView struct {
	Origin      string    `json:"origin"`
	Scheme      string    `json:"scheme"` // "l402" or "payment"
	PaymentHash string    `json:"payment_hash"`
	AmountSat   int64     `json:"amount_sat"`
	MaxFeeSat   int64     `json:"max_fee_sat"`
	CreatedAt   time.Time `json:"created_at"`

	// InvoiceExpiresAt is when the invoice stops being payable, nil when
	// it does not decode; InvoiceExpired says that time has passed.
	InvoiceExpiresAt *time.Time `json:"invoice_expires_at"`
	InvoiceExpired   bool       `json:"invoice_expired"`
	Invoice          string     `json:"invoice"`
}

// PendingViews lists every pending payment, oldest first, with its
// invoice's expiry as of now.
func (s *Store) PendingViews(ctx context.Context, now time.Time) (
	[]PendingView, error) {

	pend, err := s.PendingFor(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]PendingView, 0, len(pend))
	for _, p := range pend {
		v := PendingView{
			Origin:      p.Origin,
			Scheme:      p.scheme(),
			PaymentHash: p.PaymentHash.String(),
			AmountSat:   MsatToSat(p.AmountMsat),
			MaxFeeSat:   MsatToSat(p.MaxFeeMsat),
			CreatedAt:   p.CreatedAt.UTC(),
			Invoice:     p.Invoice,
		}
		if at, ok := invoiceExpiry(p.Invoice); ok {
			u := at.UTC()
			v.InvoiceExpiresAt = &u
			v.InvoiceExpired = now.After(at)
		}
		out = append(out, v)
	}
	return out, nil
}

// invoiceExpiry returns when a BOLT11 invoice stops being payable,
// decoded for its own network; false when it does not decode.
func invoiceExpiry(invoice string) (time.Time, bool) {
	nets, err := lightning.InvoiceNetworks(invoice)
	if err != nil {
		return time.Time{}, false
	}
	inv, err := lightning.DecodeInvoice(invoice, nets[0])
	if err != nil {
		return time.Time{}, false
	}
	return inv.ExpiresAt(), true
}

// Show describes one origin's token with its caveats.
func (s *Store) Show(ctx context.Context, origin string, now time.Time) (
	View, error) {

	t, err := s.Token(ctx, origin)
	if err != nil {
		return View{}, err
	}
	return viewOf(t, now, true), nil
}

// OriginSpending is one origin's row of Spending; its JSON field names are
// stable for agents.
type OriginSpending struct {
	Origin    string `json:"origin"`
	Payments  int    `json:"payments"`
	AmountSat int64  `json:"amount_sat"`
	FeeSat    int64  `json:"fee_sat"`
}

// Spending is the ledger summed per origin and in all, in sats, as
// `l402 tokens stats` shows it.
type Spending struct {
	Origins  []OriginSpending `json:"origins"`
	Payments int              `json:"payments"`
	SpentSat int64            `json:"spent_sat"`
	FeesSat  int64            `json:"fees_sat"`
}

// Spending sums the ledger per origin, in sats rounded up per origin.
func (s *Store) Spending(ctx context.Context) (Spending, error) {
	stats, err := s.Stats(ctx)
	if err != nil {
		return Spending{}, err
	}
	out := Spending{Origins: []OriginSpending{}}
	for _, st := range stats {
		r := OriginSpending{st.Origin, st.Payments,
			MsatToSat(st.AmountMsat), MsatToSat(st.FeeMsat)}
		out.Origins = append(out.Origins, r)
		out.Payments += r.Payments
		out.SpentSat += r.AmountSat
		out.FeesSat += r.FeeSat
	}
	return out, nil
}
