package lightning

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCallErrorMacaroonRefusals: lnd's refusals of a macaroon's caveats
// are permission errors, and an expired macaroon says so on its own.
func TestCallErrorMacaroonRefusals(t *testing.T) {
	l := &Lnd{name: "bob"}
	tests := []struct {
		name          string
		msg           string
		denied, isExp bool
	}{
		// macaroon-bakery v2.0.1's checkers for time-before, and lnd
		// v0.21's for ipaddr (macaroons/constraints.go), as lnd's
		// interceptor returns them.
		{"expired", `verification failed: caveat "time-before ` +
			`2030-01-02T03:04:05Z" not satisfied: macaroon has expired`,
			true, true},
		{"other address", `caveat "ipaddr 192.0.2.1" not satisfied: ` +
			`macaroon locked to different IP address`, true, false},
		{"no permission", "permission denied", true, false},
		{"unrelated", "invoice not satisfied by anything", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.callError("GetInfo", status.Error(codes.Unknown,
				tc.msg))
			if got := errors.Is(err, ErrPermissionDenied); got != tc.denied {
				t.Errorf("ErrPermissionDenied: %v, want %v (%v)", got,
					tc.denied, err)
			}
			if got := errors.Is(err, ErrMacaroonExpired); got != tc.isExp {
				t.Errorf("ErrMacaroonExpired: %v, want %v (%v)", got,
					tc.isExp, err)
			}
			var ce *CallError
			if !errors.As(err, &ce) || ce.Node != "bob" ||
				!strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want a CallError of bob with lnd's "+
					"words", err)
			}
		})
	}
}
