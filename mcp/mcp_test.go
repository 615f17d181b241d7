package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// pngBytes is the start of a PNG file: not text.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")

// env is a seller (the test paywall, with free paths beside it) and a
// buyer's fetch.yaml and in-memory node, as `l402 mcp` would find them.
type env struct {
	buyer  *lightning.MemoryNode
	seller *lightning.MemoryNode
	wall   *testpaywall.Paywall
	srv    *httptest.Server
	config string
	store  string
}

// newEnv starts a paywall selling at price and writes a fetch.yaml with
// extra lines and a token store of its own.
func newEnv(t *testing.T, price int64, extra string) *env {
	t.Helper()
	net := lightning.NewMemoryNetwork()
	buyer, err := net.NewNode("buyer", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	seller, err := net.NewNode("seller", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	wall := testpaywall.New(seller, price)
	mux := http.NewServeMux()
	mux.Handle("/", wall)
	mux.HandleFunc("/free/text", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, strings.Repeat("0123456789", 10))
	})
	mux.HandleFunc("/free/png", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes)
	})
	mux.HandleFunc("/free/octets", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte{0xff, 0xfe, 0x00, 0x01})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	e := &env{buyer: buyer, seller: seller, wall: wall, srv: srv,
		config: filepath.Join(dir, "fetch.yaml"),
		store:  filepath.Join(dir, "tokens.db")}
	yaml := extra + "tokenstore: " + e.store + "\n"
	if err := os.WriteFile(e.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// options returns the server's options: the env's config and node.
func (e *env) options() Options {
	return Options{
		ConfigPath: e.config,
		Node: func(fetch.Config, io.Writer) (lightning.Node, error) {
			return e.buyer, nil
		},
	}
}

// connect starts a server with opts and connects the SDK's client to it
// over an in-memory pipe: initialize, as an MCP client does.
func connect(t *testing.T, opts Options) *sdk.ClientSession {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	serverSide, clientSide := sdk.NewInMemoryTransports()
	ss, err := s.mcp.Connect(ctx, serverSide, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "test",
		Version: "0"}, nil)
	cs, err := client.Connect(ctx, clientSide, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	return cs
}

// callTool calls a tool and decodes its structured result into out (a
// pointer, zeroed first); it returns the result for its isError and text.
func callTool(t *testing.T, cs *sdk.ClientSession, name string, args any,
	out any) *sdk.CallToolResult {

	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{
		Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if out != nil {
		// A result decoded into a value used before must not keep the
		// fields this one leaves out.
		reflect.ValueOf(out).Elem().SetZero()
	}
	if out != nil && res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: structured result %s: %v", name, b, err)
		}
	}
	return res
}

