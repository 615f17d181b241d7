package serve

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/l402/l402/internal/prices"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	// reportAttempts is how often a usage report (ReportUsage,
	// SettleSession) is tried against a price server that is unavailable:
	// a report that never arrives is a debit lost, so a short outage is
	// waited out, as Aperture does.
	reportAttempts = 4

	// reportFirstRetry is the wait before the second attempt; it doubles
	// for each one after.
	reportFirstRetry = 250 * time.Millisecond

	// maxKnownBalances bounds the balances a pricer meter remembers for
	// the L402-Balance-Remaining header: at 100 bytes each, 10 MB.
	maxKnownBalances = 100_000
)

// pricerMeter is the MeterBackend of a service with dynamicprice.metered: an
// external price server speaking Aperture's extended pricesrpc keeps the
// bundles and their balances (Aperture's meterd, or any server written for
// Aperture), and serve tells it about every 402, paid request and response,
// as Aperture does (docs/metering.md).
type pricerMeter struct {
	client  *prices.Client
	service string

	// retry is the wait before a report's second attempt (a field so
	// that tests can shorten it).
	retry time.Duration

	// balances remembers, per key, the last balance the server reported
	// (or, until its first report, the price the bundle was sold at), in
	// msat: AuthorizeRequest names none, and the header of each response
	// carries the balance as the request was admitted. It is this
	// replica's view: with several replicas, a balance another one
	// reported is not seen until this one reports again.
	mu       sync.Mutex
	balances map[MeterKey]int64
}

// pricerMeter is a MeterBackend.
var _ MeterBackend = (*pricerMeter)(nil)

// dialMeter is serve's HandlerOptions.DialMeter: the meter of a service
// whose dynamicprice is metered.
func dialMeter(sc ServiceConfig) (MeterBackend, error) {
	return dialPricerMeter(sc.Name, sc.DynamicPrice)
}

// dialPricerMeter prepares the meter of service over the price server in c.
// Like prices.Dial it does not connect yet.
func dialPricerMeter(service string, c DynamicPriceConfig) (*pricerMeter,
	error) {

	client, err := prices.Dial(prices.Config{Address: c.GRPCAddress,
		Insecure: c.Insecure, TLSCertPath: c.TLSCertPath})
	if err != nil {
		return nil, err
	}

	return &pricerMeter{
		client:   client,
		service:  service,
		retry:    reportFirstRetry,
		balances: make(map[MeterKey]int64),
	}, nil
}

// request serializes req for the price server from the body prefix the
// stage already read, so that the body the backend gets is not touched.
func (m *pricerMeter) request(req *MeterRequest) (prices.Request, error) {
	if req.Truncated {
		// The server reads the prefix alone: what it would read there
		// must be what the backend reads in the whole body, or a long
		// prompt could buy a dear model at a cheap one's price.
		if model, bound := modelOf(req.Body); model != req.Model ||
			bound != req.MaxTokens {
			return prices.Request{}, fmt.Errorf("%w: a price server "+
				"reads the first %d KiB of the body, and this one "+
				"names its model or output limit (max_tokens) only "+
				"after them: put them first", ErrMeterRequest,
				MeterBodyBytes>>10)
		}
	}
	r, err := prices.RequestWithBody(req.HTTP, req.Body, req.Truncated)
	if err != nil {
		return prices.Request{}, fmt.Errorf("service %s: %w", m.service,
			err)
	}
	return r, nil
}

// tokenID is the token_id Aperture sends for key: the hex of an L402
// token's ID or of a Payment charge's payment hash. A session is not a
// bundle the price server holds.
func (m *pricerMeter) tokenID(key MeterKey) (string, error) {
	if key.Kind != MeterToken && key.Kind != MeterPayment {
		return "", fmt.Errorf("service %s: the price server keeps "+
			"bundles of L402 tokens and Payment charges, not %q",
			m.service, key.String())
	}
	return key.Hex(), nil
}

