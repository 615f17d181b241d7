package fetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnddetect"
)

// watchedNode is a paying node that counts what a run does with it.
type watchedNode struct {
	lightning.Node
	infos, closes atomic.Int32
}

// Info implements lightning.Node, counted.
func (w *watchedNode) Info(ctx context.Context) (lightning.Info, error) {
	w.infos.Add(1)
	return w.Node.Info(ctx)
}

// Close implements lightning.Node, counted.
func (w *watchedNode) Close() error {
	w.closes.Add(1)
	return nil
}

// runEnv is an env whose runs read a fetch.yaml of their own and pay
// through the env's buyer, watched.
type runEnv struct {
	*env
	config string
	node   *watchedNode
}

// newRunEnv writes yaml as the fetch.yaml of a new env selling at price.
func newRunEnv(t *testing.T, price int64, yaml string) *runEnv {
	t.Helper()
	e := newEnv(t, price, "regtest")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fetch.yaml")
	yaml += "tokenstore: " + filepath.Join(dir, "tokens.db") + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &runEnv{env: e, config: cfg, node: &watchedNode{Node: e.buyer}}
}

// opts returns RunOptions for a GET of the paywall through the node.
func (r *runEnv) opts() RunOptions {
	return RunOptions{
		ConfigPath: r.config,
		URL:        r.srv.URL + "/api",
		Node: func(Config, io.Writer) (lightning.Node, error) {
			return r.node, nil
		},
	}
}

// sats returns a pointer to v, for a limit given.
func sats(v int64) *int64 { return &v }

func TestRunLimitsPrecedence(t *testing.T) {
	r := newRunEnv(t, 80, "maxcost: 50\n")
	ctx := context.Background()

	// The config's cap stands when none is given; a preview shows it.
	opts := r.opts()
	opts.NoPay = true
	res, err := Run(ctx, opts)
	if err != nil || res.StatusCode != 402 || res.InvoiceAmountSat != 80 ||
		res.MaxCostSats != 50 {
		t.Fatalf("config cap: %+v %v", res, err)
	}

	// Paying within it is refused, naming the cap; a cap given wins.
	opts.NoPay = false
	_, err = Run(ctx, opts)
	if refusedLimit(err) != LimitCost || cli.ExitCode(err) != 2 {
		t.Fatalf("over the config's cap: %v", err)
	}
	opts.MaxCostSat = sats(100)
	var out bytes.Buffer
	opts.Output = Output{Writer: &out}
	res, err = Run(ctx, opts)
	if err != nil || !res.L402Paid || out.String() != "paid content for GET" {
		t.Fatalf("cap given: %+v %q %v", res, out.String(), err)
	}
	if r.node.closes.Load() != 3 {
		t.Fatalf("node closed %d times over 3 runs", r.node.closes.Load())
	}

	// Without a config file the default cap is the one.
	opts = r.opts()
	opts.ConfigPath = ""
	opts.NoPay = true
	t.Setenv("L402_HOME", t.TempDir())
	if res, err = Run(ctx, opts); err != nil ||
		res.MaxCostSats != DefaultMaxCostSat {
		t.Fatalf("default cap: %+v %v", res, err)
	}
}