// text returns a result's text content.
func text(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// ledger returns what the env's token store says was paid and is
// pending.
func (e *env) ledger(t *testing.T) (payments, pending int) {
	t.Helper()
	s, err := tokens.Open(context.Background(), e.store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	paid, err := s.History(context.Background(),
		tokens.HistoryFilter{State: "paid"})
	if err != nil {
		t.Fatal(err)
	}
	pend, err := s.PendingFor(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return len(paid), len(pend)
}

// settled counts the seller's invoices that were paid.
func (e *env) settled(t *testing.T) int {
	t.Helper()
	n := 0
	for _, h := range e.wall.Issued() {
		inv, err := e.seller.LookupInvoice(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if inv.State == lightning.InvoiceSettled {
			n++
		}
	}
	return n
}

// l402Tools and lngetTools are the tools under each name; lngetArgs are
// lnget v1.1.0's argument names, which its tools must take.
var (
	l402Tools = []string{"fetch", "preview", "tokens_list", "tokens_show",
		"tokens_remove", "spending_history", "spending_stats",
		"node_status", "discover", "config_show"}
	lngetTools = []string{"download", "dry_run", "tokens_list",
		"tokens_show", "tokens_remove", "ln_status", "events_list",
		"events_stats", "config_show"}
	lngetArgs = map[string][]string{
		"download":      {"url", "output"},
		"dry_run":       {"url"},
		"tokens_show":   {"domain"},
		"tokens_remove": {"domain"},
		"events_list":   {"limit", "offset", "domain", "status"},
	}
)

func TestListToolsUnderBothNames(t *testing.T) {
	e := newEnv(t, 10, "")
	cs := connect(t, e.options())
	if got := cs.InitializeResult().ServerInfo.Name; got != "l402" {
		t.Fatalf("server name %q", got)
	}
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]*sdk.Tool{}
	for _, tool := range res.Tools {
		tools[tool.Name] = tool
	}
	for _, name := range append(l402Tools, lngetTools...) {
		tool, ok := tools[name]
		if !ok {
			t.Errorf("no tool %s", name)
			continue
		}
		if tool.Description == "" || tool.OutputSchema == nil {
			t.Errorf("%s: no description or output schema", name)
		}
	}
	for name, args := range lngetArgs {
		b, _ := json.Marshal(tools[name].InputSchema)
		var schema struct {
			Properties map[string]any `json:"properties"`
		}
		json.Unmarshal(b, &schema)
		for _, a := range args {
			if _, ok := schema.Properties[a]; !ok {
				t.Errorf("%s does not take lnget's argument %s: %s", name,
					a, b)
			}
		}
	}
	// lnget's tokens_* and config_show are l402's names too.
	if len(tools) != 15 {
		t.Errorf("%d tools, want 15", len(tools))
	}
}

func TestPreviewPaysNothing(t *testing.T) {
	e := newEnv(t, 80, "maxcost: 50\n")
	cs := connect(t, e.options())
	var out PreviewResult
	res := callTool(t, cs, "preview", map[string]any{
		"url": e.srv.URL + "/api"}, &out)
	if res.IsError || out.StatusCode != 402 || out.InvoiceAmountSat != 80 ||
		out.MaxCostSats != 50 || out.WithinBudget || !out.RequiresL402 ||
		!out.RequiresPayment || out.PaymentScheme != "L402" ||
		!out.DryRun || out.HasCachedToken || out.L402Paid ||
		out.Invoice == "" {
		t.Fatalf("preview: %+v %s", out, text(res))
	}

	// lnget's name answers the same; within the cap it says so.
	res = callTool(t, cs, "dry_run", map[string]any{
		"url": e.srv.URL + "/api"}, &out)
	if res.IsError || out.InvoiceAmountSat != 80 || out.WithinBudget {
		t.Fatalf("dry_run: %+v %s", out, text(res))
	}
	e.wall.SetPrice(40)
	callTool(t, cs, "dry_run", map[string]any{"url": e.srv.URL + "/api"},
		&out)
	if out.InvoiceAmountSat != 40 || !out.WithinBudget {
		t.Fatalf("within the cap: %+v", out)
	}
	if paid, pending := e.ledger(t); paid != 0 || pending != 0 ||
		e.settled(t) != 0 {
		t.Fatalf("a preview paid: ledger %d, pending %d", paid, pending)
	}
}

func TestFetchPaysOnceThenReuses(t *testing.T) {
	e := newEnv(t, 30, "maxcost: 50\n")
	cs := connect(t, e.options())
	args := map[string]any{"url": e.srv.URL + "/api"}

	var first, second FetchResult
	res := callTool(t, cs, "fetch", args, &first)
	if res.IsError || !first.L402Paid || first.L402AmountSat != 30 ||
		first.StatusCode != 200 || first.Body != "paid content for GET" ||
		first.ContentType != "text/plain" || first.Invoice != "" {
		t.Fatalf("first fetch: %+v %s", first, text(res))
	}
	res = callTool(t, cs, "download", map[string]any{
		"url": e.srv.URL + "/api"}, &second)
	if res.IsError || second.L402Paid || second.StatusCode != 200 ||
		second.Body != "paid content for GET" || second.Duration == "" {
		t.Fatalf("second fetch (lnget's download): %+v %s", second,
			text(res))
	}
	if paid, pending := e.ledger(t); paid != 1 || pending != 0 ||
		e.settled(t) != 1 || e.wall.Served() != 2 {
		t.Fatalf("ledger %d, pending %d, settled %d, served %d", paid,
			pending, e.settled(t), e.wall.Served())
	}

	// A preview now reports the token held, and the content.
	var p PreviewResult
	callTool(t, cs, "preview", args, &p)
	if !p.HasCachedToken || p.StatusCode != 200 || p.RequiresPayment {
		t.Fatalf("preview with a token: %+v", p)
	}

	// A POST with headers and a body goes through with the token.
	res = callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api", "method": "POST", "body": "q=1",
		"headers": map[string]string{"Content-Type": "text/plain"}},
		&first)
	if res.IsError || first.Body != "paid content for POST" ||
		e.wall.LastBody() != "q=1" || first.L402Paid {
		t.Fatalf("POST: %+v %s", first, text(res))
	}
}

// TestRefusedAboveTheServerCap: a price above the user's cap is refused
// with the reason, and nothing is paid; a tool's max_cost above the cap
// does not raise it.
func TestRefusedAboveTheServerCap(t *testing.T) {
	e := newEnv(t, 80, "maxcost: 1000\n")
	max := int64(50)
	opts := e.options()
	opts.MaxCostSat = &max // the flag wins over fetch.yaml's 1000
	cs := connect(t, opts)

	for _, args := range []map[string]any{
		{"url": e.srv.URL + "/api"},
		{"url": e.srv.URL + "/api", "max_cost": 100},
		{"url": e.srv.URL + "/api", "max_cost": 1_000_000},
	} {
		var out FetchResult
		res := callTool(t, cs, "fetch", args, &out)
		if !res.IsError || out.Error == nil ||
			out.Error.Code != "over_budget" || out.Error.Limit != "max_cost" ||
			out.Error.LimitSat != 50 || !out.Error.ByUser ||
			out.L402Paid || out.InvoiceAmountSat != 80 ||
			out.MaxCostSats != 50 {
			t.Fatalf("%v: %+v %+v %s", args, out, out.Error, text(res))
		}
		if !strings.Contains(text(res), "price 80 sat is above the "+
			"user's per-call cap 50 sat") ||
			!strings.Contains(text(res), "no tool argument can raise it") {
			t.Fatalf("the reason: %s", text(res))
		}
	}
	if paid, pending := e.ledger(t); paid != 0 || pending != 0 ||
		e.settled(t) != 0 {
		t.Fatalf("refusals paid: ledger %d, pending %d, settled %d", paid,
			pending, e.settled(t))
	}
}

// TestToolMaxCostOnlyLowers: max_cost below the cap is the call's cap,
// named as the tool's own.
func TestToolMaxCostOnlyLowers(t *testing.T) {
	e := newEnv(t, 40, "maxcost: 50\n")
	cs := connect(t, e.options())
	var out FetchResult
	res := callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api", "max_cost": 30}, &out)
	if !res.IsError || out.Error.Limit != "max_cost" ||
		out.Error.LimitSat != 30 || out.Error.ByUser ||
		!strings.Contains(out.Error.Message, "above max_cost 30 sat") {
		t.Fatalf("max_cost 30 at price 40: %+v %s", out.Error, text(res))
	}
	res = callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api", "max_cost": -1}, &out)
	if !res.IsError || out.Error.Code != "bad_arguments" {
		t.Fatalf("negative max_cost: %+v", out.Error)
	}
	res = callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api", "max_cost": 45}, &out)
	if res.IsError || !out.L402Paid || out.MaxCostSats != 45 {
		t.Fatalf("max_cost 45 at price 40: %+v %s", out, text(res))
	}
}

// TestDailyCapRefuses: the user's 24-hour cap counts the ledger; a call
// over it is refused and names it.
func TestDailyCapRefuses(t *testing.T) {
	e := newEnv(t, 60, "maxfee: 0\n")
	total := int64(100)
	opts := e.options()
	opts.MaxTotalSat = &total
	cs := connect(t, opts)
	var out FetchResult
	if res := callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api"}, &out); res.IsError || !out.L402Paid {
		t.Fatalf("first purchase: %+v %s", out, text(res))
	}
	var removed TokenRemoved
	if res := callTool(t, cs, "tokens_remove", map[string]any{
		"origin": e.srv.URL}, &removed); res.IsError || !removed.Removed {
		t.Fatalf("remove: %s", text(res))
	}
	res := callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api"}, &out)
	if !res.IsError || out.Error.Code != "over_budget" ||
		out.Error.Limit != "max_total" || out.Error.LimitSat != 100 ||
		!strings.Contains(out.Error.Message, "the user's 24-hour cap") {
		t.Fatalf("second purchase: %+v %s", out.Error, text(res))
	}
	if paid, pending := e.ledger(t); paid != 1 || pending != 0 {
		t.Fatalf("ledger %d, pending %d", paid, pending)
	}
	var st Stats
	callTool(t, cs, "spending_stats", nil, &st)
	if st.Spent24hSat != 60 || st.Limits.MaxTotalSat != 100 ||
		st.Payments != 1 || st.TotalSpentSat != 60 || st.ActiveTokens != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBodyCap(t *testing.T) {
	e := newEnv(t, 10, "")
	opts := e.options()
	opts.BodyCap = 25
	cs := connect(t, opts)
	var out FetchResult
	res := callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/free/text"}, &out)
	if res.IsError || out.Body != "0123456789012345678901234" ||
		!out.BodyTruncated || out.Size != 100 || out.BodyBinary {
		t.Fatalf("capped: %+v %s", out, text(res))
	}

	// Without a cap set, DefaultBodyCap keeps the whole of it.
	cs = connect(t, e.options())
	var whole FetchResult
	callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/free/text"}, &whole)
	if len(whole.Body) != 100 || whole.BodyTruncated {
		t.Fatalf("default cap: %+v", whole)
	}
}

func TestBinaryBodyIsReportedNotPasted(t *testing.T) {
	e := newEnv(t, 10, "")
	cs := connect(t, e.options())
	for path, ctype := range map[string]string{
		"/free/png":    "image/png",
		"/free/octets": "application/octet-stream",
	} {
		var out FetchResult
		res := callTool(t, cs, "fetch", map[string]any{
			"url": e.srv.URL + path}, &out)
		if res.IsError || out.Body != "" || !out.BodyBinary ||
			out.ContentType != ctype || out.Size == 0 ||
			strings.Contains(text(res), "PNG") {
			t.Fatalf("%s: %+v %s", path, out, text(res))
		}
	}
}

func TestOutputFile(t *testing.T) {
	e := newEnv(t, 10, "")
	opts := e.options()
	opts.OutputDir = t.TempDir()
	cs := connect(t, opts)
	path := filepath.Join(opts.OutputDir, "out.png")
	var out FetchResult
	res := callTool(t, cs, "download", map[string]any{
		"url": e.srv.URL + "/free/png", "output": path}, &out)
	got, err := os.ReadFile(path)
	if res.IsError || err != nil || string(got) != string(pngBytes) ||
		out.OutputPath != path || out.Body != "" || out.BodyBinary {
		t.Fatalf("output file: %+v %v %s", out, err, text(res))
	}
}

func TestTokensAndHistory(t *testing.T) {
	e := newEnv(t, 30, "")
	cs := connect(t, e.options())
	callTool(t, cs, "fetch", map[string]any{"url": e.srv.URL + "/api"}, nil)
	origin := "http://" + e.srv.Listener.Addr().String()
	domain := e.srv.Listener.Addr().String() // 127.0.0.1:PORT

	var list TokensList
	callTool(t, cs, "tokens_list", nil, &list)
	if len(list.Tokens) != 1 || list.Tokens[0].Origin != origin ||
		list.Tokens[0].Domain != domain || list.Tokens[0].State != "paid" ||
		list.Tokens[0].Pending || list.Tokens[0].AmountSat != 30 ||
		list.Tokens[0].Created == "" {
		t.Fatalf("tokens_list: %+v", list)
	}
	var shown TokenInfo
	if res := callTool(t, cs, "tokens_show", map[string]any{
		"domain": domain}, &shown); res.IsError ||
		shown.Origin != origin || len(shown.Caveats) == 0 {
		t.Fatalf("tokens_show by domain: %+v %s", shown, text(res))
	}
	if res := callTool(t, cs, "tokens_show", map[string]any{
		"domain": "elsewhere.example"}, nil); !res.IsError ||
		!strings.HasPrefix(text(res), "not_found: ") {
		t.Fatalf("unknown domain: %s", text(res))
	}

	var h History
	for _, args := range []map[string]any{nil, {"domain": domain},
		{"origin": e.srv.URL + "/api"}, {"status": "success"},
		{"since": "1h"}} {
		callTool(t, cs, "events_list", args, &h)
		if h.Count != 1 || len(h.Events) != 1 ||
			h.Events[0].Status != "success" || h.Events[0].AmountSat != 30 ||
			h.Events[0].Origin != origin || h.Events[0].Scheme != "l402" ||
			h.Events[0].Kind != "purchase" {
			t.Fatalf("events_list %v: %+v", args, h)
		}
	}
	if res := callTool(t, cs, "spending_history", map[string]any{
		"since": "last week"}, nil); !res.IsError ||
		!strings.HasPrefix(text(res), "bad_arguments: ") {
		t.Fatalf("a bad since: %s", text(res))
	}
	for _, args := range []map[string]any{{"status": "pending"},
		{"domain": "elsewhere.example"}, {"offset": 1},
		{"since": "2100-01-01"}} {
		callTool(t, cs, "spending_history", args, &h)
		if h.Count != 0 || len(h.Events) != 0 {
			t.Fatalf("spending_history %v: %+v", args, h)
		}
	}

	var removed TokenRemoved
	if res := callTool(t, cs, "tokens_remove", map[string]any{
		"domain": domain}, &removed); res.IsError || !removed.Removed ||
		removed.Origin != origin || removed.Domain != domain {
		t.Fatalf("tokens_remove: %+v %s", removed, text(res))
	}
	callTool(t, cs, "tokens_list", nil, &list)
	if len(list.Tokens) != 0 {
		t.Fatalf("tokens left: %+v", list)
	}
}

func TestNodeStatusAndConfig(t *testing.T) {
	e := newEnv(t, 10, "lnd:\n  host: 127.0.0.1:1\n")
	cs := connect(t, e.options())
	var st NodeStatus
	callTool(t, cs, "ln_status", nil, &st)
	if !st.Connected || st.Type != "lnd" || st.Network != "regtest" ||
		st.Alias != "buyer" || st.NodePubkey != e.buyer.Pubkey() {
		t.Fatalf("ln_status: %+v", st)
	}

	// node_status is `l402 status`'s report (status.Run), with the caps
	// the server keeps to and lnget's balance_sat: the outbound
	// liquidity.
	callTool(t, cs, "node_status", nil, &st)
	want := lightning.DefaultMemoryChannel.SpendableSat()
	if !st.Usable || len(st.Problems) != 0 || !st.Liquidity.Known ||
		st.Liquidity.OutboundSat != want || st.BalanceSat != want ||
		st.Macaroon == nil || st.Macaroon.Kind != "unknown" ||
		st.Budget.MaxCostSat != fetch.DefaultMaxCostSat ||
		st.Tokens.Store != e.store || st.Node.Alias != "buyer" {
		t.Fatalf("node_status: %+v", st)
	}
	cost := int64(7)
	opts := e.options()
	opts.MaxCostSat = &cost
	callTool(t, connect(t, opts), "node_status", nil, &st)
	if st.Budget.MaxCostSat != 7 {
		t.Fatalf("node_status names fetch.yaml's cap, not the server's: %+v",
			st.Budget)
	}

	var set Settings
	callTool(t, cs, "config_show", nil, &set)
	if set.Config.Limits.MaxCostSat != fetch.DefaultMaxCostSat ||
		set.Config.BodyCap != DefaultBodyCap || set.Config.Node != "lnd" ||
		set.Config.TokenStore != e.store {
		t.Fatalf("config_show: %+v", set)
	}

	// Without a node, the status says why; it is not a tool error.
	opts = e.options()
	opts.Node = func(fetch.Config, io.Writer) (lightning.Node, error) {
		return nil, nil
	}
	cs = connect(t, opts)
	res := callTool(t, cs, "node_status", nil, &st)
	if res.IsError || st.Connected || st.Error == "" || st.Usable ||
		len(st.Problems) == 0 {
		t.Fatalf("no node: %+v", st)
	}
}

func TestDiscover(t *testing.T) {
	e := newEnv(t, 10, "")
	cs := connect(t, e.options())

	// The paywall answers 402 at every path it sells: no free manifest.
	var d Discovery
	res := callTool(t, cs, "discover", map[string]any{
		"url": e.srv.URL + "/api/x"}, &d)
	if res.IsError || d.Published || d.StatusCode != 402 ||
		d.URL != e.srv.URL+fetch.ManifestPath || d.Manifest != nil ||
		!strings.Contains(d.Reason, "never pays") {
		t.Fatalf("behind a paywall: %+v %s", d, text(res))
	}
	if paid, _ := e.ledger(t); paid != 0 {
		t.Fatal("discover paid")
	}

	manifest := `{"version":"1.0","provider":{"name":"weather"},
		"currencies":["msat"],"services":[{"name":"weather","resources":
		[{"path":"/forecast","pricing":{"model":"fixed","price_msat":30000}}]}]}`
	doc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		switch r.URL.Path {
		case fetch.ManifestPath:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, manifest)
		default:
			http.NotFound(w, r)
		}
	}))
	defer doc.Close()
	res = callTool(t, cs, "discover", map[string]any{"url": doc.URL}, &d)
	if res.IsError || !d.Published || d.StatusCode != 200 ||
		d.Manifest == nil || len(d.Manifest.Services) != 1 ||
		*d.Manifest.Services[0].Resources[0].Pricing.PriceMsat != 30000 ||
		d.Manifest.Services[0].Resources[0].Method != "GET" {
		t.Fatalf("published: %+v %s", d, text(res))
	}

	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	res = callTool(t, cs, "discover", map[string]any{"url": missing.URL}, &d)
	if res.IsError || d.Published || d.StatusCode != 404 {
		t.Fatalf("none published: %+v %s", d, text(res))
	}

	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		_ *http.Request) {
		io.WriteString(w, "<html>")
	}))
	defer notJSON.Close()
	res = callTool(t, cs, "discover", map[string]any{"url": notJSON.URL}, nil)
	if !res.IsError || !strings.HasPrefix(text(res), "invalid_discovery: ") {
		t.Fatalf("not a manifest: %s", text(res))
	}
}

