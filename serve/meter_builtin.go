package serve

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/l402/l402/internal/store"
)

// MeterStore is where the built-in meter keeps its bundles: serve's
// database (*store.Store), shared by the replicas.
type MeterStore interface {
	BookBundle(ctx context.Context, b store.Booking) error
	ReserveBundle(ctx context.Context, key, service, model string,
		msat int64, now time.Time) (store.Hold, error)
	SettleBundle(ctx context.Context, key string, hold, costMsat int64,
		now time.Time) (store.Settled, error)
}

// modelRate is a model's rates in thousandths of a msat per token.
type modelRate struct {
	in, out int64
}

// bundleValueMsat is what a bundle of tokens of a model holds: the
// tokens at the blended rate, (input + output) / 2, rounded down.
func bundleValueMsat(tokens int64, r modelRate) int64 {
	return tokens * (r.in + r.out) / 2000
}

// bundlePriceSat is what a bundle of tokens costs: its value in sats,
// rounded up (so that the sats paid always cover the msat held), and at
// least 1.
func bundlePriceSat(tokens int64, r modelRate) int64 {
	return max(ceilDiv(tokens*(r.in+r.out), 2_000_000), 1)
}

// reservationMsat is what a request of tokens (its max_tokens, or the
// estimate) holds of a bundle: the tokens at the dearer of the model's
// two rates, rounded up.
func reservationMsat(tokens int64, r modelRate) int64 {
	return ceilDiv(tokens*max(r.in, r.out), 1000)
}

// usageMsat is what a response's usage costs: each direction at its own
// rate when the split is known, else the total at the blended rate,
// rounded up, so that the msat drawn always covers the msat served.
func usageMsat(u Usage, r modelRate) int64 {
	if u.Split {
		return ceilDiv(u.PromptTokens*r.in+u.CompletionTokens*r.out, 1000)
	}
	return ceilDiv(u.TotalTokens*(r.in+r.out), 2000)
}

// ceilDiv is a / b rounded up, for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 {
	return (a + b - 1) / b
}

// builtinMeter is the MeterBackend of a service's meter block: rates per
// model from the config, bundles in serve's database.
type builtinMeter struct {
	service      string
	store        MeterStore
	rates        map[string]modelRate
	defaultModel string
	bundleTokens int64
	estimate     int64

	// bookFor is how long an unpaid booking is kept: its invoice's
	// expiry and the challenges' grace.
	bookFor time.Duration
	now     func() time.Time
}

// newBuiltinMeter returns the built-in meter of service sc (whose meter
// block the config check validated).
func newBuiltinMeter(sc ServiceConfig, st MeterStore,
	bookFor time.Duration, now func() time.Time) (*builtinMeter, error) {

	if st == nil {
		return nil, fmt.Errorf("service %q: meter: serve has no database "+
			"to keep the bundles in", sc.Name)
	}
	m := sc.Meter
	b := &builtinMeter{service: sc.Name, store: st,
		rates: map[string]modelRate{}, defaultModel: m.DefaultModel,
		bundleTokens: m.BundleTokens, estimate: m.EstimatedTokens,
		bookFor: bookFor, now: now}
	for name, r := range m.Models {
		in, _ := milliMsat(r.InputMsatPerToken)
		out, _ := milliMsat(r.OutputMsatPerToken)
		b.rates[name] = modelRate{in, out}
		if len(m.Models) == 1 && b.defaultModel == "" {
			b.defaultModel = name
		}
	}
	return b, nil
}

// resolve returns the model a request is priced as, and its rates.
func (b *builtinMeter) resolve(req *MeterRequest) (string, modelRate,
	error) {

	model := req.Model
	if model == "" {
		model = b.defaultModel
	}
	if model == "" {
		return "", modelRate{}, fmt.Errorf("%w: the body names no "+
			"\"model\" and the service has no default", ErrMeterRequest)
	}
	r, ok := b.rates[model]
	if !ok {
		return "", modelRate{}, fmt.Errorf("%w: model %q is not sold here",
			ErrMeterRequest, truncateName(model))
	}
	return model, r, nil
}

// tokens is what a request reserves: its max_tokens, else the estimate.
func (b *builtinMeter) tokens(req *MeterRequest) int64 {
	if req.MaxTokens > 0 {
		return req.MaxTokens
	}
	return b.estimate
}

// Quote implements MeterBackend.
func (b *builtinMeter) Quote(_ context.Context, req *MeterRequest) (int64,
	error) {

	_, r, err := b.resolve(req)
	if err != nil {
		return 0, err
	}
	return bundlePriceSat(b.bundleTokens, r), nil
}

