package fetch

import (
	"encoding/base64"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/l402/l402/internal/mpp"
)

// Result is what fetch reports, with lnget's JSON field names.
type Result struct {
	URL           string `json:"url"`
	StatusCode    int    `json:"status_code"`
	ContentType   string `json:"content_type"`
	Size          int64  `json:"size"`
	OutputPath    string `json:"output_path,omitempty"`
	L402Paid      bool   `json:"l402_paid"`
	L402AmountSat int64  `json:"l402_amount_sat"`
	L402FeeSat    int64  `json:"l402_fee_sat"`

	DurationMs       int64  `json:"duration_ms"`
	InvoiceAmountSat int64  `json:"invoice_amount_sat,omitempty"`
	MaxCostSats      int64  `json:"max_cost_sats,omitempty"`
	Invoice          string `json:"invoice,omitempty"`
	PaymentHash      string `json:"payment_hash,omitempty"`

	// PaymentScheme is lnget's: "L402" or "Payment", the scheme this
	// run paid with (l402_paid), sent a paid Payment charge with, or,
	// in a preview, would pay with. Empty when none.
	PaymentScheme string `json:"payment_scheme,omitempty"`

	// PaymentReceipt is the Payment-Receipt of the answer to a Payment
	// charge's credential, as the server sent it (docs/mpp.md); nil
	// without one.
	PaymentReceipt *mpp.Receipt `json:"payment_receipt,omitempty"`

	// BalanceRemaining is what a metered service said is left of the
	// balance the request drew on, in msat (metered.go); nil when it
	// said nothing.
	BalanceRemaining *int64 `json:"balance_remaining,omitempty"`

	// Limits are the caps the fetch kept to and what is left of them;
	// nil when the options were refused before they were known.
	Limits *Limits `json:"limits,omitempty"`

	// Body is the body a run captured (Output.Capture), BodyTruncated
	// whether Output.CaptureMax cut it; Size is the whole body's.
	Body          []byte `json:"-"`
	BodyTruncated bool   `json:"-"`

	// CachedToken says the request went with a token the store already
	// held for the origin (lnget's dry-run has_cached_token).
	CachedToken bool `json:"-"`

	// captured says the body was captured, empty or not.
	captured bool

	// chargeSent says a Payment charge credential was sent: nothing
	// may send it again.
	chargeSent bool
}

// JSONBodyMax is how much of the body `fetch --json` embeds without -o
// (lnget's --print-body cap): a capture's Output.CaptureMax. Size stays
// the whole body's and body_truncated says it was cut.
const JSONBodyMax = 1 << 20

// JSONResult is a Result as lnget's --json prints it: with lnget's
// Duration ("1.5s", beside duration_ms), a captured body as Body when it
// is UTF-8, else as BodyBase64, and Truncated when Output.CaptureMax cut
// it.
type JSONResult struct {
	Result
	Duration  string  `json:"duration"`
	Text      *string `json:"body,omitempty"`
	Base64    *string `json:"body_base64,omitempty"`
	Truncated bool    `json:"body_truncated,omitempty"`
}

// JSON returns the result with its captured body, if any, as text or
// base64. A preview's 402 has no body to show. A text body cut inside a
// character loses that character's first bytes, so that it stays text.
func (r Result) JSON() JSONResult {
	out := JSONResult{Result: r,
		Duration: (time.Duration(r.DurationMs) * time.Millisecond).String()}
	if !r.captured || r.StatusCode == http.StatusPaymentRequired {
		return out
	}
	body := r.Body
	if r.BodyTruncated {
		out.Truncated = true
		body = trimCutRune(body)
	}
	if utf8.Valid(body) {
		s := string(body)
		out.Text = &s
	} else {
		s := base64.StdEncoding.EncodeToString(r.Body)
		out.Base64 = &s
	}
	return out
}

// trimCutRune drops the bytes of a UTF-8 character cut at the end of b,
// when the rest is valid UTF-8; otherwise it returns b as it is.
func trimCutRune(b []byte) []byte {
	for n := 1; n < utf8.UTFMax && n <= len(b); n++ {
		head := b[:len(b)-n]
		if !utf8.Valid(b[len(b)-n:]) && utf8.Valid(head) &&
			!utf8.FullRune(b[len(b)-n:]) {
			return head
		}
	}
	return b
}