func TestRunBadLimits(t *testing.T) {
	r := newRunEnv(t, 10, "")
	neg := -time.Second
	zero := time.Duration(0)
	tests := []struct {
		set   func(*RunOptions)
		limit Limit
		flag  string
	}{
		{func(o *RunOptions) { o.MaxCostSat = sats(-1) }, LimitCost,
			"--max-cost must be sats"},
		{func(o *RunOptions) { o.MaxFeeSat = sats(MaxSats + 1) }, LimitFee,
			"--max-fee must be sats"},
		{func(o *RunOptions) { o.MaxTotalSat = sats(-5) }, LimitTotal,
			"--max-total must be sats"},
		{func(o *RunOptions) { o.MaxPerOriginSat = sats(-5) }, LimitOrigin,
			"the per-origin cap must be sats"},
		{func(o *RunOptions) { o.PaymentTimeout = &neg }, LimitPaymentTimeout,
			"--payment-timeout cannot be negative"},
		{func(o *RunOptions) { o.Timeout = &zero }, LimitTimeout,
			"--timeout must be positive"},
		{func(o *RunOptions) { o.MaxInvoiceExpiry = &zero },
			LimitInvoiceExpiry, "--max-invoice-expiry must be positive"},
	}
	names := map[Limit]string{LimitCost: "--max-cost", LimitFee: "--max-fee",
		LimitTotal: "--max-total", LimitPaymentTimeout: "--payment-timeout",
		LimitTimeout: "--timeout", LimitInvoiceExpiry: "--max-invoice-expiry"}
	for _, tc := range tests {
		opts := r.opts()
		tc.set(&opts)
		_, err := Run(context.Background(), opts)
		var bad *BadLimit
		if !errors.Is(err, ErrBadOptions) || cli.ExitCode(err) != 2 ||
			!errors.As(err, &bad) || bad.Limit != tc.limit ||
			!strings.Contains(err.Error(), tc.limit.String()) {
			t.Errorf("%v: %v", tc.limit, err)
			continue
		}
		named := NameLimits(err, names)
		if !strings.HasPrefix(named.Error(), tc.flag) ||
			cli.Code(named) != "bad_arguments" {
			t.Errorf("%v named: %v", tc.limit, named)
		}
	}
	if r.wall.Challenges() != 0 {
		t.Fatal("a run with a bad limit sent its request")
	}
}

func TestRunCapture(t *testing.T) {
	body := strings.Repeat("x", 100)
	bin := []byte{0xff, 0x00, 0xfe}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if r.URL.Path == "/bin" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(bin)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	r := newRunEnv(t, 10, "")
	ctx := context.Background()

	// A cap keeps the first bytes and reports the whole size.
	opts := r.opts()
	opts.URL = srv.URL + "/text"
	opts.Output = Output{Capture: true, CaptureMax: 30}
	res, err := Run(ctx, opts)
	if err != nil || string(res.Body) != body[:30] || !res.BodyTruncated ||
		res.Size != 100 || res.ContentType != "text/plain" {
		t.Fatalf("capped: %+v %v", res, err)
	}
	opts.Output.CaptureMax = 0
	if res, err = Run(ctx, opts); err != nil || string(res.Body) != body ||
		res.BodyTruncated {
		t.Fatalf("uncapped: %+v %v", res, err)
	}
	if j := res.JSON(); j.Text == nil || *j.Text != body || j.Base64 != nil {
		t.Fatalf("JSON text: %+v", j)
	}

	// A binary body is base64 in the JSON, under body_base64.
	opts.URL = srv.URL + "/bin"
	res, err = Run(ctx, opts)
	b, _ := json.Marshal(res.JSON())
	var got map[string]any
	json.Unmarshal(b, &got)
	if err != nil || got["body_base64"] != base64.StdEncoding.EncodeToString(
		bin) || got["body"] != nil || got["size"] != 3.0 {
		t.Fatalf("binary: %s %v", b, err)
	}

	// A preview has no body to show; a body not captured is not shown.
	opts = r.opts()
	opts.NoPay = true
	opts.Output = Output{Capture: true}
	res, _ = Run(ctx, opts)
	if j := res.JSON(); res.StatusCode != 402 || j.Text != nil ||
		j.Base64 != nil {
		t.Fatalf("preview JSON: %+v", j)
	}
	if j := (Result{StatusCode: 200}).JSON(); j.Text != nil {
		t.Fatalf("body of a result without capture: %+v", j)
	}
}

func TestRunOutputFile(t *testing.T) {
	r := newRunEnv(t, 10, "")
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "out")
	os.WriteFile(file, []byte("old"), 0o600)

	// A preview's 402 and a refusal leave the file as it was.
	opts := r.opts()
	opts.Output = Output{File: file}
	opts.NoPay = true
	if res, err := Run(ctx, opts); err != nil || res.OutputPath != "" {
		t.Fatalf("preview: %+v %v", res, err)
	}
	opts.NoPay = false
	opts.MaxCostSat = sats(5)
	if _, err := Run(ctx, opts); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("refusal: %v", err)
	}
	if got, _ := os.ReadFile(file); string(got) != "old" {
		t.Fatalf("the file changed: %q", got)
	}

	// Paid: the file is replaced whole, keeping its mode.
	opts.MaxCostSat = nil
	res, err := Run(ctx, opts)
	got, _ := os.ReadFile(file)
	fi, _ := os.Stat(file)
	if err != nil || res.OutputPath != file ||
		string(got) != "paid content for GET" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("paid: %+v %q %v %v", res, got, fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}

	// Output names one place (a capture beside a file is one), and
	// Continue needs its file and is not captured.
	for _, out := range []Output{{Continue: true},
		{Writer: io.Discard, Capture: true},
		{File: file, Continue: true, Capture: true}} {
		opts.Output = out
		if _, err := Run(ctx, opts); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%+v: %v", out, err)
		}
	}
}

