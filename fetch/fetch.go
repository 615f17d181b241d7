// Package fetch is the paying HTTP client: it sends a request, and on a
// 402 vets the L402 challenge, pays the invoice exactly once within the
// budget, stores the token and retries with it. Run is one whole fetch as
// a surface (the CLI, an MCP tool) asks it; Client.Fetch is the purchase.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// Defaults of the limits, as lnget's.
const (
	DefaultMaxCostSat     = 1000
	DefaultMaxFeeSat      = 10
	DefaultPaymentTimeout = 60 * time.Second
	DefaultTimeout        = 30 * time.Second
	DefaultMaxRedirects   = 10
)

// DefaultMaxTotalSat caps the spending of any 24 hours when neither
// fetch.yaml's maxtotal nor the option says otherwise (0 there is no
// cap): a seller that answers 402 to every token it sold is paid at most
// this much a day. It leaves room for four purchases at the default cost
// cap, each counted at its price plus the fee cap until it settles.
const DefaultMaxTotalSat = 5000

// DefaultMaxInvoiceExpiry is the longest an invoice may stay payable from
// now: lnd's default invoice expiry, 24 hours, which Aperture's invoices
// have, and an hour for a seller's clock ahead of ours.
const DefaultMaxInvoiceExpiry = 25 * time.Hour

// Options describe one fetch.
type Options struct {
	URL    string
	Method string
	Header http.Header

	// Body opens the request body; it is called again for the retry
	// after a payment, so that the body is replayed. Nil for no body.
	Body func() (io.Reader, error)

	MaxCostSat     int64
	MaxFeeSat      int64
	PaymentTimeout time.Duration

	// MaxInvoiceExpiry is the longest an invoice may stay payable from
	// now; zero is DefaultMaxInvoiceExpiry.
	MaxInvoiceExpiry time.Duration

	// NoPay never pays: a 402 is reported with its price.
	NoPay bool

	// PreferScheme is the scheme paid when a 402 offers both L402 and a
	// Payment charge; "" is L402. A 402 that offers one is paid with
	// it. A cached L402 token for the origin is sent first either way.
	PreferScheme Scheme

	// Session opens a Payment session when a 402 offers one (its
	// deposit within the caps), and tops the origin's session up when
	// its balance is short. A stored session is used without it.
	Session bool

	// AllowHTTPError makes a final status >= 400 a success.
	AllowHTTPError bool

	// MaxRetryWait is the longest Retry-After a 429 is waited out
	// (once); a longer one ends the fetch with ErrRateLimited.
	MaxRetryWait time.Duration

	// MaxTotalSat caps what fetch pays in any 24 hours, all origins
	// together, and MaxOriginSat what it pays one origin; amounts, fees
	// and pending payments count. Zero means no cap.
	MaxTotalSat  int64
	MaxOriginSat int64

	// ResumeFrom, when above zero, asks for the body from that byte on
	// (a Range request) to continue a partial download. A server that
	// ignores the range sends the whole body: Restart is called first so
	// that the caller can start its output over.
	ResumeFrom int64
	Restart    func() error

	// Progress, when set, is called with the body's length (-1 when
	// unknown) before the body is written, and gets a copy of it.
	Progress func(total int64) io.Writer

	// MaxRedirects is how many redirects are followed (nil:
	// DefaultMaxRedirects); one more is ErrTooManyRedirects. NoRedirects
	// follows none: a 3xx is the final response (lnget's -L=false).
	MaxRedirects *int
	NoRedirects  bool
}

// Client fetches with a node to pay through and a store for tokens.
type Client struct {
	HTTP *http.Client
	Node lightning.Node

	// Store keeps the tokens, pending payments and the ledger. A
	// preview (NoPay) may go without one: it then has no token and no
	// pending payment.
	Store *tokens.Store

	// Log receives progress lines (stderr); discarded when nil.
	Log io.Writer

	// Now is the clock; time.Now when nil.
	Now func() time.Time

	network   string // the node's, asked once
	contacted bool   // the node was asked something
}

