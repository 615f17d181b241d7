package fetch

import "net/http"

// DryRunResult is what lnget v1.1.0's --dry-run prints, with its field
// names, from a fetch that never paid (NoPay): whether the URL asks for
// payment, its price against the cost cap, and whether the request went
// with a cached token. StatusCode, Invoice and PaymentHash are l402's.
type DryRunResult struct {
	DryRun           bool   `json:"dry_run"`
	URL              string `json:"url"`
	OutputPath       string `json:"output_path,omitempty"`
	HasCachedToken   bool   `json:"has_cached_token"`
	RequiresL402     bool   `json:"requires_l402"`
	RequiresPayment  bool   `json:"requires_payment"`
	PaymentScheme    string `json:"payment_scheme,omitempty"`
	InvoiceAmountSat int64  `json:"invoice_amount_sat,omitempty"`
	WithinBudget     bool   `json:"within_budget"`
	MaxCostSats      int64  `json:"max_cost_sats"`

	StatusCode  int    `json:"status_code"`
	Invoice     string `json:"invoice,omitempty"`
	PaymentHash string `json:"payment_hash,omitempty"`

	// Discovery is the origin's discovery manifest (l402's), when it
	// publishes one: its services and prices beside the 402's.
	Discovery *Discovery `json:"discovery,omitempty"`
}

// DryRun describes the result of a fetch that never paid as lnget's
// --dry-run does; outputPath is where the body would have gone.
func (r Result) DryRun(outputPath string) DryRunResult {
	d := DryRunResult{
		DryRun:         true,
		URL:            r.URL,
		OutputPath:     outputPath,
		HasCachedToken: r.CachedToken,
		StatusCode:     r.StatusCode,
		Invoice:        r.Invoice,
		PaymentHash:    r.PaymentHash,
	}
	if r.Limits != nil {
		d.MaxCostSats = r.Limits.MaxCostSat
	}
	if r.StatusCode == http.StatusPaymentRequired {
		d.RequiresPayment = true
		if r.Invoice != "" {
			d.RequiresL402, d.PaymentScheme = true, "L402"
			if r.PaymentScheme != "" {
				// A preview says which scheme it would pay.
				d.PaymentScheme = r.PaymentScheme
				d.RequiresL402 = r.PaymentScheme == SchemeL402.Name()
			}
			d.InvoiceAmountSat = r.InvoiceAmountSat
			d.WithinBudget = r.InvoiceAmountSat <= d.MaxCostSats
		}
	}
	return d
}
