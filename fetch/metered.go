package fetch

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// HeaderBalanceRemaining is the header in which a metered service (l402
// serve's meter, docs/metering.md) says what is left of the balance the
// request drew on, in msat, as the request was admitted.
const HeaderBalanceRemaining = "L402-Balance-Remaining"

// meterBalance reads a response's balance, false when it has none (the
// service is not metered) or one that is not a count of msat.
func meterBalance(h http.Header) (int64, bool) {
	v := strings.TrimSpace(h.Get(HeaderBalanceRemaining))
	n, err := strconv.ParseInt(v, 10, 64)
	if v == "" || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// noteBalance keeps the final response's balance in res
// (balance_remaining) and logs it.
func (c *Client) noteBalance(resp *http.Response, res *Result) {
	if n, ok := meterBalance(resp.Header); ok {
		res.BalanceRemaining = &n
		c.logf("balance remaining: %d msat", n)
	}
}

// noteExhausted logs a 402 to a credential that a metered service
// accepted before: its balance is spent, and the next bundle is bought
// (once, within the caps, as every purchase) by the 402's challenge.
func (c *Client) noteExhausted(resp *http.Response, sent credential) {
	if sent.value == "" {
		return
	}
	if n, ok := meterBalance(resp.Header); ok {
		c.logf("the balance of the credential is spent (%d msat left, "+
			"short of the request); buying the next bundle", n)
	}
}

// BalanceLine is the line a human reads about the balance left, "" when
// the service said none.
func (r Result) BalanceLine() string {
	if r.BalanceRemaining == nil {
		return ""
	}
	return fmt.Sprintf("l402: balance remaining at %s: %d msat", r.URL,
		*r.BalanceRemaining)
}