// now reads the clock.
func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// logf writes one progress line.
func (c *Client) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "l402: "+format+"\n", args...)
	}
}

// Fetch performs the request, paying for it when the server asks and the
// price is within the options' limits, and writes the final body to out.
func (c *Client) Fetch(ctx context.Context, opts Options, out io.Writer) (
	Result, error) {

	start := time.Now()
	res, err := c.fetch(ctx, opts, out)
	res.Limits = c.limits(ctx, opts)
	res.DurationMs = time.Since(start).Milliseconds()
	return res, err
}

// fetch is Fetch's steps: check the options, settle what an earlier run
// left pending, send (buying a token on a 402), wait out one short 429,
// and deliver the body.
func (c *Client) fetch(ctx context.Context, opts Options, out io.Writer) (
	Result, error) {

	res := Result{URL: opts.URL}
	origin, err := prepare(&opts)
	if err != nil {
		return res, err
	}
	if c.Store == nil && !opts.NoPay {
		return res, errors.New("a fetch that may pay needs a token store")
	}

	// A payment an earlier run left pending is settled first, so that it
	// is never made twice; a Payment charge it paid is sent once, now.
	charge, err := c.resumePending(ctx, origin, opts)
	if err != nil {
		return res, err
	}

	resp, err := c.request(ctx, opts, origin, charge, &res)
	if c.Store != nil {
		c.sessionResult(ctx, origin, &res)
	}
	if errors.Is(err, errPreview) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if resp, err = c.waitOutRateLimit(ctx, opts, origin, resp); err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err := c.deliver(opts, origin, resp, out, &res); err != nil {
		return res, err
	}
	c.noteShortcut(ctx, opts, origin, res)
	if !res.L402Paid {
		note := "the paying node was not contacted"
		if c.contacted {
			note = "the paying node was asked, and made none"
		}
		c.logf("no payment made; %s", note)
	}
	return res, nil
}

// prepare fills in the options' defaults, refuses negative limits, and
// returns the origin of the URL: the key of its token and its lock.
func prepare(opts *Options) (string, error) {
	if opts.PaymentTimeout <= 0 {
		opts.PaymentTimeout = DefaultPaymentTimeout
	}
	if opts.MaxInvoiceExpiry <= 0 {
		opts.MaxInvoiceExpiry = DefaultMaxInvoiceExpiry
	}
	for _, l := range []struct {
		limit Limit
		sat   int64
	}{
		{LimitCost, opts.MaxCostSat}, {LimitFee, opts.MaxFeeSat},
		{LimitTotal, opts.MaxTotalSat}, {LimitOrigin, opts.MaxOriginSat},
	} {
		if l.sat < 0 {
			return "", badLimit(l.limit, "%s cannot be negative, got %d",
				l.sat)
		}
	}
	if opts.MaxRedirects != nil && *opts.MaxRedirects < 0 {
		return "", badOptions(fmt.Errorf("the most redirects to follow "+
			"cannot be negative, got %d", *opts.MaxRedirects))
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return "", badOptions(fmt.Errorf("bad URL: %w", err))
	}
	origin, err := tokens.Origin(u)
	if err != nil {
		return "", badOptions(err)
	}
	return origin, nil
}

