package serve

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// challengeStageEnv is a challenge stage of cfg over the schemes, with an
// end stage after it.
type challengeStageEnv struct {
	cfg     *Config
	stage   stage
	end     *endStage
	metrics *Metrics
}

// newChallengeStageEnv builds it with pricer for dynamic prices.
func newChallengeStageEnv(t *testing.T, cfg *Config, pricer Pricer,
	schemes ...Scheme) *challengeStageEnv {

	t.Helper()
	e := &challengeStageEnv{cfg: cfg, end: &endStage{}, metrics: NewMetrics()}
	s, err := newChallengeStage(cfg, everyRoute(cfg, schemes), HandlerOptions{
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: e.metrics,
		DialPricer: func(DynamicPriceConfig) (Pricer, error) {
			return pricer, nil
		}}, func() time.Time { return time.Unix(1000, 0) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	e.stage = link(e.end, s)
	return e
}

// send runs an unpaid request for path through the stage.
func (e *challengeStageEnv) send(path, contentType string, a access) (
	*httptest.ResponseRecorder, bool) {

	r := httptest.NewRequest("GET", "http://x"+path, nil)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	f := flowFor(e.cfg)
	f.access = a
	calls := e.end.calls
	rec := serveStage(e.stage, r, f)
	return rec, e.end.calls != calls
}

// TestChallengeStageChallenges: an unpaid request gets the challenges of
// every scheme in order for the service's offer, as 402 or as a
// trailers-only gRPC status 13; paid and free requests pass untouched.
func TestChallengeStageChallenges(t *testing.T) {
	first := &fakeScheme{name: "a", challenge: []string{"LSAT x", "L402 x"}}
	second := &fakeScheme{name: "b", challenge: []string{"Payment y"}}
	cfg := stageConfig(t, "    capabilities: read\n    timeout: 60\n", "")
	e := newChallengeStageEnv(t, cfg, nil, first, second)

	rec, next := e.send("/api/x", "", unpaid)
	if next || rec.Code != 402 || rec.Body.String() != "payment required" ||
		strings.Join(rec.Header().Values("WWW-Authenticate"), "|") !=
			"LSAT x|L402 x|Payment y" {
		t.Fatalf("challenge: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	o := first.offers[0]
	if o.Service != "api" || o.PriceSat != 100 || o.Timeout != time.Minute ||
		strings.Join(o.Capabilities, ",") != "read" || o.Resource != "" {
		t.Fatalf("offer %+v", o)
	}
	rec, _ = e.send("/api/x", "application/grpc", unpaid)
	if rec.Code != 200 || rec.Header().Get("Grpc-Status") != "13" ||
		len(rec.Header().Values("WWW-Authenticate")) != 3 ||
		rec.Body.Len() != 0 {
		t.Fatalf("gRPC challenge: %d %v", rec.Code, rec.Header())
	}
	for _, a := range []access{paid, free, freebie} {
		if rec, next := e.send("/api/x", "", a); !next || rec.Code != 200 {
			t.Fatalf("access %d: %d", a, rec.Code)
		}
	}
	if !strings.Contains(metricsText(e.metrics),
		`l402_challenges_total{service="api"} 2`) {
		t.Fatalf("metrics:\n%s", metricsText(e.metrics))
	}

	// One scheme failing fails the challenge: 503, no offer at all.
	second.chErr = errors.New("node down")
	rec, _ = e.send("/api/x", "", unpaid)
	if rec.Code != 503 || len(rec.Header().Values("WWW-Authenticate")) != 0 ||
		!strings.Contains(metricsText(e.metrics),
			`l402_challenge_errors_total{service="api"} 1`) {
		t.Fatalf("failed challenge: %d %v", rec.Code, rec.Header())
	}
}

// TestChallengeStageBeforeTheInvoice: skip-invoice paths get 401, and a
// client over the challenge limit 429, without asking a scheme.
func TestChallengeStageBeforeTheInvoice(t *testing.T) {
	scheme := &fakeScheme{name: "a", challenge: []string{"L402 x"}}
	cfg := stageConfig(t, "    authskipinvoicecreationpaths: "+
		"[\"^/api/status$\"]\n", "challengelimit:\n  requests: 1\n"+
		"  per: 1h\n")
	e := newChallengeStageEnv(t, cfg, nil, scheme)
	if rec, _ := e.send("/api/status", "", unpaid); rec.Code != 401 {
		t.Fatalf("skip-invoice path: %d", rec.Code)
	}
	if rec, _ := e.send("/api/x", "", unpaid); rec.Code != 402 {
		t.Fatalf("first challenge: %d", rec.Code)
	}
	rec, _ := e.send("/api/x", "", unpaid)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "3600" ||
		len(scheme.offers) != 1 {
		t.Fatalf("second challenge: %d %v, %d offers", rec.Code,
			rec.Header(), len(scheme.offers))
	}
}

// TestChallengeStageDynamicPrice: the price server's price and the
// request's resource go into the offer; a zero price passes the request
// as free; a failing price server gets 503.
func TestChallengeStageDynamicPrice(t *testing.T) {
	scheme := &fakeScheme{name: "a", challenge: []string{"L402 x"}}
	cfg := stageConfig(t, "    dynamicprice:\n      enabled: true\n"+
		"      grpcaddress: 127.0.0.1:1\n", "")
	e := newChallengeStageEnv(t, cfg, &fakePricer{}, scheme)
	if rec, _ := e.send("/api/quote?n=1", "", unpaid); rec.Code != 402 ||
		scheme.offers[0].PriceSat != 7 ||
		scheme.offers[0].Resource != "/api/quote?n=1" {
		t.Fatalf("priced: %d %+v", rec.Code, scheme.offers)
	}
	rec, next := e.send("/api/free-by-price", "", unpaid)
	if rec.Code != 200 || !next || e.end.got.access != free ||
		e.end.got.freeReason != "zero_price" {
		t.Fatalf("zero price: %d, next %v, %+v", rec.Code, next, e.end.got)
	}
	if rec, next := e.send("/api/fail", "", unpaid); rec.Code != 503 || next {
		t.Fatalf("price server down: %d", rec.Code)
	}
}

// TestChallengeStageFixedPriceZeroIsNotFree: only a price server's zero
// means free access. A fixed-price service whose Config says 0 (LoadConfig
// makes it Aperture's default, but NewHandler takes any Config) is still
// challenged, as before the chain, never passed to the backend unpaid.
func TestChallengeStageFixedPriceZeroIsNotFree(t *testing.T) {
	scheme := &fakeScheme{name: "a", challenge: []string{"L402 x"}}
	cfg := stageConfig(t, "", "")
	cfg.Services[0].Price = 0
	e := newChallengeStageEnv(t, cfg, nil, scheme)
	if rec, next := e.send("/api/x", "", unpaid); next || rec.Code != 402 ||
		len(scheme.offers) != 1 {
		t.Fatalf("fixed price 0: %d, next %v, %d offers", rec.Code, next,
			len(scheme.offers))
	}
}

// TestChallengeStageRefusesConfig: a constraint serve sets itself, or a
// dynamic price without a price client, fails at build.
func TestChallengeStageRefusesConfig(t *testing.T) {
	cfg := stageConfig(t, "    constraints: {\"api_resource\": \"/x\"}\n", "")
	if _, err := newChallengeStage(cfg, nil, HandlerOptions{},
		time.Now); err == nil || !strings.Contains(err.Error(),
		"api_resource") {
		t.Fatalf("resource constraint: %v", err)
	}
	cfg = stageConfig(t, "    dynamicprice:\n      enabled: true\n"+
		"      grpcaddress: 127.0.0.1:1\n", "")
	if _, err := newChallengeStage(cfg, nil, HandlerOptions{},
		time.Now); err == nil || !strings.Contains(err.Error(),
		"price server client") {
		t.Fatalf("no price client: %v", err)
	}
}

// TestChallengeStageLongResourceIs414: a dynamically priced request whose
// path and query do not fit a resource caveat gets 414 (gRPC: 3) before
// the price server is asked, not 503 after it; one that just fits is
// priced and challenged.
func TestChallengeStageLongResourceIs414(t *testing.T) {
	scheme := &fakeScheme{name: "a", challenge: []string{"L402 x"}}
	cfg := stageConfig(t, "    dynamicprice:\n      enabled: true\n"+
		"      grpcaddress: 127.0.0.1:1\n", "")
	pricer := &fakePricer{}
	e := newChallengeStageEnv(t, cfg, pricer, scheme)

	fits := "/api/q?x=" + strings.Repeat("a", l402.MaxResourceLen-len("/api/q?x="))
	if rec, _ := e.send(fits, "", unpaid); rec.Code != 402 ||
		pricer.calls.Load() != 1 || len(scheme.offers) != 1 {
		t.Fatalf("%d bytes: %d, %d price calls", len(fits), rec.Code,
			pricer.calls.Load())
	}
	for _, long := range []string{fits + "a",
		"/api/" + strings.Repeat("p", l402.MaxResourceLen)} {
		rec, next := e.send(long, "", unpaid)
		if rec.Code != http.StatusRequestURITooLong || next {
			t.Errorf("%d bytes: %d, next %v", len(long), rec.Code, next)
		}
		if rec, _ = e.send(long, "application/grpc", unpaid); rec.Code != 200 ||
			rec.Header().Get("Grpc-Status") != "3" {
			t.Errorf("%d bytes gRPC: %d %v", len(long), rec.Code, rec.Header())
		}
	}
	if n := pricer.calls.Load(); n != 1 || len(scheme.offers) != 1 {
		t.Fatalf("too long: %d price calls, %d offers", n, len(scheme.offers))
	}

	// A fixed price binds no resource: a long path is challenged.
	fixed := newChallengeStageEnv(t, stageConfig(t, "", ""), nil, scheme)
	if rec, _ := fixed.send(fits+"a", "", unpaid); rec.Code != 402 {
		t.Fatalf("fixed price, long path: %d", rec.Code)
	}
}

// TestChallengeIsNotCached: the 402 and the gRPC challenge carry
// Cache-Control: no-store, as Aperture's do, so that no cache hands one
// client's invoice and macaroon to another.
func TestChallengeIsNotCached(t *testing.T) {
	e := newHandlerEnv(t)
	resp, _ := e.get(t, "/api/x", nil)
	if resp.StatusCode != 402 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("402: %d, Cache-Control %q", resp.StatusCode,
			resp.Header.Get("Cache-Control"))
	}
	resp, _ = e.get(t, "/api/x", http.Header{"Content-Type": {
		"application/grpc"}})
	if resp.Header.Get("Grpc-Status") != "13" ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("gRPC: %d %v", resp.StatusCode, resp.Header)
	}
}
