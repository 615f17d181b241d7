package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
)

// TestSessionBearerAllocations holds a session's bearer request (its
// credential seen before) to an allocation budget, backend and the
// draw's database work included (no timing: counts). The receipt of a
// session's requests in one second is one: it is encoded once a second,
// not per request: 225 allocations a request before, 154 after (one
// request at a time, so each draw is its own commit here).
func TestSessionBearerAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over many requests")
	}
	if raceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	e := newPaymentEnvAt(t, strings.TrimPrefix(backend.URL, "http://"),
		"  enablesessions: true\n  sessiondepositmultiplier: 1000\n", "")
	chs, _ := e.challenges(t, "/api/data")
	ch := chs[mpp.IntentSession]
	req, _ := mpp.DecodeSessionRequest(ch.Request)
	deposit := e.pay(t, req.DepositInvoice)
	ret, err := e.buyer.AddInvoice(t.Context(), lightning.InvoiceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := e.get(t, "/api/data", sessionCred(t, ch,
		mpp.SessionPayload{Action: mpp.ActionOpen,
			Preimage:      deposit.String(),
			ReturnInvoice: ret.PaymentRequest})); resp.StatusCode != 200 {
		t.Fatalf("open: %d %q", resp.StatusCode, body)
	}
	bearer := sessionCred(t, ch, mpp.SessionPayload{
		Action: mpp.ActionBearer, SessionID: req.PaymentHash,
		Preimage: deposit.String()})

	paid := httptest.NewRequest(http.MethodGet, "http://x/api/data", nil)
	paid.RemoteAddr = "192.0.2.1:1234"
	paid.Header.Set("Authorization", bearer)
	allocs, _ := perRequest(t, e.h, paid, 200)
	t.Logf("%.0f allocations a bearer request, a %d-byte credential", allocs, len(bearer))
	if allocs > 165 {
		t.Errorf("a bearer request allocates %.0f times, budget 165",
			allocs)
	}
}
