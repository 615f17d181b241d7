package mpp

import (
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// testNow is the time of the tests.
var testNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// testPreimage is the preimage of the tests' invoices.
var testPreimage = l402.Preimage{0xaa, 0xbb, 0xcc}

// testVerifier verifies the tests' credentials.
var testVerifier = Verifier{Secret: testSecret, Realm: "api.example.com"}

// chargeChallenge returns a bound charge challenge for 100 sat, the
// invoice's hash testPreimage's, expiring 15 minutes after testNow.
func chargeChallenge(t testing.TB) Challenge {
	t.Helper()
	req, err := EncodeRequest(ChargeRequest{Amount: "100", Currency: "sat",
		MethodDetails: ChargeDetails{Invoice: "lnbcrt1u1ptest",
			PaymentHash: testPreimage.Hash().String(),
			Network:     "regtest"}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Bind(testSecret, Challenge{Realm: "api.example.com",
		Method: MethodLightning, Intent: IntentCharge, Request: req,
		Expires: FormatExpires(testNow.Add(15 * time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// sessionChallenge returns a bound session challenge: 2 sat a request,
// a deposit of 40 sat whose hash is deposit's.
func sessionChallenge(t testing.TB, deposit l402.Preimage) Challenge {
	t.Helper()
	req, err := EncodeRequest(SessionRequest{Amount: "2", Currency: "sat",
		DepositInvoice: "lnbcrt400n1ptest", DepositAmount: "40",
		PaymentHash: deposit.Hash().String(), IdleTimeout: "300"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Bind(testSecret, Challenge{Realm: "api.example.com",
		Method: MethodLightning, Intent: IntentSession, Request: req,
		Expires: FormatExpires(testNow.Add(15 * time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// roundTrip sends a credential through its Authorization header, as a
// server receives it.
func roundTrip(t testing.TB, c Credential) Credential {
	t.Helper()
	auth, err := c.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCredential(map[string][]string{"Authorization": {auth}})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// testPreimage2 is another invoice's preimage.
var testPreimage2 = l402.Preimage{0x01}