// Quote asks GetPrice for the price of the next bundle. A price server
// that refuses the request as InvalidArgument (meterd: a model it does not
// sell) refuses it (400); one that answers 0 fails, since a metered
// service is never free.
func (m *pricerMeter) Quote(ctx context.Context, req *MeterRequest) (int64,
	error) {

	r, err := m.request(req)
	if err != nil {
		return 0, err
	}

	price, err := m.client.PriceOf(ctx, r)
	switch {
	case errors.Is(err, prices.ErrZeroPrice):
		return 0, fmt.Errorf("service %s is metered, so it is never "+
			"free: %w", m.service, err)
	case err != nil:
		return 0, refusedRequest(err)
	}
	return price, nil
}

// refusedRequest marks a price server's InvalidArgument as the request's
// fault (ErrMeterRequest, 400); any other error is the server's (503).
func refusedRequest(err error) error {
	if status.Code(err) == codes.InvalidArgument {
		return ErrMeterRequest.Mark(err)
	}
	return err
}

// Book tells the price server (ChallengeMinted) that a 402 selling a bundle
// under key at priceSat is about to be sent.
func (m *pricerMeter) Book(ctx context.Context, req *MeterRequest,
	key MeterKey, priceSat int64) error {

	id, err := m.tokenID(key)
	if err != nil {
		return err
	}
	r, err := m.request(req)
	if err != nil {
		return err
	}

	if err := m.client.ChallengeMinted(ctx, r, id, m.service, priceSat); err != nil {
		return err
	}
	m.remember(key, priceSat*1000, false)

	return nil
}

// Authorize asks AuthorizeRequest whether key's balance covers req. The
// server's reservation (reserved_estimate) is the admission's, returned
// to it by Settle.
func (m *pricerMeter) Authorize(ctx context.Context, req *MeterRequest,
	key MeterKey) (Admission, error) {

	id, err := m.tokenID(key)
	if err != nil {
		return Admission{}, err
	}
	r, err := m.request(req)
	if err != nil {
		return Admission{}, err
	}

	a, err := m.client.AuthorizeRequest(ctx, r, id, m.service)
	if err != nil {
		return Admission{}, err
	}

	out := Admission{
		Allowed:      a.Allowed,
		Reservation:  a.ReservedEstimate,
		NextPriceSat: a.PriceSats,
		Reason:       a.Reason,
	}
	if !a.Allowed && out.Reason == "" {
		out.Reason = "the price server refused the request"
	}
	out.RemainingMsat, out.RemainingKnown = m.balance(key)

	return out, nil
}

// Settle reports the response (ReportUsage) with the admission's
// reservation, and returns the balance the server reports after it. The
// price server reads the usage and applies its own rules for a response
// without one (meterd: an abandoned stream costs its reservation). A
// response the backend never sent is reported as the 502 the client got,
// with no tail, so that the server releases the reservation.
func (m *pricerMeter) Settle(ctx context.Context, req *MeterRequest,
	key MeterKey, a Admission, res *MeterResponse) (Settlement, error) {

	id, err := m.tokenID(key)
	if err != nil {
		return Settlement{}, err
	}

	u := prices.Usage{Key: id,
		Response:         m.response(req.HTTP.URL.Path, res),
		ReservedEstimate: a.Reservation}

	var d prices.Debit
	err = m.report(ctx, func() (err error) {
		d, err = m.client.ReportUsage(ctx, u)
		return err
	})
	if err != nil {
		return Settlement{}, fmt.Errorf("service %s: usage of %s not "+
			"reported, its debit is lost: %w", m.service, key, err)
	}

	s := Settlement{
		DebitedMsat:    d.DebitedSats * 1000,
		RemainingMsat:  d.RemainingSats * 1000,
		RemainingKnown: true,
	}
	if usage, ok := ExtractUsage(res.ContentEncoding, res.Tail); ok {
		s.Tokens = usage.Tokens()
	}
	m.remember(key, s.RemainingMsat, true)

	return s, nil
}