// Book implements MeterBackend.
func (b *builtinMeter) Book(ctx context.Context, req *MeterRequest,
	key MeterKey, priceSat int64) error {

	model, r, err := b.resolve(req)
	if err != nil {
		return err
	}
	now := b.now()
	return b.store.BookBundle(ctx, store.Booking{Key: key.String(),
		Service: b.service, Model: model, PriceSat: priceSat,
		ValueMsat: bundleValueMsat(b.bundleTokens, r), Now: now,
		Expires: now.Add(b.bookFor)})
}

// Authorize implements MeterBackend. A request whose reservation is more
// than a whole bundle holds could never pass: it is refused as a request
// (400), not with a 402 that no payment would answer.
func (b *builtinMeter) Authorize(ctx context.Context, req *MeterRequest,
	key MeterKey) (Admission, error) {

	model, r, err := b.resolve(req)
	if err != nil {
		return Admission{}, err
	}
	tokens := b.tokens(req)
	hold := reservationMsat(tokens, r)
	if full := bundleValueMsat(b.bundleTokens, r); hold > full {
		return Admission{}, fmt.Errorf("%w: max_tokens %d would hold %d "+
			"msat, more than a bundle of model %q holds (%d msat)",
			ErrMeterRequest, tokens, hold, model, full)
	}
	h, err := b.store.ReserveBundle(ctx, key.String(), b.service, model,
		hold, b.now())
	if err != nil {
		return Admission{}, err
	}
	a := Admission{RemainingMsat: h.BalanceMsat,
		RemainingKnown: h.Refused != store.RefusedUnknown}
	switch h.Refused {
	case store.Admitted:
		a.Allowed, a.Reservation, a.ref = true, hold, h.ID
		a.activated = h.Activated
	case store.RefusedUnknown:
		a.Reason = "unknown credential: no bundle was booked for it"
	case store.RefusedModel:
		a.Reason = fmt.Sprintf("the bundle is for model %q, the request "+
			"is for %q", h.Model, model)
	case store.RefusedShort:
		a.Reason = "bundle exhausted"
	}
	if !a.Allowed {
		a.NextPriceSat = bundlePriceSat(b.bundleTokens, r)
	}
	return a, nil
}

// Settle implements MeterBackend.
func (b *builtinMeter) Settle(ctx context.Context, req *MeterRequest,
	key MeterKey, a Admission, res *MeterResponse) (Settlement, error) {

	st := Settlement{RemainingKnown: true}
	cost := a.Reservation
	_, r, err := b.resolve(req)
	if u, ok := usageOf(res); ok && err == nil {
		cost, st.Tokens = usageMsat(u, r), u.Tokens()
	} else if !costsReservation(res) {
		cost = 0
	}
	s, err := b.store.SettleBundle(ctx, key.String(), a.ref, cost, b.now())
	if err != nil {
		return Settlement{}, err
	}
	st.DebitedMsat, st.UnbilledMsat = s.DebitedMsat, s.UnbilledMsat
	st.RemainingMsat = s.BalanceMsat
	return st, nil
}

// QuoteSession implements MeterBackend: the reservation of a bundle, in
// sats, rounded up.
func (b *builtinMeter) QuoteSession(_ context.Context,
	req *MeterRequest) (SessionQuote, error) {

	_, r, err := b.resolve(req)
	if err != nil {
		return SessionQuote{}, err
	}
	price := max(ceilDiv(reservationMsat(b.tokens(req), r), 1000), 1)
	return SessionQuote{UnitPriceSat: price}, nil
}

// SettleSession implements MeterBackend.
func (b *builtinMeter) SettleSession(_ context.Context, req *MeterRequest,
	_ [32]byte, estimateSat int64, res *MeterResponse) (int64, error) {

	_, r, err := b.resolve(req)
	if u, ok := usageOf(res); ok && err == nil {
		return ceilDiv(usageMsat(u, r), 1000), nil
	}
	if !costsReservation(res) {
		return 0, nil
	}
	return estimateSat, nil
}

// Close implements MeterBackend.
func (*builtinMeter) Close() error { return nil }

// usageOf reads the usage res reported, false when it reported none that
// can be read (a compressed tail, none in the tail).
func usageOf(res *MeterResponse) (Usage, bool) {
	if res.Bytes == 0 {
		return Usage{}, false
	}
	return ExtractUsage(res.ContentEncoding, res.Tail)
}

// costsReservation says whether a response whose usage cannot be read
// costs its reservation: one that served bytes did, unless it is a
// backend's complete, uncompressed error answer (4xx, 5xx), which an
// upstream does not bill. An abandoned stream, a compressed tail and a
// success without usage (a stream without include_usage) cost the
// reservation, never zero.
func costsReservation(res *MeterResponse) bool {
	if res.Bytes == 0 {
		return false
	}
	identity := res.ContentEncoding == "" ||
		res.ContentEncoding == "identity"
	return !(res.Complete && identity &&
		res.Status >= http.StatusBadRequest)
}
