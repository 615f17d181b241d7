package mpp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestProblemFor checks the problem body of each refusal: its draft type,
// its status, and a detail that never repeats what the client sent.
func TestProblemFor(t *testing.T) {
	tests := []struct {
		err    error
		slug   string
		status int
	}{
		{ErrMalformed, "malformed-credential", 402},
		{ErrUnsupported, "method-unsupported", 400},
		{ErrWrongRealm, "invalid-challenge", 402},
		{ErrTampered, "invalid-challenge", 402},
		{ErrReused, "invalid-challenge", 402},
		{ErrExpired, "payment-expired", 402},
		{ErrBadPreimage, "verification-failed", 402},
		{ErrWrongResource, "invalid-challenge", 402},
		{ErrInsufficient, "lightning/insufficient-balance", 402},
		{ErrUnknownSession, "lightning/session-not-found", 402},
		{ErrSessionClosed, "lightning/session-closed", 402},
		{ErrBadReturnInvoice, "lightning/invalid-return-invoice", 402},
		{errors.New("store down"), "verification-failed", 402},
	}
	for _, tc := range tests {
		err := fmt.Errorf("%w: <script>secret</script>", tc.err)
		p := ProblemFor(err)
		if p.Type != ProblemBase+tc.slug || p.Status != tc.status ||
			p.Title == "" || strings.Contains(p.Detail, "secret") {
			t.Errorf("%v: %+v", tc.err, p)
		}
	}
	p := PaymentRequired("pay to read")
	p.ChallengeID = "cid"
	var got map[string]any
	if err := json.Unmarshal(p.JSON(), &got); err != nil {
		t.Fatal(err)
	}
	if got["type"] != "https://paymentauth.org/problems/payment-required" ||
		got["status"] != float64(http.StatusPaymentRequired) ||
		got["title"] != "Payment Required" || got["challengeId"] != "cid" {
		t.Fatalf("%v", got)
	}
}
