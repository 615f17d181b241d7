package fetch

import (
	"encoding/base64"
	"net/http"
	"unicode/utf8"
)

// Result is what fetch reports, with lnget's JSON field names.
type Result struct {
	URL              string `json:"url"`
	StatusCode       int    `json:"status_code"`
	ContentType      string `json:"content_type"`
	Size             int64  `json:"size"`
	OutputPath       string `json:"output_path,omitempty"`
	L402Paid         bool   `json:"l402_paid"`
	L402AmountSat    int64  `json:"l402_amount_sat"`
	L402FeeSat       int64  `json:"l402_fee_sat"`
	DurationMs       int64  `json:"duration_ms"`
	InvoiceAmountSat int64  `json:"invoice_amount_sat,omitempty"`
	MaxCostSats      int64  `json:"max_cost_sats,omitempty"`
	Invoice          string `json:"invoice,omitempty"`
	PaymentHash      string `json:"payment_hash,omitempty"`

	// Body is the body a run captured (Output.Capture), BodyTruncated
	// whether Output.CaptureMax cut it; Size is the whole body's.
	Body          []byte `json:"-"`
	BodyTruncated bool   `json:"-"`

	// captured says the body was captured, empty or not.
	captured bool
}

// JSONResult is a Result as lnget's --json prints it: with a captured
// body as Body when it is UTF-8, else as BodyBase64.
type JSONResult struct {
	Result
	Text   *string `json:"body,omitempty"`
	Base64 *string `json:"body_base64,omitempty"`
}

// JSON returns the result with its captured body, if any, as text or
// base64. A preview's 402 has no body to show.
func (r Result) JSON() JSONResult {
	out := JSONResult{Result: r}
	if !r.captured || r.StatusCode == http.StatusPaymentRequired {
		return out
	}
	if utf8.Valid(r.Body) {
		s := string(r.Body)
		out.Text = &s
	} else {
		s := base64.StdEncoding.EncodeToString(r.Body)
		out.Base64 = &s
	}
	return out
}
