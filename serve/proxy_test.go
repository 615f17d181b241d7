package serve

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// proxyStageEnv is a proxy stage in front of a backend that reports the
// credentials it received.
type proxyStageEnv struct {
	cfg     *Config
	stage   *proxyStage
	metrics *Metrics
}

// newProxyStageEnv builds it for the service with extra keys.
func newProxyStageEnv(t *testing.T, serviceExtra string,
	schemes ...Scheme) *proxyStageEnv {

	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		fmt.Fprintf(w, "%s auth=%q a=%q b=%q", r.URL.Path,
			r.Header.Values("Authorization"), r.Header.Get("X-a"),
			r.Header.Get("X-b"))
	}))
	t.Cleanup(backend.Close)
	cfg, err := LoadConfig(writeConfig(t, strings.Replace(strings.Replace(
		apertureSkillConfig, `"127.0.0.1:8080"`, `"`+strings.TrimPrefix(
			backend.URL, "http://")+`"`, 1), "    price: 100\n",
		"    price: 100\n"+serviceExtra, 1)))
	if err != nil {
		t.Fatal(err)
	}
	e := &proxyStageEnv{cfg: cfg, metrics: NewMetrics()}
	e.stage, err = newProxyStage(cfg, schemes,
		slog.New(slog.NewTextHandler(io.Discard, nil)), e.metrics, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// send proxies GET /api/x with the headers and the flow's access.
func (e *proxyStageEnv) send(f *flow, h http.Header) string {
	r := httptest.NewRequest("GET", "http://x/api/x", nil)
	for k, vs := range h {
		r.Header[k] = vs
	}
	return serveStage(e.stage, r, f).Body.String()
}

// TestProxyStageCredentials: a paid request's credential goes on as it
// came, or as the grant's one Authorization value in place of the
// scheme's copies; stripcredential removes every scheme's credential,
// on free requests too. The backend's own Authorization stays.
func TestProxyStageCredentials(t *testing.T) {
	a, b := &fakeScheme{name: "a"}, &fakeScheme{name: "b"}
	h := http.Header{"Authorization": {"Basic eA=="}, "X-A": {"1"},
		"X-B": {"2"}}
	e := newProxyStageEnv(t, "", a, b)

	f := flowFor(e.cfg)
	f.access, f.grant, f.scheme = paid, Grant{Key: "token:1"}, a
	if got := e.send(f, h.Clone()); got !=
		`/api/x auth=["Basic eA=="] a="1" b="2"` {
		t.Fatalf("as it came: %s", got)
	}
	f = flowFor(e.cfg)
	f.access, f.scheme = paid, a
	f.grant = Grant{Key: "token:1", Forward: "A verified"}
	if got := e.send(f, h.Clone()); got !=
		`/api/x auth=["Basic eA==" "A verified"] a="" b="2"` {
		t.Fatalf("forwarded: %s", got)
	}

	strip := newProxyStageEnv(t, "    stripcredential: true\n", a, b)
	f = flowFor(strip.cfg)
	f.access, f.scheme = paid, a
	f.grant = Grant{Key: "token:1", Forward: "A verified"}
	if got := strip.send(f, h.Clone()); got !=
		`/api/x auth=["Basic eA=="] a="" b=""` {
		t.Fatalf("stripped: %s", got)
	}
	f = flowFor(strip.cfg)
	f.pass(free, "whitelist")
	if got := strip.send(f, h.Clone()); got !=
		`/api/x auth=["Basic eA=="] a="" b=""` {
		t.Fatalf("stripped on a free path: %s", got)
	}
}

// TestProxyStageMetrics: accepted and free requests are counted, and the
// backend's time to headers observed; an unreachable backend gets 502
// (gRPC status 14) and is observed as an error.
func TestProxyStageMetrics(t *testing.T) {
	e := newProxyStageEnv(t, "")
	f := flowFor(e.cfg)
	f.access, f.grant = paid, Grant{Key: "token:1"}
	e.send(f, nil)
	f = flowFor(e.cfg)
	f.pass(freebie, "freebie")
	e.send(f, nil)
	out := metricsText(e.metrics)
	for _, want := range []string{
		`l402_tokens_accepted_total{service="api"} 1`,
		`l402_free_requests_total{reason="freebie",service="api"} 1`,
		`l402_upstream_duration_seconds_count{code="2xx",service="api"} 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	cfg := stageConfig(t, "", "")
	cfg.Services[0].Address = freeAddr(t)
	down, err := newProxyStage(cfg, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)), e.metrics, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		contentType string
		code        int
		grpc        string
	}{{"", 502, ""}, {"application/grpc", 200, "14"}} {
		r := httptest.NewRequest("GET", "http://x/api/x", nil)
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		f := flowFor(cfg)
		f.pass(free, "whitelist")
		rec := serveStage(down, r, f)
		if rec.Code != tc.code || rec.Header().Get("Grpc-Status") != tc.grpc {
			t.Errorf("unreachable %q: %d %v", tc.contentType, rec.Code,
				rec.Header())
		}
	}
	if !strings.Contains(metricsText(e.metrics),
		`l402_upstream_duration_seconds_count{code="error",service="api"} 2`) {
		t.Fatalf("unreachable backend not observed:\n%s",
			metricsText(e.metrics))
	}
}

// TestProxyStageRefusesABadCA: tlscertpath must hold a certificate.
func TestProxyStageRefusesABadCA(t *testing.T) {
	cfg := stageConfig(t, "", "")
	cfg.Services[0].TLSCertPath = writeConfig(t, "not a certificate")
	if _, err := newProxyStage(cfg, nil, nil, NewMetrics(), nil); err == nil ||
		!strings.Contains(err.Error(), `service "api": tlscertpath`) {
		t.Fatalf("bad CA file: %v", err)
	}
}
