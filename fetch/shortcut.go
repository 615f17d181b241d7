package fetch

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/l402/l402/tokens"
)

// shortcut returns the token the store's shortcut file names for the
// run's origin (tokens/shortcut.go), and false when the run may not go
// without the store: it reports Limits (which are the ledger's), is a
// preview, or the file names no token for the origin.
func (o RunOptions) shortcut(cfg Config) (tokens.Shortcut, bool) {
	if !o.SkipLimits || o.NoPay || cfg.TokenStore == "" {
		return tokens.Shortcut{}, false
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return tokens.Shortcut{}, false
	}
	origin, err := tokens.Origin(u)
	if err != nil {
		return tokens.Shortcut{}, false
	}
	return tokens.ReadShortcut(cfg.TokenStore, origin)
}

// fetchShortcut sends the request with the origin's token from the
// shortcut file, without the store or the paying node: the file names an
// origin only while it has no pending payment to settle first and no
// session to draw on, so what is left of a fetch is sending the token and
// delivering the answer. A 402 (the token is spent or refused) is left
// to the whole fetch, which sends again with what the store holds, and
// so is a 429 once its Retry-After is waited out (the token may be
// another by then): done is then false and nothing was written to out.
// What the whole fetch would answer without sending again is answered
// here: a 402 reached by a redirect to another origin is refused (the
// origin took the request, and redirected it), and a 429 it would not
// wait out is the answer.
func (c *Client) fetchShortcut(ctx context.Context, opts Options,
	sc tokens.Shortcut, path string, out io.Writer) (res Result, done bool,
	err error) {

	start := time.Now()
	res = Result{URL: opts.URL, CachedToken: true}
	defer func() { res.DurationMs = time.Since(start).Milliseconds() }()
	origin, err := prepare(&opts)
	if err != nil {
		return res, true, err
	}
	c.logf("using the cached token for %s from %s (payment hash %s, "+
		"bought %s, %s)", origin, path, sc.PaymentHash,
		time.Unix(sc.CreatedAt, 0).UTC().Format(time.RFC3339),
		formatMsat(sc.AmountMsat))
	resp, err := c.send(ctx, opts, tokenCredential(sc.Authorization))
	if err != nil {
		return res, true, err
	}
	c.logf("%s answered %s", origin, resp.Status)
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPaymentRequired:
		if err := redirectedChallenge(origin, resp); err != nil {
			return res, true, err
		}
		c.logf("opening the token store to answer the 402")
		return Result{}, false, nil
	case http.StatusTooManyRequests:
		waited, err := c.waitRetryAfter(ctx, opts, origin, resp)
		if err != nil {
			return res, true, err
		}
		if waited {
			return Result{}, false, nil
		}
	}
	if err := c.deliver(opts, origin, resp, out, &res); err != nil {
		return res, true, err
	}
	c.logf("no payment made; the paying node was not contacted")
	return res, true, nil
}

// noteShortcut names the origin in the store's shortcut file after a
// fetch that sent or bought its token with nothing else in the way (no
// session), so that the next one may skip the store; the store says
// whether the origin qualifies. A fetch answered through a Payment
// charge names nothing: the token it sent first, if any, was refused.
// A failure costs only the shortcut.
func (c *Client) noteShortcut(ctx context.Context, opts Options,
	origin string, res Result) {

	if c.Store == nil || opts.NoPay || res.Session != nil ||
		res.PaymentScheme == SchemePayment.Name() ||
		res.StatusCode == http.StatusPaymentRequired ||
		(!res.CachedToken && !res.L402Paid) {
		return
	}
	if err := c.Store.WriteShortcut(ctx, origin); err != nil {
		c.logf("shortcut file not written: %v", err)
	}
}