// TestConcurrentFetchesPayOnce: calls in flight together go through
// fetch's lock and pending record, so that one payment buys the token
// they all use.
func TestConcurrentFetchesPayOnce(t *testing.T) {
	e := newEnv(t, 25, "")
	cs := connect(t, e.options())
	results := make([]FetchResult, 4)
	errs := make(chan string, len(results))
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func(out *FetchResult) {
			defer wg.Done()
			res, err := cs.CallTool(context.Background(),
				&sdk.CallToolParams{Name: "fetch", Arguments: map[string]any{
					"url": e.srv.URL + "/api"}})
			if err != nil || res.IsError {
				errs <- fmt.Sprint(err, text(res))
				return
			}
			b, _ := json.Marshal(res.StructuredContent)
			json.Unmarshal(b, out)
		}(&results[i])
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	paid := 0
	for _, r := range results {
		if r.Body != "paid content for GET" {
			t.Errorf("body %q", r.Body)
		}
		if r.L402Paid {
			paid++
		}
	}
	if n, pending := e.ledger(t); paid != 1 || n != 1 || pending != 0 ||
		e.settled(t) != 1 {
		t.Fatalf("%d calls paid, ledger %d, pending %d, settled %d", paid,
			n, pending, e.settled(t))
	}
}

func TestOutputStaysInTheOutputDir(t *testing.T) {
	e := newEnv(t, 10, "")
	dir := t.TempDir()
	opts := e.options()
	opts.OutputDir = dir
	cs := connect(t, opts)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		filepath.Join(outside, "x.png"), "../x.png", "a/../../x.png",
		"link/x.png", "",
	} {
		if bad == "" {
			continue
		}
		res := callTool(t, cs, "download", map[string]any{
			"url": e.srv.URL + "/free/png", "output": bad}, nil)
		if !res.IsError || !strings.HasPrefix(text(res), "bad_arguments: ") {
			t.Errorf("output %q: %s, want bad_arguments", bad, text(res))
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("files written outside the output dir: %v", ents)
	}
	var out FetchResult
	res := callTool(t, cs, "download", map[string]any{
		"url": e.srv.URL + "/free/png", "output": "sub/ok.png"}, &out)
	want := filepath.Join(dir, "sub", "ok.png")
	if got, err := os.ReadFile(want); res.IsError || err != nil ||
		string(got) != string(pngBytes) || out.OutputPath != want {
		t.Fatalf("relative output: %+v %v %s", out, err, text(res))
	}
}

