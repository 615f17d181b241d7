package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/prices/pricesrpc"
	"google.golang.org/grpc"
)

// pay pays the L402 challenge of resp and returns the Authorization
// value of the token.
func (e *handlerEnv) pay(t *testing.T, resp *http.Response) (string,
	l402.Challenge) {

	t.Helper()
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatalf("%d: %v", resp.StatusCode, err)
	}
	p, err := e.buyer.Pay(context.Background(), lightning.PayRequest{
		PaymentRequest: chs[1].Invoice})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: chs[1].Macaroon,
		Preimage: p.Preimage}.Authorization()
	return auth, chs[1]
}

// caveatsOf returns a challenge's caveats as condition=value strings.
func caveatsOf(t *testing.T, ch l402.Challenge) []string {
	t.Helper()
	var out []string
	for _, c := range ch.Macaroon.Caveats() {
		out = append(out, string(c.Id))
	}
	return out
}

func TestHandlerForwardsOrStripsTheCredential(t *testing.T) {
	for _, strip := range []bool{false, true} {
		extra := ""
		if strip {
			extra = "    stripcredential: true\n"
		}
		e := newHandlerEnvWith(t, extra, "")
		resp, _ := e.get(t, "/api/data", nil)
		auth, _ := e.pay(t, resp)
		_, body := e.get(t, "/api/data", http.Header{"Authorization": {auth}})
		forwarded := strings.Contains(body, `auth="L402 `)
		if forwarded == strip {
			t.Fatalf("stripcredential %v: backend saw %q", strip, body)
		}
	}
}

