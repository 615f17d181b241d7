package mcp

import (
	"errors"
	"fmt"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/fault"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// register adds every tool under l402's name and, where lnget v1.1.0
// has the tool, under lnget's name too: the same handler, whose
// arguments hold lnget's names and whose result holds lnget's fields.
func (s *Server) register() {
	caps := s.capsText()
	fetchDesc := "Fetch a URL over HTTP(S). On 402 Payment Required it pays " +
		"the L402 price from the user's Lightning node, once, and reuses " +
		"the token for the origin afterwards. The user's caps hold (" +
		caps + "); max_cost may only lower the per-call one. The result " +
		"has the status, the body (text, capped; a binary body is " +
		"reported by size and type) and what was paid."
	previewDesc := "Send the request as fetch would, but never pay: a 402 " +
		"is reported with its price (invoice_amount_sat) and whether it " +
		"is within the per-call cap (" + caps + "). With a token already " +
		"held for the origin the request itself is made with it."
	add(s, "fetch", fetchDesc, s.fetchTool)
	add(s, "download", "lnget's name for fetch. "+fetchDesc, s.fetchTool)
	add(s, "preview", previewDesc, s.previewTool)
	add(s, "dry_run", "lnget's name for preview. "+previewDesc,
		s.previewTool)

	tokensList := "List the L402 tokens bought, one per origin " +
		"(scheme://host:port), and the payments still pending."
	add(s, "tokens_list", tokensList, s.tokensList)
	add(s, "tokens_show", "Show one origin's token with its caveats "+
		"and expiry. Name it by origin (or any URL of it), or by lnget's "+
		"domain (host, with the port when not 80 or 443).", s.tokensShow)
	add(s, "tokens_remove", "Forget one origin's token: the next fetch "+
		"buys a new one. The ledger of payments stays (the 24-hour cap "+
		"counts it).", s.tokensRemove)

	history := "The payments made, newest first, from the ledger (those " +
		"that succeeded) and the pending ones (outcome not known yet)."
	add(s, "spending_history", history, s.history)
	add(s, "events_list", "lnget's name for spending_history. "+history,
		s.history)
	stats := "Spending totals per origin and in all, the last 24 hours' " +
		"spending and the caps in force."
	add(s, "spending_stats", stats, s.stats)
	add(s, "events_stats", "lnget's name for spending_stats. "+stats,
		s.stats)

	status := "Check before paying (l402 status): the paying Lightning " +
		"node (reachable, alias, network, synced), its macaroon's role " +
		"(pay-only or more), the outbound liquidity of its channels, the " +
		"caps in force and what is left of the last 24 hours', the " +
		"tokens held, and the files read; usable says whether it can " +
		"pay, and problems say why not."
	add(s, "node_status", status, s.nodeStatus)
	add(s, "ln_status", "lnget's name for node_status. "+status,
		s.nodeStatus)

	add(s, "discover", "Read an origin's discovery manifest "+
		"(/.well-known/l402.json, the L402 discovery spec's): its "+
		"services, resources, prices in msat, payment methods, quote "+
		"endpoint and caveats; never pays. Says so when the origin "+
		"publishes none.", s.discover)
	add(s, "config_show", "The server's settings: the caps in force "+
		"(which no tool can change), the body cap, the config file, the "+
		"token store and the paying node.", s.configShow)
}

// add registers one tool with a typed handler.
func add[In, Out any](s *Server, name, desc string,
	h sdk.ToolHandlerFor[In, Out]) {

	sdk.AddTool(s.mcp, &sdk.Tool{Name: name, Description: desc}, h)
}

// ToolError is the structured form of a tool that failed: the condition's
// stable code (docs/cli.md's table), what happened, and for a refusal
// over a cap, which cap and its value.
type ToolError struct {
	Code     string `json:"code" jsonschema:"the condition, as in l402's JSON errors: over_budget, payment_failed, no_node, network_error, ..."`
	Message  string `json:"message"`
	Limit    string `json:"limit,omitempty" jsonschema:"the cap that refused the call: max_cost, max_total or max_per_origin"`
	LimitSat int64  `json:"limit_sat,omitempty"`
	// ByUser says the cap is the user's, which no tool argument can
	// raise.
	ByUser bool `json:"set_by_user,omitempty" jsonschema:"the cap is the user's: no tool argument can raise it"`
}

// errorResult is the result of a tool that failed: isError and the
// message as text; the caller's result carries e as its error field.
func errorResult(e *ToolError) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{
		&sdk.TextContent{Text: e.Code + ": " + e.Message}}}
}

