package mcp

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/tokens"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// FetchArgs are the arguments of fetch (lnget: download, whose url and
// output they include).
type FetchArgs struct {
	URL     string            `json:"url" jsonschema:"the URL to fetch (http or https)"`
	Method  string            `json:"method,omitempty" jsonschema:"HTTP method; GET, or POST when there is a body"`
	Headers map[string]string `json:"headers,omitempty" jsonschema:"request headers, name to value"`
	Body    string            `json:"body,omitempty" jsonschema:"request body (text)"`
	MaxCost int64             `json:"max_cost,omitempty" jsonschema:"the most to pay for this call, in sats; may only lower the user's per-call cap; 0 or absent is that cap"`
	Output  string            `json:"output,omitempty" jsonschema:"write the body to this file (whole or not at all) instead of returning it"`

	PreferScheme string `json:"prefer_scheme,omitempty" jsonschema:"the scheme to pay when the 402 offers both: l402 (a token reused for the origin) or payment (a Payment charge, good for this one request); absent is the user's preferscheme, else l402"`
}

// FetchResult is what fetch returns: the fields of l402 fetch --json
// (lnget's), with the body as text when it is text.
type FetchResult struct {
	URL              string `json:"url"`
	StatusCode       int    `json:"status_code"`
	ContentType      string `json:"content_type"`
	Size             int64  `json:"size" jsonschema:"the whole body's size in bytes, also when it was cut or left out"`
	OutputPath       string `json:"output_path,omitempty"`
	L402Paid         bool   `json:"l402_paid" jsonschema:"a payment was made by this call"`
	L402AmountSat    int64  `json:"l402_amount_sat"`
	L402FeeSat       int64  `json:"l402_fee_sat"`
	DurationMs       int64  `json:"duration_ms"`
	Duration         string `json:"duration"`
	InvoiceAmountSat int64  `json:"invoice_amount_sat,omitempty" jsonschema:"the price of a challenge not paid"`
	MaxCostSats      int64  `json:"max_cost_sats" jsonschema:"the per-call cap this call ran under"`
	Invoice          string `json:"invoice,omitempty"`
	PaymentHash      string `json:"payment_hash,omitempty"`

	PaymentScheme  string       `json:"payment_scheme,omitempty" jsonschema:"L402 or Payment: the scheme this call paid with, or a preview would"`
	PaymentReceipt *mpp.Receipt `json:"payment_receipt,omitempty" jsonschema:"the server's Payment-Receipt for a Payment charge"`

	Body          string `json:"body,omitempty" jsonschema:"the body, when it is text, at most the server's body cap"`
	BodyTruncated bool   `json:"body_truncated,omitempty" jsonschema:"the body was cut at the body cap; size is the whole body's"`
	BodyBinary    bool   `json:"body_binary,omitempty" jsonschema:"the body is binary and left out: see size and content_type, or fetch it with output"`

	Error *ToolError `json:"error,omitempty"`
}

