package fetch

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
)

// paymentHeader returns a 402's header as serve will send it with the
// Payment scheme on: LSAT and L402 for invoice, then a Payment charge
// challenge whose request says amount, hash and network, then a session
// challenge.
func paymentHeader(t *testing.T, hash l402.Hash, invoice, amount,
	network string, expires time.Time) http.Header {

	t.Helper()
	h := challengeHeader(t, hash, invoice)
	secret := []byte("a challenge secret of 32 bytes..")
	req, err := mpp.EncodeRequest(mpp.ChargeRequest{Amount: amount,
		Currency: "sat", MethodDetails: mpp.ChargeDetails{
			Invoice: invoice, PaymentHash: hash.String(),
			Network: network}})
	if err != nil {
		t.Fatal(err)
	}
	sreq, err := mpp.EncodeRequest(mpp.SessionRequest{Amount: amount,
		Currency: "sat", DepositInvoice: invoice, DepositAmount: amount,
		PaymentHash: hash.String()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []mpp.Challenge{
		{Realm: "api", Method: "lightning", Intent: "charge", Request: req,
			Expires: mpp.FormatExpires(expires)},
		{Realm: "api", Method: "lightning", Intent: "session",
			Request: sreq, Expires: mpp.FormatExpires(expires)},
	} {
		c, err := mpp.Bind(secret, c)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.WWWAuthenticate()
		if err != nil {
			t.Fatal(err)
		}
		h.Add("WWW-Authenticate", v)
	}
	return h
}

// TestVetPaymentChallenge checks a good Payment charge challenge: the
// charge is picked over the session, and its invoice is decoded; a
// preview without a node judges it the same.
func TestVetPaymentChallenge(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	hash := l402.Preimage{7}.Hash()
	inv := forgedInvoice(t, hash, now, withSecret())
	h := paymentHeader(t, hash, inv, "10", "regtest", now.Add(time.Minute))
	for _, network := range []string{"regtest", ""} {
		o, err := vetPaymentChallenge(h, network, 10, DefaultMaxInvoiceExpiry, now)
		if err != nil {
			t.Fatal(err)
		}
		if o.charge.Challenge.Intent != mpp.IntentCharge ||
			o.invoice.PaymentHash != hash || o.amountSat() != 10 {
			t.Fatalf("offer %+v", o)
		}
	}
}

// TestVetPaymentChallengeRefuses checks every refusal of a Payment
// charge challenge before paying, each with fetch's condition: the
// request's hash, amount or network not the invoice's, the price above
// the cap, an expired challenge or invoice, no charge challenge.
func TestVetPaymentChallengeRefuses(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	hash := l402.Preimage{7}.Hash()
	other := l402.Preimage{8}.Hash()
	inv := forgedInvoice(t, hash, now, withSecret())
	later := now.Add(time.Minute)
	onlySession := paymentHeader(t, hash, inv, "10", "regtest", later)
	onlySession.Del("WWW-Authenticate")
	for _, v := range paymentHeader(t, hash, inv, "10", "regtest",
		later).Values("WWW-Authenticate") {
		if strings.HasPrefix(v, "Payment") &&
			!strings.Contains(v, `intent="charge"`) {
			onlySession.Add("WWW-Authenticate", v)
		}
	}

	tests := []struct {
		name   string
		h      http.Header
		maxSat int64
		now    time.Time
		want   error
	}{
		{"hash mismatch between request and invoice",
			paymentHeader(t, other, inv, "10", "regtest", later), 100,
			now, ErrInvalidInvoice},
		{"request cheaper than the invoice",
			paymentHeader(t, hash, inv, "1", "regtest", later), 100, now,
			ErrInvalidInvoice},
		{"request on another network",
			paymentHeader(t, hash, inv, "10", "mainnet", later), 100, now,
			ErrInvalidInvoice},
		{"amount above the cap",
			paymentHeader(t, hash, inv, "10", "regtest", later), 9, now,
			ErrOverBudget},
		{"expired challenge",
			paymentHeader(t, hash, inv, "10", "regtest", now), 100, now,
			ErrInvalidChallenge},
		{"expired invoice",
			paymentHeader(t, hash, inv, "10", "regtest",
				now.Add(3*time.Hour)), 100, now.Add(2 * time.Hour),
			ErrInvalidInvoice},
		{"only a session challenge", onlySession, 100, now,
			ErrInvalidChallenge},
		{"only L402", challengeHeader(t, hash, inv), 100, now,
			ErrInvalidChallenge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := vetPaymentChallenge(tc.h, "regtest", tc.maxSat, DefaultMaxInvoiceExpiry,
				tc.now)
			var r *Refusal
			if !errors.As(err, &r) || !errors.Is(err, tc.want) {
				t.Fatalf("got %+v, %v; want a %v refusal", o, err,
					tc.want)
			}
		})
	}
}
