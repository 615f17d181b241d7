//go:build itest

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpSession starts `l402 mcp` with args as a subprocess paying through
// home's fetch.yaml, and connects the SDK's client to it over its stdin
// and stdout, as an MCP client configured with the command does.
func mcpSession(ctx context.Context, t *testing.T, home string,
	args ...string) *sdk.ClientSession {

	t.Helper()
	cmd := exec.Command(binary, append([]string{"mcp"}, args...)...)
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	cmd.Stderr = os.Stderr
	client := sdk.NewClient(&sdk.Implementation{Name: "itest",
		Version: "0"}, nil)
	cs, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// mcpCall calls a tool and returns its structured result as a map.
func mcpCall(ctx context.Context, t *testing.T, cs *sdk.ClientSession,
	name string, args map[string]any) (map[string]any, bool) {

	t.Helper()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name,
		Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out, res.IsError
}

// TestItestMCPPaysServeOnce: `l402 mcp`, a subprocess driven over stdio by
// the SDK's client, refuses a price above its --max-cost even when the
// tool's max_cost is higher, with nothing paid; with a higher cap its
// fetch tool pays `l402 serve` through alice once and reuses the token.
func TestItestMCPPaysServeOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "sunny on regtest")
	}))
	defer backend.Close()
	url := "http://" + startServe(t, backend.URL, 30) + "/weather"
	home := buyerHome(t)
	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	// Capped at 20 sat a call: the preview shows the price, and fetch
	// is refused whatever max_cost says; the invoice stays open.
	low := mcpSession(ctx, t, home, "--max-cost", "20")
	p, isErr := mcpCall(ctx, t, low, "dry_run", map[string]any{"url": url})
	if isErr || p["invoice_amount_sat"] != 30.0 || p["within_budget"] != false ||
		p["requires_l402"] != true {
		t.Fatalf("dry_run: %v", p)
	}
	out, isErr := mcpCall(ctx, t, low, "fetch", map[string]any{"url": url,
		"max_cost": 1000})
	e, _ := out["error"].(map[string]any)
	if !isErr || e["code"] != "over_budget" || e["limit"] != "max_cost" ||
		e["limit_sat"] != 20.0 || out["l402_paid"] != false {
		t.Fatalf("above the cap: %v", out)
	}
	h, err := l402.ParseHash(out["payment_hash"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if inv, err := bob.LookupInvoice(ctx, h); err != nil ||
		inv.State != lightning.InvoiceOpen {
		t.Fatalf("the refused invoice: %+v %v", inv, err)
	}
	low.Close()

	// Capped at 40: paid once, then the token is reused.
	cs := mcpSession(ctx, t, home, "--max-cost", "40", "--max-total", "100")
	out, isErr = mcpCall(ctx, t, cs, "fetch", map[string]any{"url": url})
	if isErr || out["l402_paid"] != true || out["l402_amount_sat"] != 30.0 ||
		out["body"] != "sunny on regtest" {
		t.Fatalf("first fetch: %v", out)
	}
	out, isErr = mcpCall(ctx, t, cs, "download", map[string]any{"url": url})
	if isErr || out["l402_paid"] != false || out["body"] != "sunny on regtest" {
		t.Fatalf("second fetch: %v", out)
	}
	st, _ := mcpCall(ctx, t, cs, "node_status", nil)
	if st["connected"] != true || st["network"] != "regtest" {
		t.Fatalf("node_status: %v", st)
	}

	store, err := tokens.Open(ctx, filepath.Join(home, "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	paid, _ := store.History(ctx, tokens.HistoryFilter{State: "paid"})
	pending, _ := store.PendingFor(ctx, "")
	if len(paid) != 1 || len(pending) != 0 || paid[0].AmountMsat != 30_000 {
		t.Fatalf("ledger %+v, pending %+v", paid, pending)
	}
	hash, err := l402.ParseHash(paid[0].PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := bob.LookupInvoice(ctx, hash)
	if err != nil || inv.State != lightning.InvoiceSettled {
		t.Fatalf("bob's invoice %+v %v", inv, err)
	}
	t.Logf("l402 mcp bought from l402 serve once: invoice %s settled",
		paid[0].PaymentHash)
}