// PreviewArgs are the arguments of preview (lnget: dry_run, whose url
// they include).
type PreviewArgs struct {
	URL     string            `json:"url" jsonschema:"the URL to preview"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	MaxCost int64             `json:"max_cost,omitempty" jsonschema:"the cap to check the price against; may only lower the user's"`

	PreferScheme string `json:"prefer_scheme,omitempty" jsonschema:"the scheme whose price to report when the 402 offers both: l402 or payment"`
}

// PreviewResult is a fetch that never paid, with lnget's dry_run fields.
type PreviewResult struct {
	FetchResult
	DryRun          bool `json:"dry_run"`
	HasCachedToken  bool `json:"has_cached_token" jsonschema:"a token for the origin is held: fetch pays nothing"`
	RequiresL402    bool `json:"requires_l402"`
	RequiresPayment bool `json:"requires_payment"`
	WithinBudget    bool `json:"within_budget" jsonschema:"the price is within the per-call cap (the 24-hour cap: spending_stats)"`
}

// fetchTool is fetch and download.
func (s *Server) fetchTool(ctx context.Context, _ *sdk.CallToolRequest,
	in FetchArgs) (*sdk.CallToolResult, *FetchResult, error) {

	c, err := s.newCall(in.MaxCost)
	out := &FetchResult{URL: in.URL, MaxCostSats: c.maxCost}
	if err != nil {
		out.Error = c.toolError(err)
		return errorResult(out.Error), out, nil
	}
	opts, err := s.request(c, in.URL, in.Method, in.Headers, in.Body,
		in.PreferScheme)
	if err != nil {
		out.Error = c.toolError(err)
		return errorResult(out.Error), out, nil
	}
	if in.Output != "" {
		path, err := s.outputPath(in.Output)
		if err != nil {
			out.Error = c.toolError(err)
			return errorResult(out.Error), out, nil
		}
		opts.Output = fetch.Output{File: path}
	}
	res, err := fetch.Run(ctx, opts)
	out = s.fetchResult(res, c)
	if err != nil {
		out.Error = c.toolError(err)
		return errorResult(out.Error), out, nil
	}
	return nil, out, nil
}

// previewTool is preview and dry_run.
func (s *Server) previewTool(ctx context.Context, _ *sdk.CallToolRequest,
	in PreviewArgs) (*sdk.CallToolResult, *PreviewResult, error) {

	c, err := s.newCall(in.MaxCost)
	out := &PreviewResult{DryRun: true,
		FetchResult: FetchResult{URL: in.URL, MaxCostSats: c.maxCost}}
	if err != nil {
		out.Error = c.toolError(err)
		return errorResult(out.Error), out, nil
	}
	out.HasCachedToken = s.holdsToken(ctx, in.URL)
	opts, err := s.request(c, in.URL, in.Method, in.Headers, in.Body,
		in.PreferScheme)
	if err != nil {
		out.Error = c.toolError(err)
		return errorResult(out.Error), out, nil
	}
	opts.NoPay = true
	res, err := fetch.Run(ctx, opts)
	out.FetchResult = *s.fetchResult(res, c)
	if res.StatusCode == http.StatusPaymentRequired {
		out.RequiresPayment = true
		if res.Invoice != "" {
			out.RequiresL402 = res.PaymentScheme ==
				fetch.SchemeL402.Name()
			out.WithinBudget = res.InvoiceAmountSat <= c.maxCost
		}
	}
	if err != nil {
		out.Error = c.toolError(err)
		return errorResult(out.Error), out, nil
	}
	return nil, out, nil
}

// request returns the run of a tool's request: the body captured up to
// the body cap, every HTTP status returned as a result (the model reads
// status_code), and the scheme preference, if any (it chooses between
// two offers; no cap depends on it).
func (s *Server) request(c call, rawURL, method string,
	headers map[string]string, body, scheme string) (fetch.RunOptions,
	error) {

	opts := s.runOptions(c, rawURL)
	sc, err := fetch.ParseScheme(scheme)
	if err != nil {
		return opts, fmt.Errorf("prefer_scheme: %w", err)
	}
	opts.PreferScheme = sc
	opts.Method = method
	opts.AllowHTTPError = true
	if len(headers) > 0 {
		opts.Header = http.Header{}
		for k, v := range headers {
			opts.Header.Set(k, v)
		}
	}
	if body != "" {
		opts.Body = fetch.BodyBytes([]byte(body))
	}
	opts.Output = fetch.Output{Capture: true, CaptureMax: s.bodyCap}
	return opts, nil
}

// fetchResult turns fetch's result into the tool's: the body as text
// when it is text, else its size and type only.
func (s *Server) fetchResult(res fetch.Result, c call) *FetchResult {
	out := &FetchResult{
		URL:              res.URL,
		StatusCode:       res.StatusCode,
		ContentType:      res.ContentType,
		Size:             res.Size,
		OutputPath:       res.OutputPath,
		L402Paid:         res.L402Paid,
		L402AmountSat:    res.L402AmountSat,
		L402FeeSat:       res.L402FeeSat,
		DurationMs:       res.DurationMs,
		Duration:         (time.Duration(res.DurationMs) * time.Millisecond).String(),
		InvoiceAmountSat: res.InvoiceAmountSat,
		MaxCostSats:      c.maxCost,
		Invoice:          res.Invoice,
		PaymentHash:      res.PaymentHash,
		PaymentScheme:    res.PaymentScheme,
		PaymentReceipt:   res.PaymentReceipt,
	}
	j := res.JSON()
	out.BodyTruncated = j.Truncated
	switch {
	case j.Text != nil && isText(res.ContentType, []byte(*j.Text)):
		out.Body = *j.Text
	case j.Text != nil || j.Base64 != nil:
		out.BodyBinary = true
	}
	return out
}

// holdsToken reports whether the store holds a token for the URL's
// origin.
func (s *Server) holdsToken(ctx context.Context, rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	origin, err := tokens.Origin(u)
	if err != nil {
		return false
	}
	store, err := tokens.Open(ctx, s.cfg.TokenStore)
	if err != nil {
		return false
	}
	defer store.Close()
	_, err = store.Token(ctx, origin)
	return err == nil
}

// isText says whether a body is text a model can read: valid UTF-8
// (checked by the caller) without NUL bytes, of a textual media type or
// none.
func isText(contentType string, body []byte) bool {
	if bytes.IndexByte(body, 0) >= 0 {
		return false
	}
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	major, sub, _ := strings.Cut(mt, "/")
	if major == "text" {
		return true
	}
	for _, suffix := range []string{"+json", "+xml", "+yaml"} {
		if strings.HasSuffix(sub, suffix) {
			return true
		}
	}
	return major == "application" && textApplication[sub]
}

// textApplication are the application/ media types that are text.
var textApplication = map[string]bool{
	"json": true, "xml": true, "javascript": true, "ecmascript": true,
	"x-www-form-urlencoded": true, "yaml": true, "x-yaml": true,
	"toml": true, "x-ndjson": true, "ndjson": true, "jsonl": true,
	"graphql": true, "sql": true, "csv": true, "x-sh": true,
}