// request sends the request with the origin's token, if it has one, or
// with the Payment charge an earlier run paid, and answers a 402 by
// paying (a token, or a charge) and sending the request again. A preview
// (NoPay) ends with errPreview, the challenge's price in res.
func (c *Client) request(ctx context.Context, opts Options, origin string,
	charge *paidCharge, res *Result) (*http.Response, error) {

	var (
		cred credential
		resp *http.Response
		body []byte
		err  error
	)
	sess, serr := c.storedSession(ctx, origin, charge, opts)
	if serr != nil {
		return nil, serr
	}
	if sess != nil {
		resp, body, err = c.sessionRequest(ctx, opts, origin, *sess, res)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusPaymentRequired {
			return resp, nil
		}
		c.logf("%s answered %s", origin, resp.Status)
	} else if charge != nil {
		cred = charge.cred
		c.logf("sending the Payment charge %s an earlier run paid",
			charge.hash)
		resp, err = c.sendCharge(ctx, opts, *charge, res)
	} else {
		auth, aerr := c.originAuth(ctx, origin)
		if aerr != nil {
			return nil, aerr
		}
		cred = tokenCredential(auth)
		c.logToken(ctx, origin, auth)
		res.CachedToken = auth != ""
		resp, err = c.send(ctx, opts, cred)
	}
	if err != nil {
		return nil, err
	}
	if sess == nil {
		c.logf("%s answered %s", origin, resp.Status)
		if resp.StatusCode != http.StatusPaymentRequired {
			return resp, nil
		}
		body = readPaywallBody(resp)
		resp.Body.Close()
		c.noteExhausted(resp, cred)
	}

	if err := redirectedChallenge(origin, resp); err != nil {
		return nil, err
	}
	// Another protocol's 402 is named for what it is (otherpaywalls.go).
	if err := otherPaywall(resp.Header, body); err != nil {
		res.StatusCode = http.StatusPaymentRequired
		return nil, err
	}
	resp, err = c.buy(ctx, opts, origin, cred, resp, res)
	if err != nil {
		return nil, err
	}

	// The preview fields describe a challenge not paid; lnget leaves
	// them out of a paid result, and the scheme is the one paid with,
	// not the one vetted (another process's token may have served).
	res.InvoiceAmountSat, res.MaxCostSats = 0, 0
	res.Invoice, res.PaymentHash = "", ""
	if !res.L402Paid && !res.chargeSent {
		res.PaymentScheme = ""
	}
	return resp, nil
}

// redirectedChallenge refuses a 402 that a redirect reached from origin
// at another origin: a token bought here is stored for the URL's origin,
// so another origin's challenge is not bought.
func redirectedChallenge(origin string, resp *http.Response) error {
	if final, err := tokens.Origin(resp.Request.URL); err != nil ||
		final != origin {
		return refused(ErrRedirectedChallenge, "%s redirected to %s, "+
			"which asks for payment; refusing to buy a token for another "+
			"origin (fetch that URL itself)", origin,
			resp.Request.URL.Redacted())
	}
	return nil
}