func TestHandlerAuthLevels(t *testing.T) {
	e := newHandlerEnvWith(t, "    auth: off\n", "")
	if resp, body := e.get(t, "/api/data", nil); resp.StatusCode != 200 ||
		!strings.HasPrefix(body, "backend GET /api/data") {
		t.Fatalf("auth off: %d %q", resp.StatusCode, body)
	}

	e = newHandlerEnvWith(t, "    auth: freebie 2\n", "")
	for i := range 2 {
		if resp, _ := e.get(t, "/api/data", nil); resp.StatusCode != 200 {
			t.Fatalf("freebie %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := e.get(t, "/api/data", nil)
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("after the freebies: %d", resp.StatusCode)
	}
	auth, _ := e.pay(t, resp)
	if resp, _ := e.get(t, "/api/data", http.Header{
		"Authorization": {auth}}); resp.StatusCode != 200 {
		t.Fatalf("paid after freebies: %d", resp.StatusCode)
	}

	for _, bad := range []string{"freebie", "freebie 0", "sometimes"} {
		cfg := strings.Replace(apertureSkillConfig, "    price: 100\n",
			"    price: 100\n    auth: "+bad+"\n", 1)
		if _, err := LoadConfig(writeConfig(t, cfg)); err == nil ||
			!strings.Contains(err.Error(), "auth") {
			t.Fatalf("auth %q: %v", bad, err)
		}
	}
}

func TestHandlerRewriteHeadersConstraints(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte{0xca, 0xfe}, 0o600)
	e := newHandlerEnvWith(t, `    rewrite:
      prefix: /v2/
    constraints:
      tier: gold
      region: eu
`, "")

	resp, _ := e.get(t, "/api/data", nil)
	auth, ch := e.pay(t, resp)
	cavs := caveatsOf(t, ch)
	want := []string{"services=api:0", "region=eu", "tier=gold"}
	if strings.Join(cavs, " ") != strings.Join(want, " ") {
		t.Fatalf("caveats %q, want %q", cavs, want)
	}
	_, body := e.get(t, "/api/data?q=1", http.Header{"Authorization": {auth}})
	if !strings.HasPrefix(body, "backend GET /v2/api/data") {
		t.Fatalf("rewrite: %q", body)
	}

	v, err := headerValue("!file+hex:" + keyFile)
	if err != nil || v != "cafe" {
		t.Fatalf("hex file header %q %v", v, err)
	}
	if v, _ := headerValue("!file+base64:" + keyFile); v != "yv4=" {
		t.Fatalf("base64 file header %q", v)
	}
	if _, err := headerValue("!file+rot13:" + keyFile); err == nil {
		t.Fatal("unknown file encoding accepted")
	}
	if v, _ := headerValue("Bearer a:b"); v != "Bearer a:b" {
		t.Fatalf("plain header changed: %q", v)
	}

	for _, bad := range []string{"services", "api_valid_until", "a=b",
		"x_capabilities", "preimage"} {
		cfg := strings.Replace(apertureSkillConfig, "    price: 100\n",
			"    price: 100\n    constraints: {\""+bad+"\": \"1\"}\n", 1)
		if _, err := LoadConfig(writeConfig(t, cfg)); err == nil {
			t.Fatalf("constraint %q accepted", bad)
		}
	}
}

func TestHandlerCapabilityRules(t *testing.T) {
	e := newHandlerEnvWith(t, `    capabilities: read
    capabilityrules:
      - methods: [POST, DELETE]
        capabilities: [write]
      - pathregexp: "^/api/read"
        capabilities: [read]
`, "")
	resp, _ := e.get(t, "/api/read", nil)
	auth, _ := e.pay(t, resp)
	if resp, _ := e.get(t, "/api/read", http.Header{
		"Authorization": {auth}}); resp.StatusCode != 200 {
		t.Fatalf("read with read: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/read", nil)
	req.Header.Set("Authorization", auth)
	post, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusForbidden ||
		len(post.Header.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("POST without write: %d", post.StatusCode)
	}
}

// fakePricer prices by path: /free is 0, /fail fails, the rest 7 sat.
type fakePricer struct{ calls atomic.Int32 }

func (f *fakePricer) Price(_ context.Context, r *http.Request) (int64,
	error) {

	f.calls.Add(1)
	switch r.URL.Path {
	case "/api/free-by-price":
		return 0, nil
	case "/api/fail":
		return 0, errors.New("price server down")
	}
	return 7, nil
}

func (f *fakePricer) Close() error { return nil }

func TestHandlerDynamicPrice(t *testing.T) {
	pricer := &fakePricer{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "backend "+r.URL.Path)
	}))
	defer backend.Close()
	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)
	cfgYAML = strings.Replace(cfgYAML, "    price: 100\n", `    timeout: 60
    dynamicprice:
      enabled: true
      grpcaddress: 127.0.0.1:1
      insecure: true
`, 1)
	cfg, err := LoadConfig(writeConfig(t, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewHandler(cfg, newAuthEnv(t).auth,
		HandlerOptions{}); err == nil {
		t.Fatal("dynamicprice without a price client accepted")
	}
	ae := newAuthEnv(t)
	h, err := NewHandler(cfg, ae.auth, HandlerOptions{
		DialPricer: func(c DynamicPriceConfig) (Pricer, error) {
			if c.GRPCAddress != "127.0.0.1:1" || !c.Insecure {
				t.Errorf("pricer config %+v", c)
			}
			return pricer, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &handlerEnv{authEnv: ae, srv: srv}

	if resp, body := e.get(t, "/api/free-by-price", nil); resp.StatusCode !=
		200 || body != "backend /api/free-by-price" {
		t.Fatalf("zero price: %d %q", resp.StatusCode, body)
	}
	if resp, _ := e.get(t, "/api/fail", nil); resp.StatusCode != 503 {
		t.Fatalf("pricer failure: %d", resp.StatusCode)
	}
	resp, _ := e.get(t, "/api/quote", nil)
	auth, ch := e.pay(t, resp)
	inv, _ := lightning.DecodeInvoice(ch.Invoice, "regtest")
	cavs := strings.Join(caveatsOf(t, ch), " ")
	if inv.AmountMsat != 7000 || !strings.Contains(cavs,
		"api_resource=/api/quote") || !strings.Contains(cavs,
		"api_valid_until=") {
		t.Fatalf("dynamic challenge: %d msat, caveats %s", inv.AmountMsat,
			cavs)
	}
	calls := pricer.calls.Load()
	if resp, _ := e.get(t, "/api/quote", http.Header{
		"Authorization": {auth}}); resp.StatusCode != 200 {
		t.Fatalf("paid path: %d", resp.StatusCode)
	}
	if pricer.calls.Load() != calls {
		t.Fatal("a paid request was priced again")
	}
	// The token was priced for /api/quote; another path needs its own.
	if resp, _ := e.get(t, "/api/expensive", http.Header{
		"Authorization": {auth}}); resp.StatusCode != 402 {
		t.Fatalf("token used on another path: %d", resp.StatusCode)
	}
}

func TestHandlerAuthDisabled(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)
	cfgYAML = strings.Replace(cfgYAML, "  network:", "  disable: true\n"+
		"  network:", 1)
	cfg, err := LoadConfig(writeConfig(t, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(cfg, nil, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://x/api/a", nil))
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Fatalf("disabled: %d %q", rec.Code, rec.Body)
	}
}

func TestHandlerMetrics(t *testing.T) {
	m := NewMetrics()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)
	cfg, err := LoadConfig(writeConfig(t, cfgYAML+`    ratelimits:
      - requests: 2
        per: 1h
`))
	if err != nil {
		t.Fatal(err)
	}
	ae := newAuthEnv(t)
	h, err := NewHandler(cfg, ae.auth, HandlerOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &handlerEnv{authEnv: ae, srv: srv}

	resp, _ := e.get(t, "/api/a", nil)
	auth, _ := e.pay(t, resp)
	e.get(t, "/api/a", http.Header{"Authorization": {auth}})
	e.get(t, "/api/a", http.Header{"Authorization": {"L402 bad:00"}})
	e.get(t, "/api/a", nil) // the IP's third in the hour: refused

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`l402_challenges_total{service="api"} 2`,
		`l402_tokens_accepted_total{service="api"} 1`,
		`l402_tokens_rejected_total{reason="malformed",service="api"} 1`,
		`l402_rate_limited_total{limit="rule",service="api"} 1`,
		`l402_upstream_duration_seconds_count{code="2xx",service="api"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, "macaroon=") || strings.Contains(out, "lnbcrt") {
		t.Error("metrics leak credentials or invoices")
	}
}

func TestParseDebugLevel(t *testing.T) {
	for in, ok := range map[string]bool{"": true, "info": true,
		"debug": true, "trace": true, "critical": true, "off": true,
		"debug,PRXY=info": true, "AUTH=trace": true, "loud": false} {
		if _, err := parseDebugLevel(in); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// pathPrices is a real pricesrpc server: /api/free-by-price is free, the
// rest costs 9 sat.
type pathPrices struct {
	pricesrpc.UnimplementedPricesServer
}

func (pathPrices) GetPrice(_ context.Context,
	r *pricesrpc.GetPriceRequest) (*pricesrpc.GetPriceResponse, error) {

	if r.Path == "/api/free-by-price" {
		return &pricesrpc.GetPriceResponse{}, nil
	}
	return &pricesrpc.GetPriceResponse{PriceSats: 9}, nil
}

func TestHandlerPriceServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pricesrpc.RegisterPricesServer(gs, pathPrices{})
	go gs.Serve(ln)
	defer gs.Stop()

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "backend "+r.URL.Path)
	}))
	defer backend.Close()
	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)
	cfgYAML = strings.Replace(cfgYAML, "    price: 100\n", `    dynamicprice:
      enabled: true
      grpcaddress: `+ln.Addr().String()+`
      insecure: true
`, 1)
	cfg, err := LoadConfig(writeConfig(t, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	ae := newAuthEnv(t)
	h, err := NewHandler(cfg, ae.auth, HandlerOptions{DialPricer: dialPrices})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &handlerEnv{authEnv: ae, srv: srv}

	if resp, _ := e.get(t, "/api/free-by-price", nil); resp.StatusCode != 200 {
		t.Fatalf("zero price from the server: %d", resp.StatusCode)
	}
	resp, _ := e.get(t, "/api/quote", nil)
	auth, ch := e.pay(t, resp)
	if inv, _ := lightning.DecodeInvoice(ch.Invoice, "regtest"); inv.AmountMsat != 9000 {
		t.Fatalf("price %d msat", inv.AmountMsat)
	}
	if resp, body := e.get(t, "/api/quote", http.Header{
		"Authorization": {auth}}); resp.StatusCode != 200 ||
		body != "backend /api/quote" {
		t.Fatalf("paid: %d %q", resp.StatusCode, body)
	}
	gs.Stop()
	if resp, _ := e.get(t, "/api/other", nil); resp.StatusCode != 503 {
		t.Fatalf("price server down: %d", resp.StatusCode)
	}
}
