package serve

import (
	"strings"
	"testing"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
)

// BenchmarkPaymentChargeVsBareProxy is BenchmarkPaidPathVsBareProxy with
// a Payment charge credential per request, bought beforehand (untimed):
// each timed request verifies its credential and claims its payment hash
// in the database (SQLite here), as every charge must.
func BenchmarkPaymentChargeVsBareProxy(b *testing.B) {
	backend, body := benchBackend(b)
	e := newPaymentEnvAt(b, backend.Host, "", "")
	const warm = 100
	creds := make([]string, b.N+warm+8)
	for i := range creds {
		creds[i] = e.buyCharge(b, "/api/data")
	}
	comparePaidToBare(b, e.h, backend, body, "/api/data",
		func(i int) string { return creds[i] })
}

// BenchmarkPaymentSessionVsBareProxy is BenchmarkPaidPathVsBareProxy with
// one Payment session's bearer credential: each request draws the price
// from the session's balance in the database (SQLite here). The target is
// at least 0.9 of the bare proxy's rate.
func BenchmarkPaymentSessionVsBareProxy(b *testing.B) {
	backend, body := benchBackend(b)
	e := newPaymentEnvAt(b, backend.Host, "  enablesessions: true\n"+
		"  sessiondepositmultiplier: 10000000\n", "")
	chs, _ := e.challenges(b, "/api/data")
	ch := chs[mpp.IntentSession]
	req, _ := mpp.DecodeSessionRequest(ch.Request)
	deposit := e.pay(b, req.DepositInvoice)
	ret, err := e.buyer.AddInvoice(b.Context(),
		lightning.InvoiceRequest{})
	if err != nil {
		b.Fatal(err)
	}
	if resp, body := e.get(b, "/api/data", sessionCred(b, ch,
		mpp.SessionPayload{Action: mpp.ActionOpen,
			Preimage: deposit.String(), ReturnInvoice: ret.PaymentRequest})); resp.StatusCode != 200 || !strings.Contains(body, "x") {
		b.Fatalf("open: %d %q", resp.StatusCode, body)
	}
	bearer := sessionCred(b, ch, mpp.SessionPayload{
		Action: mpp.ActionBearer, SessionID: req.PaymentHash,
		Preimage: deposit.String()})
	comparePaidToBare(b, e.h, backend, body, "/api/data",
		func(int) string { return bearer })
}
