package serve

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// TestHandlerHostileCredentials sends every kind of bad credential to a
// service and checks the answer: a fresh 402 (never a 500, never the
// backend), or 200 for the forms that are valid after all.
func TestHandlerHostileCredentials(t *testing.T) {
	e := newHandlerEnvWith(t, "    timeout: 60\n", "")
	resp, _ := e.get(t, "/api/data", nil)
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.buyer.Pay(context.Background(), lightning.PayRequest{
		PaymentRequest: chs[1].Invoice})
	if err != nil {
		t.Fatal(err)
	}
	mac := chs[1].Macaroon
	cred := l402.Credential{Macaroon: mac, Preimage: p.Preimage}
	good, _ := cred.Authorization()
	macB64, preHex, _ := strings.Cut(strings.TrimPrefix(good, "L402 "), ":")
	hexMac, _ := cred.MacaroonHex()

	widened, _ := l402.AddCaveats(mac, l402.Caveat{Condition: "services",
		Value: "api:0,other:0"})
	widenedAuth, _ := l402.Credential{Macaroon: widened,
		Preimage: p.Preimage}.Authorization()
	otherSvc, _ := l402.AddCaveats(mac, l402.Caveat{Condition: "services",
		Value: "other:0"})
	otherAuth, _ := l402.Credential{Macaroon: otherSvc,
		Preimage: p.Preimage}.Authorization()
	narrowed, _ := l402.AddCaveats(mac, l402.Caveat{
		Condition: "api_valid_until",
		Value:     "9999999999"}) // later than the token's own: widens
	narrowedAuth, _ := l402.Credential{Macaroon: narrowed,
		Preimage: p.Preimage}.Authorization()

	tests := []struct {
		name string
		h    http.Header
		want int
	}{
		{"valid", http.Header{"Authorization": {good}}, 200},
		{"lower-case scheme", http.Header{"Authorization": {
			"l402 " + macB64 + ":" + preHex}}, 200},
		{"LSAT scheme", http.Header{"Authorization": {
			"LSAT " + macB64 + ":" + preHex}}, 200},
		{"upper-case preimage hex", http.Header{"Authorization": {
			"L402 " + macB64 + ":" + strings.ToUpper(preHex)}}, 200},
		{"hex macaroon header", http.Header{"Macaroon": {hexMac}}, 200},
		{"extra hex on the preimage", http.Header{"Authorization": {
			good + "00"}}, 402},
		{"short preimage", http.Header{"Authorization": {
			good[:len(good)-2]}}, 402},
		{"wrong preimage", http.Header{"Authorization": {
			"L402 " + macB64 + ":" + strings.Repeat("ab", 32)}}, 402},
		{"no colon", http.Header{"Authorization": {"L402 " + macB64}}, 402},
		{"bad base64", http.Header{"Authorization": {
			"L402 !!!!:" + preHex}}, 402},
		{"oversized", http.Header{"Authorization": {
			"L402 " + strings.Repeat("A", 40_000) + ":" + preHex}}, 402},
		{"empty", http.Header{"Authorization": {""}}, 402},
		{"other scheme only", http.Header{"Authorization": {
			"Bearer abc"}}, 402},
		{"two different L402 credentials", http.Header{"Authorization": {
			good, widenedAuth}}, 402},
		{"widened services", http.Header{"Authorization": {
			widenedAuth}}, 402},
		{"narrowed to another service", http.Header{"Authorization": {
			otherAuth}}, 402},
		{"widened expiry", http.Header{"Authorization": {
			narrowedAuth}}, 402},
		{"garbage hex macaroon", http.Header{"Macaroon": {"zz"}}, 402},
		{"the same credential twice", http.Header{"Authorization": {
			good, good}}, 200},
		{"a stray L402 scheme with nothing", http.Header{"Authorization": {
			"L402"}}, 402},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.get(t, "/api/data", tc.h)
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %q, want %d", resp.StatusCode, body, tc.want)
			}
			if tc.want == 402 && strings.HasPrefix(body, "backend") {
				t.Fatal("the backend was reached")
			}
		})
	}

	// Expired: the token's timeout is 60 s.
	e.now.Add(int64(61 * time.Second / time.Second))
	if resp, _ := e.get(t, "/api/data", http.Header{
		"Authorization": {good}}); resp.StatusCode != 402 {
		t.Fatalf("expired token: %d", resp.StatusCode)
	}
}
