//go:build itest

package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/status"
	"github.com/l402/l402/tokens"
)

// TestItestStatus runs `l402 status --json` on alice's real lnd: with the
// pay-only macaroon `l402 setup --role buyer` bakes, the node is synced
// and usable, the role is pay-only, and the outbound liquidity comes from
// ChannelBalance (the role may not list channels); after a purchase from
// bob the budget and the tokens show it, and `tokens history` lists it.
// With lnd's admin.macaroon the channels are listed, and the macaroon is
// named admin with a warning.
func TestItestStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	home := t.TempDir()
	if _, errOut, code := runL402(t, ctx, home, "setup", "--role", "buyer",
		"--lnddir", stack.Alice.LndDir); code != 0 {
		t.Fatalf("setup buyer: %d\n%s", code, errOut)
	}
	out, errOut, code := runL402(t, ctx, home, "status", "--json")
	var rep status.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("status: %d %s\n%s", code, out, errOut)
	}
	if !rep.Usable || !rep.Node.Reachable || !rep.Node.Synced ||
		rep.Node.Network != "regtest" || rep.Node.Pubkey != stack.Alice.Pubkey ||
		rep.Macaroon.Role != "pay-only" || rep.Macaroon.Kind != "pay-only" ||
		!rep.Macaroon.Pay || !rep.Liquidity.Known ||
		rep.Liquidity.Source != "ChannelBalance" ||
		rep.Liquidity.OutboundSat <= 0 || rep.Tokens.Exists {
		t.Fatalf("status before a purchase: %s", out)
	}
	t.Logf("status: %s", out)

	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	srv := httptest.NewServer(testpaywall.New(bob, 25))
	defer srv.Close()
	if _, errOut, code := runL402(t, ctx, home, "fetch", "--max-cost", "100",
		srv.URL+"/paid"); code != 0 {
		t.Fatalf("fetch: %d\n%s", code, errOut)
	}

	out, errOut, code = runL402(t, ctx, home, "status", "--json")
	rep = status.Report{}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil ||
		rep.Budget.SpentSat < 25 || len(rep.Budget.Origins) != 1 ||
		rep.Tokens.Tokens != 1 || rep.Tokens.Payments != 1 ||
		(rep.Budget.LeftSat != nil &&
			*rep.Budget.LeftSat != rep.Budget.MaxTotalSat-rep.Budget.SpentSat) {
		t.Fatalf("status after a purchase: %d %s\n%s", code, out, errOut)
	}
	out, _, code = runL402(t, ctx, home, "tokens", "history", "--json")
	var h []tokens.Entry
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || len(h) != 1 ||
		h[0].AmountSat != 25 || h[0].Scheme != "l402" ||
		h[0].Kind != "purchase" || h[0].State != "paid" {
		t.Fatalf("history: %d %s", code, out)
	}

	// lnd's admin.macaroon may list the channels, and may do far more.
	admin := buyerHome(t)
	out, errOut, code = runL402(t, ctx, admin, "status", "--json")
	rep = status.Report{}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil ||
		rep.Macaroon.Kind != "admin" || len(rep.Warnings) == 0 ||
		rep.Liquidity.Source != "ListChannels" ||
		rep.Liquidity.ActiveChannels == 0 || rep.Liquidity.OutboundSat <= 0 {
		t.Fatalf("status with admin.macaroon: %d %s\n%s", code, out, errOut)
	}
}
