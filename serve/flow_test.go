package serve

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/l402/l402/internal/l402"
)

// endStage stands for the rest of the chain in a stage's test: it keeps a
// copy of the flow it got and answers 200 "next".
type endStage struct {
	calls int
	got   flow
}

// serve implements stage.
func (e *endStage) serve(w http.ResponseWriter, _ *http.Request, f *flow) {
	e.calls++
	e.got = *f
	w.Write([]byte("next"))
}

// fakeScheme is a Scheme whose answers the test sets.
type fakeScheme struct {
	name      string
	grant     Grant
	err       error
	challenge []string
	chErr     error

	targets  []l402.Target
	offers   []Offer
	stripped int
}

// Authenticate implements Scheme.
func (s *fakeScheme) Authenticate(_ context.Context, _ http.Header,
	t l402.Target) (Grant, error) {

	s.targets = append(s.targets, t)
	return s.grant, s.err
}

// Challenge implements Scheme.
func (s *fakeScheme) Challenge(_ context.Context, o Offer) ([]string,
	error) {

	s.offers = append(s.offers, o)
	return s.challenge, s.chErr
}

// StripCredential implements Scheme: it removes the X-<name> header.
func (s *fakeScheme) StripCredential(h http.Header) {
	s.stripped++
	h.Del("X-" + s.name)
}

// kind implements Scheme: fakes count as L402.
func (*fakeScheme) kind() schemeKind { return kindL402 }

// everyRoute gives each of cfg's services the same schemes.
func everyRoute(cfg *Config, schemes []Scheme) [][]Scheme {
	out := make([][]Scheme, len(cfg.Services))
	for i := range out {
		out[i] = schemes
	}
	return out
}

// stageConfig loads the skill's config with extra keys for its one
// service ("api", paths ^/api/, 100 sat) and extra top-level keys.
func stageConfig(t *testing.T, serviceExtra, topExtra string) *Config {
	t.Helper()
	cfg, err := LoadConfig(writeConfig(t, strings.Replace(
		apertureSkillConfig, "    price: 100\n", "    price: 100\n"+
			serviceExtra, 1)+topExtra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// flowFor is the flow of a request that matched cfg's first service,
// from 192.0.2.1.
func flowFor(cfg *Config) *flow {
	return &flow{ip: net.ParseIP("192.0.2.1"),
		route: &route{index: 0, cfg: &cfg.Services[0]}}
}

// serveStage runs one request through s and returns the recorder.
func serveStage(s stage, r *http.Request, f *flow) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.serve(rec, r, f)
	return rec
}

// orderStage records its name and hands on.
type orderStage struct {
	chained
	name string
	seen *[]string
}

// serve implements stage.
func (o *orderStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	*o.seen = append(*o.seen, o.name)
	o.next.serve(w, r, f)
}

func TestLinkRunsStagesInOrder(t *testing.T) {
	var seen []string
	end := &endStage{}
	first := link(end, &orderStage{name: "a", seen: &seen},
		&orderStage{name: "b", seen: &seen},
		&orderStage{name: "c", seen: &seen})
	rec := serveStage(first, httptest.NewRequest("GET", "/", nil), &flow{})
	if strings.Join(seen, " ") != "a b c" || end.calls != 1 ||
		rec.Body.String() != "next" {
		t.Fatalf("order %v, end called %d, body %q", seen, end.calls,
			rec.Body)
	}
}

func TestFlowKeys(t *testing.T) {
	f := &flow{ip: net.ParseIP("2001:db8::1")}
	if f.limitKey() != "ip:2001:db8::/64" || f.clientKey() !=
		"2001:db8::/64" {
		t.Fatalf("unpaid keys %q %q", f.limitKey(), f.clientKey())
	}
	f.access, f.grant = paid, Grant{Key: "token:ab"}
	if f.limitKey() != "token:ab" {
		t.Fatalf("paid limit key %q", f.limitKey())
	}
	if (&flow{}).clientKey() != "unknown" {
		t.Fatal("a request without an address has a key of its own")
	}
}
