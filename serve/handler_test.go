package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// handlerEnv is a backend behind a Handler, with a buyer.
type handlerEnv struct {
	*authEnv
	srv *httptest.Server
}

// newHandlerEnv builds a Handler for one service in front of a backend
// that reports what it received.
func newHandlerEnv(t *testing.T) *handlerEnv {
	t.Helper()
	return newHandlerEnvWith(t, "", "")
}

// newHandlerEnvWith is newHandlerEnv with extra service keys and extra
// top-level keys.
func newHandlerEnvWith(t *testing.T, serviceExtra, topExtra string) *handlerEnv {
	t.Helper()
	return newHandlerEnvEdited(t, serviceExtra, topExtra, nil)
}

// newHandlerEnvEdited is newHandlerEnvWith with edit, when not nil,
// applied to the finished config.
func newHandlerEnvEdited(t *testing.T, serviceExtra, topExtra string,
	edit func(string) string) *handlerEnv {

	t.Helper()
	return newHandlerEnvOptions(t, serviceExtra, topExtra, edit,
		HandlerOptions{})
}

// newHandlerEnvOptions is newHandlerEnvEdited with the handler's options
// (its metrics, say).
func newHandlerEnvOptions(t *testing.T, serviceExtra, topExtra string,
	edit func(string) string, opts HandlerOptions) *handlerEnv {

	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		fmt.Fprintf(w, "backend %s %s auth=%q key=%q", r.Method, r.URL.Path,
			r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	}))
	t.Cleanup(backend.Close)

	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)
	cfgYAML = strings.Replace(cfgYAML, "    price: 100\n", `    price: 100
    authwhitelistpaths: ["^/api/free$"]
    authskipinvoicecreationpaths: ["^/api/status$"]
    headers:
      X-Api-Key: backend-secret
`+serviceExtra, 1) + topExtra
	if edit != nil {
		cfgYAML = edit(cfgYAML)
	}
	cfg, err := LoadConfig(writeConfig(t, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t)
	h, err := NewHandler(cfg, e.auth, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &handlerEnv{authEnv: e, srv: srv}
}

// get sends a request with the given headers.
func (e *handlerEnv) get(t *testing.T, path string, h http.Header) (
	*http.Response, string) {

	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestHandlerSellsAndProxies(t *testing.T) {
	e := newHandlerEnvWith(t, "    stripcredential: true\n", "")

	resp, body := e.get(t, "/api/data", nil)
	chs := resp.Header.Values("WWW-Authenticate")
	if resp.StatusCode != http.StatusPaymentRequired || len(chs) != 2 ||
		!strings.HasPrefix(chs[0], "LSAT ") ||
		!strings.HasPrefix(chs[1], "L402 ") || body != "payment required" {
		t.Fatalf("challenge: %d %q %q", resp.StatusCode, chs, body)
	}

	// Pay it and come back with the token, and a Basic credential the
	// backend wants.
	parsed, err := l402.ParseChallenges(chs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.buyer.Pay(context.Background(), lightning.PayRequest{
		PaymentRequest: parsed[1].Invoice})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: parsed[1].Macaroon,
		Preimage: p.Preimage}.Authorization()
	resp, body = e.get(t, "/api/data", http.Header{"Authorization": {auth,
		"Basic dXNlcjpwdw=="}})
	if resp.StatusCode != 200 || body != `backend GET /api/data `+
		`auth="Basic dXNlcjpwdw==" key="backend-secret"` {
		t.Fatalf("paid request: %d %q", resp.StatusCode, body)
	}

	// The hex form, as gRPC clients send it.
	hexMac, _ := l402.Credential{Macaroon: parsed[1].Macaroon,
		Preimage: p.Preimage}.MacaroonHex()
	if resp, body = e.get(t, "/api/x", http.Header{
		"Grpc-Metadata-Macaroon": {hexMac}}); resp.StatusCode != 200 {
		t.Fatalf("hex credential: %d %q", resp.StatusCode, body)
	}
}

func TestHandlerPaths(t *testing.T) {
	e := newHandlerEnv(t)
	if resp, body := e.get(t, "/api/free", nil); resp.StatusCode != 200 ||
		!strings.HasPrefix(body, "backend GET /api/free") {
		t.Fatalf("whitelisted: %d %q", resp.StatusCode, body)
	}
	if resp, _ := e.get(t, "/api/status", nil); resp.StatusCode != 401 ||
		len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("skip-invoice path: %d", resp.StatusCode)
	}
	if resp, _ := e.get(t, "/elsewhere", nil); resp.StatusCode != 404 {
		t.Fatalf("no service: %d", resp.StatusCode)
	}

	// Bad credentials get a fresh challenge, never a 500.
	for _, bad := range []string{"L402 garbage", "L402 AgEE:00",
		"LSAT " + strings.Repeat("A", 20000) + ":00"} {
		resp, _ := e.get(t, "/api/data", http.Header{"Authorization": {bad}})
		if resp.StatusCode != http.StatusPaymentRequired {
			t.Fatalf("%.20q: %d", bad, resp.StatusCode)
		}
	}

	resp, _ := e.get(t, "/api/data", http.Header{
		"Content-Type": {"application/grpc+proto"}})
	if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "13" ||
		resp.Header.Get("Grpc-Message") != "payment required" ||
		len(resp.Header.Values("WWW-Authenticate")) != 2 {
		t.Fatalf("gRPC challenge: %d %v", resp.StatusCode, resp.Header)
	}
}