// toolError describes err for a result. Limits are named by the tool
// argument or the server setting that set them.
func (c call) toolError(err error) *ToolError {
	names := map[fetch.Limit]string{
		fetch.LimitCost:   "the user's per-call cap",
		fetch.LimitFee:    "the user's max fee",
		fetch.LimitTotal:  "the user's 24-hour cap",
		fetch.LimitOrigin: "the user's 24-hour cap per origin",
	}
	if c.costByTool {
		names[fetch.LimitCost] = "max_cost"
	}
	e := &ToolError{Code: code(err),
		Message: fetch.NameLimits(err, names).Error()}

	var refusal *fetch.Refusal
	if errors.As(err, &refusal) && refusal.Limit != fetch.LimitNone {
		switch refusal.Limit {
		case fetch.LimitCost:
			e.Limit, e.LimitSat, e.ByUser = "max_cost", c.maxCost,
				!c.costByTool
		case fetch.LimitTotal:
			e.Limit, e.LimitSat, e.ByUser = "max_total", c.limits.MaxTotalSat,
				true
		case fetch.LimitOrigin:
			e.Limit, e.LimitSat, e.ByUser = "max_per_origin",
				c.limits.MaxPerOriginSat, true
		}
		if e.ByUser {
			e.Message += "; nothing was paid. It is the user's cap: no " +
				"tool argument can raise it, only the user can"
		} else {
			e.Message += "; nothing was paid"
		}
	}
	return e
}

// code returns the stable code of err's condition, "error" for the
// unforeseen.
func code(err error) string {
	if c := fault.Code(err); c != "" {
		return c
	}
	return "error"
}

// plainError returns err for a tool whose result has no error field,
// with its code in front, as the text the client shows.
func plainError(err error) error {
	return fmt.Errorf("%s: %w", code(err), err)
}

// call is what one purchase runs under: the server's limits, and the
// per-call cap after the tool's max_cost.
type call struct {
	limits     Limits
	maxCost    int64
	costByTool bool
}

// newCall returns the limits of a call whose tool asked for maxCost (0:
// the server's cap): it may only lower the server's cap.
func (s *Server) newCall(maxCost int64) (call, error) {
	c := call{limits: s.limits, maxCost: s.limits.MaxCostSat}
	switch {
	case maxCost < 0:
		return c, ErrBadOptions.Mark(fmt.Errorf("max_cost cannot be "+
			"negative, got %d", maxCost))
	case maxCost > 0 && maxCost < c.maxCost:
		c.maxCost, c.costByTool = maxCost, true
	}
	return c, nil
}

// runOptions returns the fetch of a call: the user's config and every
// limit given explicitly, so that only the server's own caps count.
func (s *Server) runOptions(c call, url string) fetch.RunOptions {
	l := c.limits
	return fetch.RunOptions{
		ConfigPath:       s.opts.ConfigPath,
		URL:              url,
		MaxCostSat:       &c.maxCost,
		MaxFeeSat:        &l.MaxFeeSat,
		MaxTotalSat:      &l.MaxTotalSat,
		MaxPerOriginSat:  &l.MaxPerOriginSat,
		PaymentTimeout:   &l.PaymentTimeout,
		MaxInvoiceExpiry: &l.MaxInvoiceExpiry,
		Timeout:          s.opts.Timeout,
		Insecure:         s.opts.Insecure,
		CACert:           s.opts.CACert,
		Log:              s.opts.Log,
		Node:             s.opts.Node,
	}
}