// storedSession returns the origin's stored session, when this request
// goes with it: not with a resumed charge (which is sent once, now), and
// not in a preview (which pays nothing, and draws nothing either).
func (c *Client) storedSession(ctx context.Context, origin string,
	charge *paidCharge, opts Options) (*tokens.Session, error) {

	if c.Store == nil || charge != nil || opts.NoPay {
		return nil, nil
	}
	s, err := c.Store.Session(ctx, origin)
	if errors.Is(err, tokens.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// waitOutRateLimit honours the Retry-After of a 429 once, if it asks for
// no longer than the caller allows, and returns the response to the
// retry; any other response is returned as it is, and so is a 429 to a
// Payment charge's credential, which is never sent twice.
func (c *Client) waitOutRateLimit(ctx context.Context, opts Options,
	origin string, resp *http.Response) (*http.Response, error) {

	if resp.StatusCode != http.StatusTooManyRequests {
		return resp, nil
	}
	if answersCharge(resp) {
		c.logf("rate limited by %s after the Payment charge was sent: "+
			"it is not sent again", origin)
		return resp, nil
	}
	if waited, err := c.waitRetryAfter(ctx, opts, origin, resp); err != nil {
		return nil, err
	} else if !waited {
		return resp, nil
	}
	auth, err := c.originAuth(ctx, origin)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, opts, tokenCredential(auth))
}

// waitRetryAfter waits out a 429's Retry-After, once, if it asks for no
// longer than the caller allows, and says whether it did; the response is
// then closed, to be sent again. Otherwise resp is left as it is, the
// answer.
func (c *Client) waitRetryAfter(ctx context.Context, opts Options,
	origin string, resp *http.Response) (bool, error) {

	wait, ok := retryAfter(resp.Header, c.now())
	if !ok || wait > opts.MaxRetryWait {
		return false, nil
	}
	resp.Body.Close()
	c.logf("rate limited by %s; retrying in %s", origin, wait)
	select {
	case <-ctx.Done():
		return true, networkError(ctx.Err())
	case <-time.After(wait):
	}
	return true, nil
}

// deliver reports the final response in res and copies its body to out:
// a status >= 400 is an error (unless allowed), and a continued download
// checks that it got the range it asked for.
func (c *Client) deliver(opts Options, origin string, resp *http.Response,
	out io.Writer, res *Result) error {

	res.StatusCode = resp.StatusCode
	res.ContentType = resp.Header.Get("Content-Type")
	c.noteBalance(resp, res)

	// Nothing after the bytes we have: the download is complete.
	complete := opts.ResumeFrom > 0 &&
		resp.StatusCode == http.StatusRequestedRangeNotSatisfiable
	if resp.StatusCode >= 400 && !opts.AllowHTTPError && !complete {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return httpError(resp, strings.TrimSpace(string(snippet)))
	}
	if complete {
		c.logf("%s is already complete", opts.URL)
		return nil
	}
	if err := c.checkRange(opts, origin, resp); err != nil {
		return err
	}
	if opts.Progress != nil {
		out = io.MultiWriter(out, opts.Progress(resp.ContentLength))
	}

	n, err := io.Copy(out, resp.Body)
	res.Size = n
	if err != nil {
		return networkError(fmt.Errorf("reading the body: %w", err))
	}
	return nil
}

// checkRange checks the answer to a continued download's Range request: a
// 206 must start at the byte asked for, and any other status carries the
// whole body, so the caller's output starts over (Restart).
func (c *Client) checkRange(opts Options, origin string,
	resp *http.Response) error {

	if opts.ResumeFrom <= 0 {
		return nil
	}
	if resp.StatusCode == http.StatusPartialContent {
		if first, ok := rangeStart(resp.Header); !ok ||
			first != opts.ResumeFrom {
			return ErrBadRange.Mark(fmt.Errorf("asked for bytes from %d, "+
				"the server sent Content-Range %q; the file is left as it "+
				"was", opts.ResumeFrom, resp.Header.Get("Content-Range")))
		}
		return nil
	}
	c.logf("%s ignored the range; downloading it all", origin)
	if opts.Restart != nil {
		return opts.Restart()
	}
	return nil
}

// logToken says, when logging, which token a request carries: the
// origin's cached one (auth), or none.
func (c *Client) logToken(ctx context.Context, origin, auth string) {
	if c.Log == nil {
		return
	}
	if auth == "" {
		c.logf("no cached token for %s; sending without one", origin)
		return
	}
	t, err := c.Store.Token(ctx, origin)
	if err != nil {
		return
	}
	c.logf("using the cached token for %s from %s (payment hash %s, "+
		"bought %s, %s)", origin, c.Store.Path(), t.PaymentHash,
		t.CreatedAt.UTC().Format(time.RFC3339), formatMsat(t.AmountMsat))
}

// originAuth returns the Authorization value of the origin's token, or ""
// when there is none.
func (c *Client) originAuth(ctx context.Context, origin string) (string,
	error) {

	if c.Store == nil {
		return "", nil
	}
	auth, err := c.Store.Export(ctx, origin)
	if errors.Is(err, tokens.ErrNotFound) {
		return "", nil
	}
	return auth, err
}

// rangeStart reads the first byte of "Content-Range: bytes START-END/LEN".
func rangeStart(h http.Header) (int64, bool) {
	v, ok := strings.CutPrefix(h.Get("Content-Range"), "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(start), 10, 64)
	return n, err == nil
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > 24*3600 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// nodeNetwork returns the paying node's network, asked once.
func (c *Client) nodeNetwork(ctx context.Context) (string, error) {
	if c.network != "" {
		return c.network, nil
	}
	if c.Node == nil {
		return "", ErrNoNode
	}
	c.contacted = true
	info, err := c.Node.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Network == "" {
		return "", errors.New("the paying node did not say which network " +
			"it is on")
	}
	c.network = info.Network
	return c.network, nil
}
