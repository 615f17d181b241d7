package benchload

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
)

// TestParseWrk reads wrk's report, its non-2xx answers and socket errors
// counted as bad.
func TestParseWrk(t *testing.T) {
	out := `Running 6s test @ http://127.0.0.1:1/api/data
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.00ms  20.00ms   90.00%
  60123 requests in 6.00s, 70.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  10020.50
Transfer/sec:     11.67MB
`
	r, err := parseWrk(out)
	if err != nil || r.PerSec != 10020.50 || r.Bad != 7 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := parseWrk("unable to connect"); err == nil {
		t.Fatal("no rate, no error")
	}
}

// TestParseH2load reads h2load's report, its failures and non-2xx
// statuses counted as bad.
func TestParseH2load(t *testing.T) {
	out := `finished in 6.00s, 8123.45 req/s, 9.01MB/s
requests: 48740 total, 48772 started, 48740 done, 48738 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 48738 2xx, 0 3xx, 1 4xx, 0 5xx
`
	r, err := parseH2load(out)
	if err != nil || r.PerSec != 8123.45 || r.Bad != 3 {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestParseInitTrace sums the clock times of inittrace's lines.
func TestParseInitTrace(t *testing.T) {
	out := "init internal/bytealg @0 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"init runtime @0.52 ms, 0.50 ms clock, 0 bytes, 0 allocs\n" +
		"init pgregory.net/rapid @9 ms, 1.25 ms clock, 1182152 bytes, " +
		"311 allocs\nsomething else\n"
	sum, n := parseInitTrace(out)
	if sum != 1.75 || n != 3 {
		t.Fatalf("%v %d", sum, n)
	}
}

// TestMedianAndRatios: the figures are medians of per-round ratios.
func TestMedianAndRatios(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Fatal(m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Fatal(m)
	}
	r := ratios([]float64{9, 8}, []float64{10, 0})
	if len(r) != 1 || r[0] != 0.9 {
		t.Fatal(r)
	}
}

// TestFakeLnd: l402's lnd client gets an invoice from the fake lnd,
// and pays one through it, as serve and fetch will.
func TestFakeLnd(t *testing.T) {
	ctx := context.Background()
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	dir := t.TempDir()
	sf, err := StartFakeLnd(filepath.Join(dir, "s"), seller)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Stop()
	bf, err := StartFakeLnd(filepath.Join(dir, "b"), buyer)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Stop()
	dial := func(f *FakeLnd) *lightning.Lnd {
		l, err := lightning.NewLnd(lightning.LndConfig{Host: f.Host,
			TLSCertPath:  f.CertPath,
			MacaroonPath: filepath.Join(f.MacaroonDir, "admin.macaroon")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	s, b := dial(sf), dial(bf)
	info, err := s.Info(ctx)
	if err != nil || info.Network != "regtest" || info.Pubkey != seller.Pubkey() {
		t.Fatalf("info %+v %v", info, err)
	}
	inv, err := s.AddInvoice(ctx, lightning.InvoiceRequest{AmountSat: 5})
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Pay(ctx, lightning.PayRequest{
		PaymentRequest: inv.PaymentRequest, MaxFeeSat: 1})
	if err != nil || p.Status != lightning.PaymentSucceeded ||
		p.Preimage.Hash() != inv.PaymentHash {
		t.Fatalf("pay %+v %v", p, err)
	}
	got, err := s.LookupInvoice(ctx, inv.PaymentHash)
	if err != nil || got.State != lightning.InvoiceSettled {
		t.Fatalf("lookup %+v %v", got, err)
	}
	if tr, err := b.TrackPayment(ctx, inv.PaymentHash); err != nil ||
		tr.Status != lightning.PaymentSucceeded {
		t.Fatalf("track %+v %v", tr, err)
	}
}

// TestCopyBinary: the copy has the source's bytes and is executable.
func TestCopyBinary(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	want := bytes.Repeat([]byte("\x7fELF l402 "), 100_000)
	if err := os.WriteFile(src, want, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := copyBinary(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("copy: %d bytes of %d, %v", len(got), len(want), err)
	}
	if st, err := os.Stat(dst); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("copy not executable: %v", err)
	}
}

// TestParseWrkStatus reads the report of wrk with wrkStatus's script:
// the answers not wanted and the socket errors are bad, and wrk's own
// non-2xx count (every 402) is not.
func TestParseWrkStatus(t *testing.T) {
	out := `Running 6s test @ http://127.0.0.1:1/api/data
  2 threads and 32 connections
  2400 requests in 6.00s, 3.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 0
  Non-2xx or 3xx responses: 2400
Requests/sec:    400.00
Transfer/sec:    500.00KB
answers not wanted: 3
`
	r, err := parseWrkStatus(out)
	if err != nil || r.PerSec != 400 || r.Bad != 4 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := parseWrkStatus(strings.Replace(out, "answers not wanted: 3",
		"", 1)); err == nil {
		t.Fatal("no count from the script, no error")
	}
}

// TestWrkStatusScript runs the script through wrk against a server that
// answers 402, then 500: the first run is all wanted, the second all bad.
func TestWrkStatusScript(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (Debian's wrk package)")
	}
	var status atomic.Int32
	status.Store(http.StatusPaymentRequired)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		_ *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()

	gen := wrkStatus(t.TempDir(), http.StatusPaymentRequired)
	l := Load{Threads: 1, Conns: 2, Duration: time.Second}
	r, err := gen(context.Background(), l, srv.URL, "")
	if err != nil || r.Bad != 0 || r.PerSec <= 0 {
		t.Fatalf("402s: %+v %v", r, err)
	}
	status.Store(http.StatusInternalServerError)
	r, err = gen(context.Background(), l, srv.URL, "")
	if err != nil || r.Bad == 0 {
		t.Fatalf("500s counted as wanted: %+v %v", r, err)
	}
}
