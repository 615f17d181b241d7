package prices

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"
	"unicode"

	"github.com/l402/l402/internal/prices/pricesrpc"
)

const (
	// DefaultUsageTailBytes is how much of the end of a response a usage
	// report carries when dynamicprice.usagetailbytes is not set: 16 KiB,
	// Aperture's default.
	DefaultUsageTailBytes = 16 << 10

	// MaxUsageTailBytes is the most a usage report may carry: 1 MiB, the
	// cap Aperture documents for usagetailbytes.
	MaxUsageTailBytes = 1 << 20

	// maxReasonRunes is how much of a price server's reason for a refusal
	// is kept: enough for a sentence, not for a page in every log line.
	maxReasonRunes = 200
)

// ErrBadUsage is wrapped by ReportUsage and SettleSession when the report
// itself is wrong (no key, a tail above MaxUsageTailBytes, a status that
// is not HTTP's), before anything is sent.
var ErrBadUsage = errors.New("bad usage report")

// Admission is a price server's answer to AuthorizeRequest.
type Admission struct {
	// Allowed is true when the request may go to the backend.
	Allowed bool

	// PriceSats is, when not allowed, the price of the next bundle; 0
	// means the server named none and GetPrice is to be asked.
	PriceSats int64

	// Reason is the server's reason for a refusal, cut to a sentence and
	// stripped of control characters.
	Reason string

	// ReservedEstimate is the server's reservation for the request, in its
	// own units, to be returned unchanged in the request's Usage.
	ReservedEstimate int64
}

// Response is how a metered request's response ended: what ReportUsage
// and SettleSession both hand the server.
type Response struct {
	// Path and Service are the request's URL path and the service's name.
	Path    string
	Service string

	// Status, ContentType and ContentEncoding are the backend's.
	Status          int
	ContentType     string
	ContentEncoding string

	// Complete is true when the body reached its end.
	Complete bool

	// Tail is the last bytes of the body, MaxUsageTailBytes at most.
	Tail []byte
}

// Usage is an admitted request's response, for ReportUsage.
type Usage struct {
	// Key is the balance's key the request was admitted under (an L402
	// token ID or a Payment charge's payment hash, in lowercase hex).
	Key string

	Response

	// ReservedEstimate is the Admission's, unchanged.
	ReservedEstimate int64
}

// Debit is a price server's answer to ReportUsage, in satoshis.
type Debit struct {
	// DebitedSats is what the response cost.
	DebitedSats int64

	// RemainingSats is the balance left. A server that lets concurrent
	// requests overdraw a bundle may answer less than zero; that reads
	// as 0.
	RemainingSats int64
}

// SessionQuote is a price server's answer to QuoteSession, in satoshis.
type SessionQuote struct {
	// UnitPriceSats is the estimated cost of one such request, at least 1.
	UnitPriceSats int64

	// DepositSats is the deposit a fresh session should ask for; 0
	// leaves it to the proxy.
	DepositSats int64
}

// SessionUsage is a session request's response, for SettleSession.
type SessionUsage struct {
	// SessionID is the session the request drew on.
	SessionID string

	Response

	// EstimateSats is what was deducted from the session up front.
	EstimateSats int64

	// RequestText is the request's Text (NewRequest, RequestWithBody),
	// so that the server can tell which model it costs.
	RequestText string
}

// Request is what the metered calls say about an HTTP request: its URL
// path (unescaped, no query) and its text, as GetPrice sends them.
type Request struct {
	Path string
	Text string
}

// NewRequest reads r's text: the request line and header fields, then at
// most MaxBodyBytes of the body, which stays readable from the start.
func NewRequest(r *http.Request) (Request, error) {
	text, err := requestText(r)
	if err != nil {
		return Request{}, err
	}
	return Request{Path: r.URL.Path, Text: text}, nil
}