// TestRunOutputToAFifoWritesThrough: an output that exists and is not a
// regular file (a named pipe here; /dev/null, a terminal) is written
// directly and stays what it was: renaming a temporary file over it, as
// a regular file is replaced, would have replaced /dev/null itself for a
// root user.
func TestRunOutputToAFifoWritesThrough(t *testing.T) {
	r := newRunEnv(t, 10, "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Opened read-write, a pipe waits for no writer (Linux).
	p, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opts := r.opts()
	opts.Output = Output{File: fifo}
	res, err := Run(context.Background(), opts)
	if err != nil || res.OutputPath != fifo {
		t.Fatalf("%+v %v", res, err)
	}
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
	// The body is in the pipe's buffer; the deadline only keeps a broken
	// run from hanging the test.
	p.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 4096)
	n, err := p.Read(buf)
	if err != nil || string(buf[:n]) != "paid content for GET" {
		t.Fatalf("the pipe read %q %v", buf[:n], err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestRunContinue(t *testing.T) {
	content := strings.Repeat("0123456789", 50)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		http.ServeContent(w, r, "data", time.Unix(1_700_000_000, 0),
			strings.NewReader(content))
	}))
	defer srv.Close()
	r := newRunEnv(t, 10, "")
	file := filepath.Join(t.TempDir(), "data")
	os.WriteFile(file, []byte(content[:120]), 0o644)

	opts := r.opts()
	opts.URL = srv.URL
	opts.Output = Output{File: file, Continue: true}
	var bar bytes.Buffer
	opts.Progress = &bar
	res, err := Run(context.Background(), opts)
	got, _ := os.ReadFile(file)
	if err != nil || string(got) != content || res.StatusCode != 206 ||
		res.Size != 380 || res.OutputPath != file {
		t.Fatalf("continue: %+v %d bytes %v", res, len(got), err)
	}
	if !strings.Contains(bar.String(), "380 B / 380 B 100%") {
		t.Fatalf("progress bar %q", bar.String())
	}
}

// TestRunPreviewDialsNoLNC: a preview leaves an LNC node unconnected, and
// goes on without a node that cannot be set up.
func TestRunPreviewDialsNoLNC(t *testing.T) {
	r := newRunEnv(t, 10, "lnc: {}\n")
	opts := r.opts()
	opts.NoPay = true
	res, err := Run(context.Background(), opts)
	if err != nil || res.StatusCode != 402 || res.InvoiceAmountSat != 10 {
		t.Fatalf("preview: %+v %v", res, err)
	}
	if r.node.infos.Load() != 0 || r.node.closes.Load() != 1 {
		t.Fatalf("LNC node used %d times, closed %d", r.node.infos.Load(),
			r.node.closes.Load())
	}

	broken := errors.New("no phrase")
	opts.Node = func(Config, io.Writer) (lightning.Node, error) {
		return nil, broken
	}
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("preview with a broken node: %v", err)
	}
	opts.NoPay = false
	if _, err := Run(context.Background(), opts); !errors.Is(err, broken) {
		t.Fatalf("paying with a broken node: %v", err)
	}
}

