//go:build itest

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// adminSeller is bob's `l402 serve` with the admin API on, selling a
// backend at /weather.
type adminSeller struct {
	addr string // serve's host:port
	home string // serve's L402_HOME, holding serve.yaml and admin.macaroon
	cfg  string // serve.yaml
	bob  lightning.Node
}

// startAdminSeller starts it at a price, with extra serve.yaml lines.
func startAdminSeller(t *testing.T, price int64, extra string) *adminSeller {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "sunny on regtest")
	}))
	t.Cleanup(backend.Close)
	home := t.TempDir()
	cfg := stack.Bob.ServeYAML("weather", strings.TrimPrefix(backend.URL,
		"http://"), price)
	cfg = strings.Replace(cfg, fmt.Sprintf("macdir: %q",
		stack.Bob.MacaroonDir), fmt.Sprintf("macdir: %q",
		invoiceOnlyMacDir(t)), 1)
	cfg += fmt.Sprintf("admin:\n  enabled: true\n  macaroonpath: %q\n",
		filepath.Join(home, "admin.macaroon")) + extra
	addr, _ := serveIn(t, home, cfg)
	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bob.Close() })
	return &adminSeller{addr: addr, home: home,
		cfg: filepath.Join(home, "serve.yaml"), bob: bob}
}

// admin runs `l402 admin ARGS --json` against the seller and decodes
// its answer into out.
func (s *adminSeller) admin(t *testing.T, out any, args ...string) {
	t.Helper()
	args = append(append([]string{"admin"}, args...), "--json", "--host",
		s.addr, "--config", s.cfg)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "L402_HOME="+s.home)
	b, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("l402 %s: %v %s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("l402 %s: %v in %s", strings.Join(args, " "), err, b)
	}
}

// buy has alice buy the weather with `l402 fetch` from a fresh token
// store, and returns the sats paid.
func (s *adminSeller) buy(t *testing.T) int64 {
	t.Helper()
	cmd := exec.Command(binary, "fetch", "--json", "--max-cost", "100",
		"http://"+s.addr+"/weather")
	cmd.Env = append(os.Environ(), "L402_HOME="+buyerHome(t))
	out, err := cmd.Output()
	var res map[string]any
	json.Unmarshal(out, &res)
	if err != nil || res["l402_paid"] != true ||
		res["body"] != "sunny on regtest" {
		t.Fatalf("alice's purchase: %v %s", err, out)
	}
	return int64(res["l402_amount_sat"].(float64))
}

// price402 returns the price of the challenge an unpaid request gets.
func (s *adminSeller) price402(t *testing.T) int64 {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + "/weather")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("unpaid request: %d", resp.StatusCode)
	}
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := lightning.DecodeInvoice(chs[0].Invoice, "regtest")
	if err != nil {
		t.Fatal(err)
	}
	return inv.AmountMsat / 1000
}

// adminTx is a transaction as `l402 admin transactions --json` prints it.
type adminTx struct {
	PaymentHash string `json:"payment_hash"`
	Price       string `json:"price_sats"`
	State       string `json:"state"`
	Service     string `json:"service_name"`
}

// settled waits until `l402 admin transactions --state settled` lists n
// transactions (settlement comes from bob's invoice subscription) and
// returns them.
func (s *adminSeller) settled(t *testing.T, n int) []adminTx {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var txs struct {
			Transactions []adminTx `json:"transactions"`
			Total        string    `json:"total_count"`
		}
		s.admin(t, &txs, "transactions", "--state", "settled")
		if len(txs.Transactions) == n {
			return txs.Transactions
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d settled transactions after a minute, want %d: %+v",
				len(txs.Transactions), n, txs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkAgainstBob checks each transaction against bob's invoice of its
// payment hash (settled, for the transaction's price) and returns the
// sum bob was paid.
func (s *adminSeller) checkAgainstBob(t *testing.T, txs []adminTx) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sum int64
	for _, tx := range txs {
		h, err := l402.ParseHash(tx.PaymentHash)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := s.bob.LookupInvoice(ctx, h)
		price, _ := strconv.ParseInt(tx.Price, 10, 64)
		if err != nil || inv.State != lightning.InvoiceSettled ||
			inv.AmountPaidMsat != price*1000 || tx.Service != "weather" {
			t.Fatalf("transaction %+v, bob's invoice %+v %v", tx, inv, err)
		}
		sum += inv.AmountPaidMsat / 1000
	}
	return sum
}

// TestItestAdminTransactionsAndPrice: alice buys twice from bob's `l402
// serve` at 30 sat; `l402 admin transactions --json` lists both as
// settled, each with the amount bob's own invoice was paid, and `l402
// admin stats` counts that revenue. `l402 admin services update --price
// 45` gives the next 402 at 45 sat, which alice pays, and the third
// transaction and the revenue follow.
func TestItestAdminTransactionsAndPrice(t *testing.T) {
	s := startAdminSeller(t, 30, "")
	for range 2 {
		if paid := s.buy(t); paid != 30 {
			t.Fatalf("paid %d sat, want 30", paid)
		}
	}
	txs := s.settled(t, 2)
	sum := s.checkAgainstBob(t, txs)
	var stats struct {
		Revenue string `json:"total_revenue_sats"`
		Count   string `json:"transaction_count"`
	}
	s.admin(t, &stats, "stats")
	if sum != 60 || stats.Revenue != "60" || stats.Count != "2" {
		t.Fatalf("bob was paid %d, stats %+v", sum, stats)
	}

	var svc struct {
		Name  string `json:"name"`
		Price string `json:"price"`
	}
	s.admin(t, &svc, "services", "update", "weather", "--price", "45")
	if svc.Price != "45" {
		t.Fatalf("update answered %+v", svc)
	}
	if p := s.price402(t); p != 45 {
		t.Fatalf("the 402 after the update asks %d sat, want 45", p)
	}
	if paid := s.buy(t); paid != 45 {
		t.Fatalf("paid %d sat after the update, want 45", paid)
	}
	sum = s.checkAgainstBob(t, s.settled(t, 3))
	s.admin(t, &stats, "stats")
	if sum != 105 || stats.Revenue != "105" || stats.Count != "3" {
		t.Fatalf("bob was paid %d, stats %+v", sum, stats)
	}
	t.Logf("bob's settled invoices: %d sat; l402 admin stats: %s sat in %s "+
		"transactions", sum, stats.Revenue, stats.Count)
}