// RequestWithBody is NewRequest for a caller that already read the first
// bytes of r's body (at most MaxBodyBytes; truncated says there was more):
// r.Body is not touched.
func RequestWithBody(r *http.Request, prefix []byte, truncated bool) (
	Request, error) {

	if len(prefix) > MaxBodyBytes {
		prefix, truncated = prefix[:MaxBodyBytes], true
	}
	head, err := httputil.DumpRequest(r, false)
	if err != nil {
		return Request{}, fmt.Errorf("unable to serialize the request "+
			"for the price server: %w", err)
	}
	return Request{Path: r.URL.Path,
		Text: validUTF8(string(head)+string(prefix), truncated)}, nil
}

// ChallengeMinted tells the server that a 402 selling the bundle keyed by
// key at priceSats is about to be sent for r, so that it books the bundle.
// An error means the bundle is not booked, and the challenge must not be
// sent: its buyer would pay for nothing.
func (c *Client) ChallengeMinted(ctx context.Context, r Request,
	key, service string, priceSats int64) error {

	const method = "ChallengeMinted"
	if key == "" {
		return fmt.Errorf("price server %s: %s without a token ID",
			c.addr, method)
	}

	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	_, err := c.rpc.ChallengeMinted(callCtx, &pricesrpc.ChallengeMintedRequest{
		Path:            r.Path,
		HttpRequestText: r.Text,
		TokenId:         key,
		PriceSats:       priceSats,
		ServiceName:     service,
	})
	if err != nil {
		return c.callError(ctx, method, err)
	}

	return nil
}

// AuthorizeRequest asks the server whether the balance keyed by key covers
// r. A refusal is an Admission with Allowed false, not an error; an error
// means there is no answer (the server is down, slow, or answered a value
// out of range), and the request must not be served.
func (c *Client) AuthorizeRequest(ctx context.Context, r Request,
	key, service string) (Admission, error) {

	const method = "AuthorizeRequest"
	if key == "" {
		return Admission{}, fmt.Errorf("price server %s: %s without "+
			"a token ID", c.addr, method)
	}

	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	resp, err := c.rpc.AuthorizeRequest(callCtx,
		&pricesrpc.AuthorizeRequestRequest{
			Path:            r.Path,
			HttpRequestText: r.Text,
			TokenId:         key,
			ServiceName:     service,
		})
	if err != nil {
		return Admission{}, c.callError(ctx, method, err)
	}

	a := Admission{
		Allowed:          resp.GetAllowed(),
		PriceSats:        resp.GetPriceSats(),
		Reason:           cleanReason(resp.GetReason()),
		ReservedEstimate: resp.GetReservedEstimate(),
	}
	if err := c.checkRange(method, "price_sats", a.PriceSats, 0); err != nil {
		return Admission{}, err
	}
	if a.ReservedEstimate < 0 {
		return Admission{}, fmt.Errorf("price server %s answered %s "+
			"with reserved_estimate %d (%w): a reservation cannot "+
			"be negative", c.addr, method, a.ReservedEstimate,
			ErrBadPrice)
	}

	return a, nil
}

// ReportUsage hands the server the end of an admitted request's response.
// It is bounded by the configured timeout and ctx; a caller that wants the
// report to outlive the request passes a context of its own.
func (c *Client) ReportUsage(ctx context.Context, u Usage) (Debit, error) {
	const method = "ReportUsage"
	if err := c.checkUsage(method, u.Key, u.Status, u.Tail); err != nil {
		return Debit{}, err
	}

	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	resp, err := c.rpc.ReportUsage(callCtx, &pricesrpc.ReportUsageRequest{
		TokenId:          u.Key,
		Path:             u.Path,
		ServiceName:      u.Service,
		HttpStatus:       int32(u.Status),
		ContentType:      u.ContentType,
		Complete:         u.Complete,
		ResponseTail:     u.Tail,
		ContentEncoding:  u.ContentEncoding,
		ReservedEstimate: u.ReservedEstimate,
	})
	if err != nil {
		return Debit{}, c.callError(ctx, method, err)
	}

	d := Debit{
		DebitedSats:   resp.GetDebitedSats(),
		RemainingSats: max(resp.GetRemainingSats(), 0),
	}
	if err := c.checkRange(method, "debited_sats", d.DebitedSats, 0); err != nil {
		return Debit{}, err
	}
	if err := c.checkRange(method, "remaining_sats", d.RemainingSats, 0); err != nil {
		return Debit{}, err
	}

	return d, nil
}

