package serve

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/l402/l402/internal/l402"
)

// authStageEnv is an authenticate stage of cfg over the schemes, with an
// end stage after it.
type authStageEnv struct {
	cfg     *Config
	stage   stage
	end     *endStage
	metrics *Metrics
}

// newAuthStageEnv builds it; it fails the test if cfg is refused.
func newAuthStageEnv(t *testing.T, cfg *Config, disabled bool,
	schemes ...Scheme) *authStageEnv {

	t.Helper()
	e := &authStageEnv{cfg: cfg, end: &endStage{}, metrics: NewMetrics()}
	s, err := newAuthStage(cfg, everyRoute(cfg, schemes), disabled,
		slog.New(slog.NewTextHandler(io.Discard, nil)), e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	e.stage = link(e.end, s)
	return e
}

// get sends GET path through the stage; next reports whether the end
// stage was reached.
func (e *authStageEnv) get(path string) (rec *httptest.ResponseRecorder,
	got flow, next bool) {

	calls := e.end.calls
	rec = serveStage(e.stage, httptest.NewRequest("GET", "http://x"+path,
		nil), flowFor(e.cfg))
	return rec, e.end.got, e.end.calls != calls
}

// TestAuthStageFreePaths: authentication disabled, off for the service,
// or a whitelisted path let the request through as free, with the
// reason, without asking a scheme.
func TestAuthStageFreePaths(t *testing.T) {
	scheme := &fakeScheme{name: "a", err: ErrNoCredential}
	for _, tc := range []struct {
		name, extra, path, reason string
		disabled                  bool
	}{
		{"disabled", "", "/api/x", "auth_disabled", true},
		{"auth off", "    auth: off\n", "/api/x", "auth_off", false},
		{"whitelist", "    authwhitelistpaths: [\"^/api/free$\"]\n",
			"/api/free", "whitelist", false},
	} {
		e := newAuthStageEnv(t, stageConfig(t, tc.extra, ""), tc.disabled,
			scheme)
		_, got, next := e.get(tc.path)
		if !next || got.access != free || got.freeReason != tc.reason {
			t.Errorf("%s: next %v, access %d %q", tc.name, next, got.access,
				got.freeReason)
		}
	}
	if len(scheme.targets) != 0 {
		t.Fatalf("a scheme was asked about a free request: %v",
			scheme.targets)
	}
}

// TestAuthStageSchemes: the first scheme that finds its credential
// decides; its grant goes into the flow with the target the service
// needs (capabilities, and the resource when dynamically priced).
func TestAuthStageSchemes(t *testing.T) {
	none := &fakeScheme{name: "none", err: fmt.Errorf("wrapped: %w",
		ErrNoCredential)}
	ok := &fakeScheme{name: "ok", grant: Grant{Key: "token:1"}}
	never := &fakeScheme{name: "never", grant: Grant{Key: "token:2"}}
	cfg := stageConfig(t, `    capabilities: read,write
    capabilityrules:
      - methods: [GET]
        capabilities: [read]
`, "")
	e := newAuthStageEnv(t, cfg, false, none, ok, never)
	_, got, next := e.get("/api/x")
	if !next || got.access != paid || got.grant.Key != "token:1" ||
		got.scheme != Scheme(ok) || len(never.targets) != 0 {
		t.Fatalf("paid: next %v, %+v, never asked %d", next, got,
			len(never.targets))
	}
	if tg := ok.targets[0]; tg.Service != "api" ||
		strings.Join(tg.Capabilities, ",") != "read" || tg.Resource != "" {
		t.Fatalf("target %+v", tg)
	}

	dyn := stageConfig(t, "    dynamicprice:\n      enabled: true\n"+
		"      grpcaddress: 127.0.0.1:1\n", "")
	newAuthStageEnv(t, dyn, false, ok).get("/api/gen?size=2")
	if tg := ok.targets[len(ok.targets)-1]; tg.Resource != "/api/gen?size=2" {
		t.Fatalf("dynamic target %+v", tg)
	}
}

// TestAuthStageRefusals: a request without a credential, or with one
// refused, is unpaid (the refusal counted by reason); one refused for a
// capability gets 403 and goes no further.
func TestAuthStageRefusals(t *testing.T) {
	bad := &fakeScheme{name: "bad"}
	e := newAuthStageEnv(t, stageConfig(t, "", ""), false, bad)
	for _, tc := range []struct {
		err    error
		reason string
	}{
		{ErrNoCredential, ""},
		{fmt.Errorf("x: %w", l402.ErrTokenExpired), "expired"},
		{errors.New("garbage"), "malformed"},
	} {
		bad.err = tc.err
		_, got, next := e.get("/api/x")
		if !next || got.access != unpaid {
			t.Errorf("%v: next %v, access %d", tc.err, next, got.access)
		}
		if tc.reason != "" && !strings.Contains(metricsText(e.metrics),
			`l402_tokens_rejected_total{reason="`+tc.reason+
				`",service="api"} 1`) {
			t.Errorf("%v: not counted as %s", tc.err, tc.reason)
		}
	}

	bad.err = fmt.Errorf("x: %w", l402.ErrCapabilityNotAllowed)
	rec, _, next := e.get("/api/x")
	if next || rec.Code != 403 {
		t.Fatalf("capability: %d, next %v", rec.Code, next)
	}
}

// TestAuthStageFreebies: an unpaid client gets its freebies, then is
// unpaid; a paid request does not use one.
func TestAuthStageFreebies(t *testing.T) {
	scheme := &fakeScheme{name: "a", err: ErrNoCredential}
	e := newAuthStageEnv(t, stageConfig(t, "    auth: freebie 2\n", ""),
		false, scheme)
	scheme.err, scheme.grant = nil, Grant{Key: "token:1"}
	if _, got, _ := e.get("/api/x"); got.access != paid {
		t.Fatalf("paid request: access %d", got.access)
	}
	scheme.err = ErrNoCredential
	for i, want := range []access{freebie, freebie, unpaid} {
		_, got, next := e.get("/api/x")
		if !next || got.access != want {
			t.Fatalf("request %d: access %d, want %d", i, got.access, want)
		}
	}
}

// TestAuthStageRefusesRulesWithoutCapabilities: capabilityrules on a
// service whose tokens carry no capabilities caveat would bind nothing.
func TestAuthStageRefusesRulesWithoutCapabilities(t *testing.T) {
	cfg := stageConfig(t, "    capabilityrules:\n      - methods: [POST]\n"+
		"        capabilities: [write]\n", "")
	_, err := newAuthStage(cfg, nil, false, nil, NewMetrics())
	if err == nil || !strings.Contains(err.Error(), `service "api"`) ||
		!strings.Contains(err.Error(), "capabilities") {
		t.Fatalf("rules without capabilities: %v", err)
	}
}

// metricsText is the metrics in Prometheus' text format.
func metricsText(m *Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
