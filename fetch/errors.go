package fetch

import (
	"fmt"

	"github.com/l402/l402/internal/cli"
)

// Exit codes of fetch, lnget's: 0 ok, 1 general, 2 bad arguments or over
// budget, 3 payment failed, 4 network error.
const (
	ExitPaymentFailed = 3
	ExitNetwork       = 4
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
