package fetch

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/httpauth"
)

// The reasons of a Refusal of a 402 from another payment protocol, one
// fetch does not speak: it says which, instead of a bare
// ErrInvalidChallenge.
var (
	// ErrX402Paywall: the 402 is x402's (Coinbase's protocol): terms in
	// a v2 PAYMENT-REQUIRED header or a v1 JSON body with x402Version
	// and accepts.
	ErrX402Paywall = fault.New("x402_paywall", "x402 paywall")

	// ErrOffersPaywall: the 402's body lists offers to buy through a
	// payment request URL (the Fewsats style: offers,
	// payment_request_url, payment_context_token).
	ErrOffersPaywall = fault.New("offers_paywall", "offers paywall")
)

// otherPaywallMax is how much of a 402's body is read to recognise
// another protocol's terms.
const otherPaywallMax = 64 << 10

// readPaywallBody reads the start of a 402's body, for otherPaywall.
func readPaywallBody(resp *http.Response) []byte {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, otherPaywallMax))
	return b
}

// otherPaywall returns a Refusal naming the protocol of a 402 that
// carries no challenge fetch speaks (L402, LSAT, Payment) but another
// protocol's terms: x402's or offers. It returns nil for a 402 with one
// of fetch's challenges (which are vetted as ever, whatever else the
// answer says) or with no terms it recognises (vetChallenge says what is
// missing).
func otherPaywall(h http.Header, body []byte) error {
	for _, c := range httpauth.ParseChallenges(h.Values("WWW-Authenticate")) {
		switch strings.ToLower(c.Scheme) {
		case "l402", "lsat", "payment":
			return nil
		}
	}
	if terms, ok := x402Terms(h, body); ok {
		return refused(ErrX402Paywall, "this is an x402 paywall (%s): "+
			"l402 pays Lightning invoices of L402 and Payment challenges "+
			"only and does not speak x402; the server sent no L402 or "+
			"Payment challenge", terms)
	}
	if terms, ok := offersTerms(body); ok {
		return refused(ErrOffersPaywall, "this is an offers paywall "+
			"(%s): l402 does not buy through offers; it pays L402 and "+
			"Payment challenges, and the server sent none", terms)
	}
	return nil
}

// x402Required is what otherPaywall reads of x402's PaymentRequired.
type x402Required struct {
	Version *int `json:"x402Version"`
	Accepts []struct {
		Scheme  string `json:"scheme"`
		Network string `json:"network"`
		Asset   string `json:"asset"`
		Extra   struct {
			Name          string `json:"name"`
			PaymentMethod string `json:"paymentMethod"`
		} `json:"extra"`
	} `json:"accepts"`
}

// x402Terms describes the x402 terms of a 402: v2's PAYMENT-REQUIRED
// header (base64 of JSON), else v1's body; false when there are none.
func x402Terms(h http.Header, body []byte) (string, bool) {
	var req x402Required
	found := false
	if v := strings.TrimSpace(h.Get("Payment-Required")); v != "" {
		for _, enc := range []*base64.Encoding{base64.StdEncoding,
			base64.RawStdEncoding, base64.URLEncoding,
			base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil &&
				json.Unmarshal(b, &req) == nil && req.Version != nil {
				found = true
				break
			}
		}
	}
	if !found && (json.Unmarshal(body, &req) != nil || req.Version == nil ||
		req.Accepts == nil) {
		return "", false
	}
	var offers []string
	for _, a := range req.Accepts {
		asset := a.Extra.Name
		if asset == "" {
			asset = a.Asset
		}
		network := x402Networks[a.Network]
		if network == "" {
			network = a.Network
		}
		s := strings.TrimSpace(a.Scheme + " " + asset)
		if strings.EqualFold(a.Extra.PaymentMethod, "lightning") {
			s += " over Lightning"
		}
		offers = append(offers, printable(s+" on "+network))
		if len(offers) == 3 {
			break
		}
	}
	if len(offers) == 0 {
		offers = []string{"no terms listed"}
	}
	if more := len(req.Accepts) - len(offers); more > 0 {
		offers = append(offers, fmt.Sprintf("%d more", more))
	}
	return fmt.Sprintf("x402 v%d: %s", *req.Version,
		strings.Join(offers, ", ")), true
}

// x402Networks names the CAIP-2 networks x402 v2 writes as v1 named
// them.
var x402Networks = map[string]string{
	"eip155:8453":  "base",
	"eip155:84532": "base-sepolia",
	"eip155:1":     "ethereum",
	"eip155:137":   "polygon",
	"bip122:000000000019d6689c085ae165831e93": "bitcoin",
	"bip122:000000000933ea01ad0ee984209779ba": "bitcoin testnet",
}

// offersTerms describes an offers body: a non-empty offers array and the
// URL or token to buy them through; false when the body is not one.
func offersTerms(body []byte) (string, bool) {
	var o struct {
		Offers []struct {
			Title          string   `json:"title"`
			PaymentMethods []string `json:"payment_methods"`
		} `json:"offers"`
		PaymentRequestURL   string `json:"payment_request_url"`
		PaymentContextToken string `json:"payment_context_token"`
	}
	if json.Unmarshal(body, &o) != nil || len(o.Offers) == 0 ||
		o.PaymentRequestURL == "" && o.PaymentContextToken == "" {
		return "", false
	}
	first := o.Offers[0]
	s := fmt.Sprintf("%d offer(s), such as %q", len(o.Offers),
		printable(first.Title))
	if len(first.PaymentMethods) > 0 {
		s += " paid by " + printable(strings.Join(first.PaymentMethods,
			", "))
	}
	if o.PaymentRequestURL != "" {
		s += " through " + printable(o.PaymentRequestURL)
	}
	return s, true
}