// QuoteSession asks the server the estimated cost of r against the session
// sessionID (empty for the quote in a fresh challenge). A unit price of 0
// wraps ErrZeroPrice: a server that leaves it unset quotes nothing.
func (c *Client) QuoteSession(ctx context.Context, r Request,
	sessionID, service string) (SessionQuote, error) {

	const method = "QuoteSession"

	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	resp, err := c.rpc.QuoteSession(callCtx, &pricesrpc.QuoteSessionRequest{
		Path:            r.Path,
		HttpRequestText: r.Text,
		ServiceName:     service,
		SessionId:       sessionID,
	})
	if err != nil {
		return SessionQuote{}, c.callError(ctx, method, err)
	}

	q := SessionQuote{
		UnitPriceSats: resp.GetUnitPriceSats(),
		DepositSats:   resp.GetDepositSats(),
	}
	if q.UnitPriceSats == 0 {
		return SessionQuote{}, fmt.Errorf("price server %s answered %s "+
			"with unit_price_sats 0 (%w): a unit price must be at "+
			"least 1 sat", c.addr, method, ErrZeroPrice)
	}
	if err := c.checkRange(method, "unit_price_sats", q.UnitPriceSats, 1); err != nil {
		return SessionQuote{}, err
	}
	if err := c.checkRange(method, "deposit_sats", q.DepositSats, 0); err != nil {
		return SessionQuote{}, err
	}

	return q, nil
}

// SettleSession asks the server what a session request really cost, in
// satoshis, from the end of its response.
func (c *Client) SettleSession(ctx context.Context, u SessionUsage) (int64,
	error) {

	const method = "SettleSession"
	if err := c.checkUsage(method, u.SessionID, u.Status, u.Tail); err != nil {
		return 0, err
	}

	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	resp, err := c.rpc.SettleSession(callCtx, &pricesrpc.SettleSessionRequest{
		SessionId:       u.SessionID,
		Path:            u.Path,
		ServiceName:     u.Service,
		HttpStatus:      int32(u.Status),
		ContentType:     u.ContentType,
		ContentEncoding: u.ContentEncoding,
		Complete:        u.Complete,
		ResponseTail:    u.Tail,
		EstimateSats:    u.EstimateSats,
		HttpRequestText: u.RequestText,
	})
	if err != nil {
		return 0, c.callError(ctx, method, err)
	}

	cost := resp.GetCostSats()
	if err := c.checkRange(method, "cost_sats", cost, 0); err != nil {
		return 0, err
	}

	return cost, nil
}

// checkUsage refuses a report without a key, with a tail above
// MaxUsageTailBytes or with a status that HTTP has no room for.
func (c *Client) checkUsage(method, key string, status int, tail []byte) error {
	switch {
	case key == "":
		return fmt.Errorf("price server %s: %s without a key (%w)",
			c.addr, method, ErrBadUsage)

	case len(tail) > MaxUsageTailBytes:
		return fmt.Errorf("price server %s: %s with a tail of %d "+
			"bytes (%w): the most is %d", c.addr, method, len(tail),
			ErrBadUsage, MaxUsageTailBytes)

	case status < 100 || status > 999:
		return fmt.Errorf("price server %s: %s with HTTP status %d "+
			"(%w)", c.addr, method, status, ErrBadUsage)
	}

	return nil
}

// checkRange accepts an amount in satoshis from least to MaxPriceSats.
func (c *Client) checkRange(method, field string, sats, least int64) error {
	if sats < least || sats > MaxPriceSats {
		return fmt.Errorf("price server %s answered %s with %s %d "+
			"(%w): it must be %d to %d sat", c.addr, method, field,
			sats, ErrBadPrice, least, MaxPriceSats)
	}

	return nil
}

// cleanReason keeps a refusal's reason printable and short: it may end up
// in a log line or a 402's body.
func cleanReason(reason string) string {
	reason = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, reason)
	reason = strings.TrimSpace(reason)

	if runes := []rune(reason); len(runes) > maxReasonRunes {
		reason = string(runes[:maxReasonRunes]) + "..."
	}

	return reason
}