func TestRunRequest(t *testing.T) {
	r := newRunEnv(t, 10, "")
	h, err := ParseHeaders([]string{"Content-Type: application/json",
		"X-A:  b "})
	if err != nil || h.Get("X-A") != "b" {
		t.Fatalf("headers %v %v", h, err)
	}
	if _, err := ParseHeaders([]string{"no colon"}); !errors.Is(err,
		ErrBadOptions) {
		t.Fatalf("bad header: %v", err)
	}
	body, err := ParseData("@-", strings.NewReader(`{"q":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseData("@/no/such/file", nil); !errors.Is(err,
		ErrBadOptions) {
		t.Fatalf("missing body file: %v", err)
	}

	// A body makes the method POST, and is replayed after paying.
	opts := r.opts()
	opts.Header, opts.Body = h, body
	var out bytes.Buffer
	opts.Output = Output{Writer: &out}
	res, err := Run(context.Background(), opts)
	if err != nil || !res.L402Paid || out.String() !=
		"paid content for POST" || r.wall.LastBody() != `{"q":2}` {
		t.Fatalf("%+v %q %q %v", res, out.String(), r.wall.LastBody(), err)
	}
}

// TestRunNodeConditions checks that a paying node that cannot be set up
// is reported with its cause: an lnd section whose tls.cert is not there
// is lnd's file_missing, naming the file, and a preview still works.
func TestRunNodeConditions(t *testing.T) {
	dir := t.TempDir()
	r := newRunEnv(t, 10, "lnd:\n  host: 127.0.0.1:1\n  tlscertpath: "+
		dir+"/no-such-tls.cert\n  macaroonpath: "+dir+"/pay.macaroon\n")
	opts := r.opts()
	opts.Node = nil
	_, err := Run(context.Background(), opts)
	var p *lnddetect.Problem
	if !errors.As(err, &p) || fault.Code(err) != "file_missing" ||
		!strings.Contains(err.Error(), "no-such-tls.cert") {
		t.Fatalf("missing tls.cert: %v (code %q)", err, fault.Code(err))
	}
	opts.NoPay = true
	if res, err := Run(context.Background(), opts); err != nil ||
		res.StatusCode != 402 {
		t.Fatalf("preview without a usable node: %+v %v", res, err)
	}
}

// TestRunCaptureTruncatedJSON: a capture cut by CaptureMax says so in the
// JSON as body_truncated, with the whole body's size, and a text body cut
// inside a character stays text.
func TestRunCaptureTruncatedJSON(t *testing.T) {
	body := strings.Repeat("é", 50) // 100 bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	r := newRunEnv(t, 10, "")
	opts := r.opts()
	opts.URL = srv.URL
	opts.Output = Output{Capture: true, CaptureMax: 31}
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.JSON())
	var got map[string]any
	json.Unmarshal(b, &got)
	if got["body_truncated"] != true || got["size"] != 100.0 ||
		got["body"] != strings.Repeat("é", 15) || got["body_base64"] != nil {
		t.Fatalf("truncated: %s", b)
	}

	// A body that fits has no body_truncated at all.
	opts.Output.CaptureMax = 100
	res, err = Run(context.Background(), opts)
	b, _ = json.Marshal(res.JSON())
	got = nil
	json.Unmarshal(b, &got)
	if _, ok := got["body_truncated"]; err != nil || ok ||
		got["body"] != body {
		t.Fatalf("whole: %s %v", b, err)
	}
}

// TestRunInvoiceExpiryCap: fetch.yaml's maxinvoiceexpiry caps how long an
// invoice may stay payable, and the option given wins over it.
func TestRunInvoiceExpiryCap(t *testing.T) {
	r := newRunEnv(t, 10, "maxinvoiceexpiry: 30m\n")
	_, err := Run(context.Background(), r.opts())
	if refusedLimit(err) != LimitInvoiceExpiry || cli.ExitCode(err) != 2 ||
		!strings.Contains(err.Error(), "max invoice expiry 30m") {
		t.Fatalf("an hour's invoice under the config's 30m: %v", err)
	}
	opts := r.opts()
	twoHours := 2 * time.Hour
	opts.MaxInvoiceExpiry = &twoHours
	if res, err := Run(context.Background(), opts); err != nil ||
		!res.L402Paid {
		t.Fatalf("under the cap given: %+v %v", res, err)
	}
}

// TestRunDefaultDailyCap: without maxtotal in fetch.yaml or the option, a
// seller that answers 402 to every token is paid at most
// DefaultMaxTotalSat in 24 hours; an explicit 0 is no cap. The JSON
// result shows the caps in force and what is left of them.
func TestRunDefaultDailyCap(t *testing.T) {
	const price = 1000
	r := newRunEnv(t, price, "maxperorigin: 3500\n")
	ctx := context.Background()
	opts := r.opts()
	opts.Output = Output{Capture: true}

	paid := 0
	var err error
	for paid < 10 {
		r.wall.Forget() // every token sold is refused
		var res Result
		if res, err = Run(ctx, opts); err != nil {
			break
		}
		paid++
		lim := res.Limits
		if lim == nil || lim.MaxTotalSat != DefaultMaxTotalSat ||
			lim.MaxCostSat != DefaultMaxCostSat ||
			lim.MaxFeeSat != DefaultMaxFeeSat ||
			lim.MaxPerOriginSat != 3500 ||
			lim.MaxInvoiceExpirySeconds != 25*3600 ||
			lim.SpentSat != int64(paid*price) || lim.LeftSat == nil ||
			*lim.LeftSat != DefaultMaxTotalSat-int64(paid*price) ||
			lim.OriginSpentSat != int64(paid*price) ||
			lim.OriginLeftSat == nil ||
			*lim.OriginLeftSat != 3500-int64(paid*price) {
			t.Fatalf("run %d: limits %+v", paid, lim)
		}
	}
	if paid != 3 || refusedLimit(err) != LimitOrigin {
		t.Fatalf("paid %d times, then %v; want 3, then the per-origin cap",
			paid, err)
	}

	// The JSON carries them, a cap not set as null.
	opts.MaxPerOriginSat = sats(0)
	r.wall.Forget()
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.JSON())
	var got struct {
		Limits map[string]any `json:"limits"`
	}
	if json.Unmarshal(b, &got) != nil || got.Limits["max_total_sat"] !=
		float64(DefaultMaxTotalSat) || got.Limits["left_24h_sat"] != 1000.0 ||
		got.Limits["spent_24h_sat"] != 4000.0 ||
		got.Limits["origin_left_24h_sat"] != nil ||
		got.Limits["max_invoice_expiry_seconds"] != 90000.0 {
		t.Fatalf("JSON limits: %s", b)
	}

	// The default cap stands: the fifth purchase, counted at its price
	// and --max-fee until it settles, is refused.
	r.wall.Forget()
	_, err = Run(ctx, opts)
	if refusedLimit(err) != LimitTotal {
		t.Fatalf("over the default daily cap: %v", err)
	}

	// 0 given, or written in fetch.yaml, is no cap.
	opts.MaxTotalSat = sats(0)
	if res, err = Run(ctx, opts); err != nil || !res.L402Paid ||
		res.Limits.LeftSat != nil {
		t.Fatalf("--max-total 0: %+v %v", res, err)
	}
	r2 := newRunEnv(t, price, "maxtotal: 0\n")
	opts2 := r2.opts()
	for i := 0; i < 5; i++ {
		r2.wall.Forget()
		if _, err := Run(ctx, opts2); err != nil {
			t.Fatalf("maxtotal: 0, run %d: %v", i+1, err)
		}
	}
}

// TestRunPreviewCreatesNoStore: a --no-pay preview writes nothing: with
// no token store yet it creates none (it has no token to send and no
// pending payment to find). A run that may pay creates it.
func TestRunPreviewCreatesNoStore(t *testing.T) {
	r := newRunEnv(t, 10, "")
	cfg, err := LoadConfig(r.config, true)
	if err != nil {
		t.Fatal(err)
	}
	opts := r.opts()
	opts.NoPay = true
	res, err := Run(context.Background(), opts)
	if err != nil || res.StatusCode != 402 || res.InvoiceAmountSat != 10 ||
		res.Limits == nil || res.Limits.SpentSat != 0 {
		t.Fatalf("preview: %+v %v", res, err)
	}
	if _, err := os.Stat(cfg.TokenStore); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a preview created %s: %v", cfg.TokenStore, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg.TokenStore),
		"locks")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a preview created the locks: %v", err)
	}

	opts.NoPay = false
	if res, err = Run(context.Background(), opts); err != nil || !res.L402Paid {
		t.Fatalf("paying run: %+v %v", res, err)
	}
	if _, err := os.Stat(cfg.TokenStore); err != nil {
		t.Fatalf("the paying run's store: %v", err)
	}
	// Now that it exists, a preview reads it: the token is used.
	opts.NoPay = true
	if res, err = Run(context.Background(), opts); err != nil ||
		res.StatusCode != 200 {
		t.Fatalf("preview with a token: %+v %v", res, err)
	}
}

// TestRunFileAndCapture: a capture beside a file (lnget's --print-body
// with -o) gets the body the file gets, and a preview's 402 leaves both
// empty.
func TestRunFileAndCapture(t *testing.T) {
	r := newRunEnv(t, 10, "")
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "out")
	opts := r.opts()
	opts.Output = Output{File: file, Capture: true}
	opts.NoPay = true
	res, err := Run(ctx, opts)
	if err != nil || res.JSON().Text != nil || res.OutputPath != "" {
		t.Fatalf("preview: %+v %v", res, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a preview wrote the file: %v", err)
	}

	opts.NoPay = false
	res, err = Run(ctx, opts)
	got, _ := os.ReadFile(file)
	j := res.JSON()
	if err != nil || string(got) != "paid content for GET" ||
		j.Text == nil || *j.Text != string(got) || res.OutputPath != file {
		t.Fatalf("paid: %+v %q %v", res, got, err)
	}
}

// TestRunSchemeAndDuration: a paid result names its scheme, L402, and
// lnget's duration beside duration_ms; one that paid nothing names none,
// and says it went with the cached token.
func TestRunSchemeAndDuration(t *testing.T) {
	r := newRunEnv(t, 10, "")
	ctx := context.Background()
	opts := r.opts()
	opts.Output = Output{Capture: true}
	res, err := Run(ctx, opts)
	if err != nil || res.PaymentScheme != "L402" || res.CachedToken {
		t.Fatalf("paid: %+v %v", res, err)
	}
	b, _ := json.Marshal(res.JSON())
	var m map[string]any
	json.Unmarshal(b, &m)
	d, err := time.ParseDuration(fmt.Sprint(m["duration"]))
	if err != nil || m["payment_scheme"] != "L402" ||
		d.Milliseconds() != res.DurationMs {
		t.Fatalf("json %s", b)
	}

	res, err = Run(ctx, opts)
	b, _ = json.Marshal(res.JSON())
	if err != nil || res.PaymentScheme != "" || !res.CachedToken ||
		strings.Contains(string(b), "payment_scheme") {
		t.Fatalf("cached: %+v %s %v", res, b, err)
	}
}

// TestSpendingLimits: the caps resolve as Run's (an option over
// fetch.yaml over the default), and the spending is the last 24 hours',
// all origins and the origin asked about; without a store nothing was
// spent; a bad cap is a BadLimit.
func TestSpendingLimits(t *testing.T) {
	e := newEnv(t, 100, "regtest")
	ctx := context.Background()
	if _, err := e.client.Fetch(ctx, e.opts(), io.Discard); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fetch.yaml")
	if err := os.WriteFile(path, []byte("maxtotal: 1000\n"+
		"maxperorigin: 300\nmaxcost: 50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path, true)
	if err != nil {
		t.Fatal(err)
	}
	cost := int64(70)
	l, err := SpendingLimits(ctx, RunOptions{MaxCostSat: &cost}, cfg,
		e.store, e.origin(), time.Now())
	if err != nil || l.MaxCostSat != 70 || l.MaxTotalSat != 1000 ||
		l.MaxPerOriginSat != 300 || l.MaxFeeSat != DefaultMaxFeeSat ||
		l.SpentSat != 100 || *l.LeftSat != 900 || l.OriginSpentSat != 100 ||
		*l.OriginLeftSat != 200 ||
		l.MaxInvoiceExpirySeconds != int64(DefaultMaxInvoiceExpiry/time.Second) {
		t.Fatalf("limits %+v %v", l, err)
	}
	l, err = SpendingLimits(ctx, RunOptions{}, cfg, e.store, "",
		time.Now().Add(25*time.Hour))
	if err != nil || l.SpentSat != 0 || *l.LeftSat != 1000 ||
		l.OriginSpentSat != 0 {
		t.Fatalf("a day later %+v %v", l, err)
	}
	if l, err := SpendingLimits(ctx, RunOptions{}, cfg, nil, "",
		time.Now()); err != nil || l.SpentSat != 0 {
		t.Fatalf("no store %+v %v", l, err)
	}
	bad := int64(-1)
	var bl *BadLimit
	if _, err := SpendingLimits(ctx, RunOptions{MaxTotalSat: &bad}, cfg,
		nil, "", time.Now()); !errors.As(err, &bl) {
		t.Fatalf("a bad cap: %v", err)
	}
}