// QuoteSession asks QuoteSession for the price of one request drawn on a
// session. A price server without the session calls (Unimplemented: one
// written before them) quotes its GetPrice, as Aperture falls back to the
// charge price.
func (m *pricerMeter) QuoteSession(ctx context.Context, req *MeterRequest) (
	SessionQuote, error) {

	r, err := m.request(req)
	if err != nil {
		return SessionQuote{}, err
	}

	q, err := m.client.QuoteSession(ctx, r, "", m.service)
	switch {
	case status.Code(err) == codes.Unimplemented:
		price, err := m.Quote(ctx, req)
		if err != nil {
			return SessionQuote{}, err
		}
		return SessionQuote{UnitPriceSat: price}, nil

	case err != nil:
		return SessionQuote{}, refusedRequest(err)
	}

	return SessionQuote{UnitPriceSat: q.UnitPriceSats,
		DepositSat: q.DepositSats}, nil
}

// SettleSession asks SettleSession what a session request really cost. A
// price server without the session calls leaves the estimate standing.
func (m *pricerMeter) SettleSession(ctx context.Context, req *MeterRequest,
	session [32]byte, estimateSat int64, res *MeterResponse) (int64, error) {

	r, err := m.request(req)
	if err != nil {
		return 0, err
	}

	u := prices.SessionUsage{SessionID: hex.EncodeToString(session[:]),
		Response:     m.response(r.Path, res),
		EstimateSats: estimateSat, RequestText: r.Text}

	var cost int64
	err = m.report(ctx, func() (err error) {
		cost, err = m.client.SettleSession(ctx, u)
		return err
	})
	switch {
	case status.Code(err) == codes.Unimplemented:
		return estimateSat, nil
	case err != nil:
		return 0, fmt.Errorf("service %s: session request not "+
			"settled: %w", m.service, err)
	}
	return cost, nil
}

// Close closes the connection to the price server.
func (m *pricerMeter) Close() error {
	return m.client.Close()
}

// report runs call, again while the price server is unavailable, up to
// reportAttempts times, waiting m.retry and then twice as long each time,
// within ctx.
func (m *pricerMeter) report(ctx context.Context, call func() error) error {
	wait := m.retry
	for attempt := 1; ; attempt++ {
		err := call()
		if err == nil || status.Code(err) != codes.Unavailable ||
			attempt == reportAttempts {
			return err
		}

		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
}

// response is how res ended, at path, as the price server is told it.
func (m *pricerMeter) response(path string, res *MeterResponse) prices.Response {
	return prices.Response{Path: path, Service: m.service,
		Status: reportedStatus(res.Status), ContentType: res.ContentType,
		ContentEncoding: res.ContentEncoding, Complete: res.Complete,
		Tail: capTail(res.Tail)}
}

// reportedStatus is the status a report names: the backend's, or, when it
// sent none, the 502 the client got.
func reportedStatus(s int) int {
	if s < 100 || s > 999 {
		return http.StatusBadGateway
	}
	return s
}

// capTail keeps a report within the protocol's cap; the stage's tail is
// already within dynamicprice.usagetailbytes.
func capTail(tail []byte) []byte {
	if len(tail) > prices.MaxUsageTailBytes {
		return tail[len(tail)-prices.MaxUsageTailBytes:]
	}
	return tail
}

// remember records key's balance. A booking's price only fills a key the
// server has not reported on yet.
func (m *pricerMeter) remember(key MeterKey, msat int64, reported bool) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if _, ok := m.balances[key]; ok && !reported {
		return
	}
	if len(m.balances) >= maxKnownBalances {
		for k := range m.balances {
			delete(m.balances, k)
			break
		}
	}
	m.balances[key] = msat
}

// balance returns what is known of key's balance.
func (m *pricerMeter) balance(key MeterKey) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()

	msat, ok := m.balances[key]
	return msat, ok
}
