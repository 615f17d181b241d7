package fetch

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// x402v1Body is a 402 body as x402 v1 servers send it.
const x402v1Body = `{"x402Version":1,"error":"X-PAYMENT header is required",
"accepts":[{"scheme":"exact","network":"base","maxAmountRequired":"10000",
"resource":"https://api.example/data","payTo":"0x01","asset":"0x02",
"maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}`

// x402v2Header is the PAYMENT-REQUIRED value of an x402 v2 server, here
// taking USDC on Base Sepolia or BTC over Lightning.
var x402v2Header = base64.StdEncoding.EncodeToString([]byte(`{
"x402Version":2,"error":"PAYMENT-SIGNATURE header is required",
"resource":{"url":"https://api.example/data"},"accepts":[
{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x03",
"payTo":"0x04","maxTimeoutSeconds":60,"extra":{"name":"USDC"}},
{"scheme":"exact","network":"bip122:000000000019d6689c085ae165831e93",
"amount":"100000","asset":"BTC","payTo":"anonymous","maxTimeoutSeconds":60,
"extra":{"paymentMethod":"lightning","invoice":"lnbc1..."}}]}`))

// offersBody is a Fewsats-style 402 body: offers to buy through a payment
// request URL.
const offersBody = `{"offers":[{"offer_id":"o1","title":"1 Credit Package",
"description":"Purchase 1 credit","amount":1,"currency":"USD","balance":1,
"payment_methods":["lightning","credit_card"]}],
"payment_context_token":"edb53dec","payment_request_url":
"https://api.example/v0/l402/payment-request","version":"0.2.2"}`

// TestOtherPaywallsAreNamed: a 402 that carries no L402, LSAT or
// Payment challenge but x402's terms (v1's body, v2's header) or offers
// is refused with its own code and a message that says what it is; the
// node is never asked and nothing is paid, in a preview too. A 402 with
// none of these stays invalid_challenge, as before.
func TestOtherPaywallsAreNamed(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		body   string
		want   error
		words  []string
	}{
		{"x402 v1", map[string]string{"Content-Type": "application/json"},
			x402v1Body, ErrX402Paywall, []string{"x402 paywall",
				"exact USDC on base", "pays Lightning"}},
		{"x402 v2", map[string]string{"PAYMENT-REQUIRED": x402v2Header},
			"{}", ErrX402Paywall, []string{"x402 paywall",
				"exact USDC on base-sepolia",
				"exact BTC over Lightning on bitcoin",
				"does not speak x402"}},
		{"offers", map[string]string{"Content-Type": "application/json"},
			offersBody, ErrOffersPaywall, []string{"offers paywall",
				`"1 Credit Package"`, "lightning, credit_card",
				"https://api.example/v0/l402/payment-request"}},
		{"another auth scheme", map[string]string{
			"WWW-Authenticate": `Bearer realm="x"`}, "pay us",
			ErrInvalidChallenge, []string{"no usable L402 challenge"}},
		{"a JSON body of something else", map[string]string{
			"Content-Type": "application/json"}, `{"accepts":"all"}`,
			ErrInvalidChallenge, nil},
	}
	for _, tc := range tests {
		for _, noPay := range []bool{false, true} {
			name := tc.name
			if noPay {
				name += ", a preview"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, 10, "regtest")
				srv := httptest.NewServer(http.HandlerFunc(func(
					w http.ResponseWriter, _ *http.Request) {
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(http.StatusPaymentRequired)
					io.WriteString(w, tc.body)
				}))
				defer srv.Close()
				opts := e.opts()
				opts.URL, opts.NoPay = srv.URL+"/data", noPay
				res, err := e.client.Fetch(context.Background(), opts,
					io.Discard)
				if !errors.Is(err, tc.want) || res.StatusCode != 402 {
					t.Fatalf("got %+v %v, want %v", res, err, tc.want)
				}
				for _, w := range tc.words {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("message lacks %q: %v", w, err)
					}
				}
				if e.spent(t) != 0 {
					t.Fatal("something was paid")
				}
				if tc.want != ErrInvalidChallenge && e.client.contacted {
					t.Fatal("the node was asked")
				}
			})
		}
	}
}

// TestOtherPaywallsLeaveOurChallenges: a 402 with an L402 challenge is
// bought even when its body also speaks x402: the challenge wins.
func TestOtherPaywallsLeaveOurChallenges(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("PAYMENT-REQUIRED", x402v2Header)
			rec := httptest.NewRecorder()
			e.wall.ServeHTTP(rec, r)
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.WriteHeader(rec.Code)
			io.WriteString(w, x402v1Body)
			return
		}
		e.wall.ServeHTTP(w, r)
	}))
	defer srv.Close()
	opts := e.opts()
	opts.URL = srv.URL + "/api"
	res, err := e.client.Fetch(context.Background(), opts, io.Discard)
	if err != nil || !res.L402Paid {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestOtherPaywallText: a server's words in the message are made
// printable and cut.
func TestOtherPaywallText(t *testing.T) {
	h := http.Header{}
	err := otherPaywall(h, []byte(`{"x402Version":1,"accepts":[{"scheme":
		"exact\u001b[31m","network":"`+strings.Repeat("n", 500)+`"}]}`))
	if !errors.Is(err, ErrX402Paywall) || strings.Contains(err.Error(),
		"\x1b") || len(err.Error()) > 600 {
		t.Fatalf("%q", err)
	}
}
