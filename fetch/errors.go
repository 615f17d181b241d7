package fetch

import (
	"fmt"
	"net/http"

	"github.com/l402/l402/internal/cli"
)

// Exit codes of fetch: lnget's 0 ok, 1 general, 2 bad arguments or over
// budget, 3 payment failed, 4 network error; and ours, 5 the server
// refused the credential with 401, 6 rate limited (429).
const (
	ExitPaymentFailed = 3
	ExitNetwork       = 4
	ExitUnauthorized  = 5
	ExitRateLimited   = 6
)

// refused is a challenge fetch will not pay: exit 2, like a price above
// --max-cost.
func refused(code, format string, args ...any) error {
	return &cli.Error{Exit: cli.ExitUsage, Code: code,
		Err: fmt.Errorf(format, args...)}
}

// paymentFailed is a payment that did not go through: exit 3.
func paymentFailed(err error) error {
	return &cli.Error{Exit: ExitPaymentFailed, Code: "payment_failed",
		Err: err}
}

// networkError is a request that did not reach the server: exit 4.
func networkError(err error) error {
	return &cli.Error{Exit: ExitNetwork, Code: "network_error", Err: err}
}

// httpError is a final status >= 400; 401 and 429 have their own codes.
func httpError(resp *http.Response, snippet string) error {
	err := fmt.Errorf("server answered %s: %s", resp.Status, snippet)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return &cli.Error{Exit: ExitUnauthorized, Code: "unauthorized",
			Err: err}
	case http.StatusTooManyRequests:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			err = fmt.Errorf("%w (Retry-After: %s)", err, ra)
		}
		return &cli.Error{Exit: ExitRateLimited, Code: "rate_limited",
			Err: err}
	}
	return &cli.Error{Exit: cli.ExitGeneral, Code: "http_error", Err: err}
}