// TestFetchPrefersAScheme: the fetch tool's prefer_scheme chooses a
// Payment charge from a seller that offers both schemes, reports it with
// its receipt, and spending_history names the scheme; the default is
// L402; a preview reports the price of the scheme asked for; a bad value
// is refused before any request.
func TestFetchPrefersAScheme(t *testing.T) {
	e := newEnv(t, 30, "maxcost: 50\n")
	e.wall.SetSchemes("l402+mpp")
	cs := connect(t, e.options())

	var p PreviewResult
	res := callTool(t, cs, "preview", map[string]any{
		"url": e.srv.URL + "/api", "prefer_scheme": "payment"}, &p)
	if res.IsError || p.PaymentScheme != "Payment" || p.RequiresL402 ||
		!p.RequiresPayment || p.InvoiceAmountSat != 30 {
		t.Fatalf("preview: %+v %s", p, text(res))
	}

	var out FetchResult
	res = callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api", "prefer_scheme": "payment"}, &out)
	if res.IsError || !out.L402Paid || out.PaymentScheme != "Payment" ||
		out.PaymentReceipt == nil || out.Body != "paid content for GET" {
		t.Fatalf("fetch, payment preferred: %+v %s", out, text(res))
	}
	var h History
	callTool(t, cs, "spending_history", nil, &h)
	if h.Count != 1 || h.Events[0].Scheme != "payment" {
		t.Fatalf("history %+v", h)
	}

	res = callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api"}, &out)
	if res.IsError || !out.L402Paid || out.PaymentScheme != "L402" ||
		out.PaymentReceipt != nil {
		t.Fatalf("fetch, default: %+v %s", out, text(res))
	}

	challenges := e.wall.Challenges()
	res = callTool(t, cs, "fetch", map[string]any{
		"url": e.srv.URL + "/api", "prefer_scheme": "x402"}, &out)
	if !res.IsError || !strings.HasPrefix(text(res), "bad_arguments: ") ||
		e.wall.Challenges() != challenges {
		t.Fatalf("a bad prefer_scheme: %s", text(res))
	}
}
