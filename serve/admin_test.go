package serve

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/l402/l402/internal/adminrpc"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/pgtest"
	"github.com/l402/l402/internal/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"gopkg.in/macaroon.v2"
)

// adminEnv is a serve with the admin API on, a memory seller node, a
// backend, and a buyer on the same memory network.
type adminEnv struct {
	s      *server
	srv    *httptest.Server
	seller *lightning.MemoryNode
	buyer  *lightning.MemoryNode
	mac    string // the admin macaroon, hex
	dir    string
}

// adminWorld is what replicas of one database share: the database, the
// memory network and the backend.
type adminWorld struct {
	open    func() (*store.Store, error)
	net     *lightning.MemoryNetwork
	backend string
	dir     string
	n       int // replicas started

	// edit, when set, changes each replica's serve.yaml.
	edit func(string) string
}

// newAdminWorld makes a fresh SQLite world.
func newAdminWorld(t *testing.T) *adminWorld {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "serve.db")
	return newAdminWorldOn(t, func() (*store.Store, error) {
		return store.OpenSQLite(context.Background(), path)
	}, dir)
}

// newAdminWorldOn makes a world whose replicas open the database with
// open.
func newAdminWorldOn(t *testing.T, open func() (*store.Store, error),
	dir string) *adminWorld {

	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		fmt.Fprintf(w, "backend %s", r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	return &adminWorld{open: open, net: lightning.NewMemoryNetwork(),
		backend: strings.TrimPrefix(backend.URL, "http://"), dir: dir}
}

// replica starts one serve of the world, with extra admin keys.
func (w *adminWorld) replica(t *testing.T, adminExtra string) *adminEnv {
	t.Helper()
	w.n++
	n := w.n
	seller, _ := w.net.NewNode(fmt.Sprintf("seller%d", n), "regtest")
	buyer, _ := w.net.NewNode(fmt.Sprintf("buyer%d", n), "regtest")
	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+w.backend+`"`, 1) + `  - name: "files"
    hostregexp: ".*"
    pathregexp: "^/files/"
    address: "` + w.backend + `"
    price: 20
    capabilities: "read"
admin:
  enabled: true
  macaroonpath: "` + filepath.Join(w.dir, "admin.macaroon") + `"
` + adminExtra
	if w.edit != nil {
		cfgYAML = w.edit(cfgYAML)
	}
	cfg, err := LoadConfig(writeConfig(t, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	db, err := w.open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &server{opts: RunOptions{Dir: w.dir,
		SyncInterval: 20 * time.Millisecond}, cfg: cfg, db: db,
		node: seller, metrics: NewMetrics(),
		log: newLogger(io.Discard, &Config{DebugLevel: "error"})}
	s.auth = newTestAuthenticator(t, seller, db, 0, nil)
	if cfg.Authenticator.MPP.EnableMPP {
		if err := s.openPayment(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.current.Load().Close() })

	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	raw, err := os.ReadFile(filepath.Join(w.dir, "admin.macaroon"))
	if err != nil {
		t.Fatal(err)
	}
	return &adminEnv{s: s, srv: srv, seller: seller, buyer: buyer,
		mac: hex.EncodeToString(raw), dir: w.dir}
}

// newAdminEnv is one replica of a fresh SQLite world.
func newAdminEnv(t *testing.T, adminExtra string) *adminEnv {
	t.Helper()
	return newAdminWorld(t).replica(t, adminExtra)
}

// rest sends a REST request with the macaroon mac (none when empty) and
// returns the status and the body.
func (e *adminEnv) rest(t *testing.T, method, path, mac, body string) (
	int, string) {

	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path,
		strings.NewReader(body))
	if mac != "" {
		req.Header.Set("Grpc-Metadata-Macaroon", mac)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ok sends an authorised REST request that must succeed, and decodes its
// JSON into out.
func (e *adminEnv) ok(t *testing.T, method, path, body string, out any) {
	t.Helper()
	code, got := e.rest(t, method, path, e.mac, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, got)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(got), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, got)
		}
	}
}

// client returns a gRPC client over h2c, sending mac when set.
func (e *adminEnv) client(t *testing.T) adminrpc.AdminClient {
	t.Helper()
	conn, err := grpc.NewClient(strings.TrimPrefix(e.srv.URL, "http://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adminrpc.NewAdminClient(conn)
}

// withMac returns a context carrying a macaroon as gRPC metadata.
func withMac(mac string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(),
		"macaroon", mac)
}

// get requests path of the services with an optional Authorization.
func (e *adminEnv) get(t *testing.T, path, auth string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// priceOf402 returns the price of the challenge a request to path gets.
func (e *adminEnv) priceOf402(t *testing.T, path string) int64 {
	t.Helper()
	resp := e.get(t, path, "")
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("%s: %d, want 402", path, resp.StatusCode)
	}
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := e.buyer.DecodePayReq(context.Background(), chs[0].Invoice)
	if err != nil {
		t.Fatal(err)
	}
	return pr.AmountMsat / 1000
}

// buy pays the challenge of path and returns the Authorization value and
// the token id.
func (e *adminEnv) buy(t *testing.T, path string) (string, l402.TokenID) {
	t.Helper()
	resp := e.get(t, path, "")
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatalf("%d: %v", resp.StatusCode, err)
	}
	p, err := e.buyer.Pay(context.Background(), lightning.PayRequest{
		PaymentRequest: chs[0].Invoice})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: chs[0].Macaroon,
		Preimage: p.Preimage}.Authorization()
	id, err := l402.DecodeIdentifier(chs[0].Macaroon.Id())
	if err != nil {
		t.Fatal(err)
	}
	return auth, id.TokenID
}

// restPaths are Aperture's REST paths with a request each.
var restPaths = []struct{ method, path, body string }{
	{"GET", "/api/admin/info", ""},
	{"GET", "/api/admin/services", ""},
	{"POST", "/api/admin/services", `{"name":"x","address":"127.0.0.1:1"}`},
	{"PUT", "/api/admin/services/api", `{"price":5}`},
	{"DELETE", "/api/admin/services/api", ""},
	{"GET", "/api/admin/transactions", ""},
	{"GET", "/api/admin/tokens", ""},
	{"DELETE", "/api/admin/tokens/" + strings.Repeat("ab", 32), ""},
	{"GET", "/api/admin/stats", ""},
}

// TestAdminRESTRefusesWithoutTheMacaroon: every REST path but health is
// 401 with grpc-gateway's error body without a macaroon, with a wrong
// one, with one that is not hex, and with serve's own plus a caveat;
// nothing changed.
func TestAdminRESTRefusesWithoutTheMacaroon(t *testing.T) {
	e := newAdminEnv(t, "")
	other := newAdminEnv(t, "") // another database's key
	raw, _ := hex.DecodeString(e.mac)
	withCaveat := attenuate(t, raw)
	for _, p := range restPaths {
		for _, mac := range []string{"", other.mac, "zz", withCaveat} {
			code, body := e.rest(t, p.method, p.path, mac, p.body)
			if code != http.StatusUnauthorized ||
				!strings.Contains(body, `"code":16`) ||
				!strings.Contains(body, `"details":[]`) {
				t.Errorf("%s %s with %.8q: %d %s", p.method, p.path, mac,
					code, body)
			}
		}
	}
	code, body := e.rest(t, "GET", "/api/admin/health", "", "")
	if code != http.StatusOK || body != `{"status":"ok"}` {
		t.Errorf("health: %d %s", code, body)
	}
	if n := len(*e.s.sync.services.Load()); n != 2 {
		t.Errorf("%d services after refused calls", n)
	}
}

// attenuate adds a first-party caveat to a macaroon and returns its hex.
func attenuate(t *testing.T, raw []byte) string {
	t.Helper()
	var m macaroon.Macaroon
	if err := m.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if err := m.AddFirstPartyCaveat([]byte("time-before 2999")); err != nil {
		t.Fatal(err)
	}
	b, _ := m.MarshalBinary()
	return hex.EncodeToString(b)
}

// TestAdminGRPCRefusesWithoutTheMacaroon: every method but GetHealth is
// Unauthenticated without the macaroon or with a wrong one.
func TestAdminGRPCRefusesWithoutTheMacaroon(t *testing.T) {
	e := newAdminEnv(t, "")
	other := newAdminEnv(t, "")
	c := e.client(t)
	calls := map[string]func(context.Context) error{
		"GetInfo": func(ctx context.Context) error {
			_, err := c.GetInfo(ctx, &adminrpc.GetInfoRequest{})
			return err
		},
		"ListServices": func(ctx context.Context) error {
			_, err := c.ListServices(ctx, &adminrpc.ListServicesRequest{})
			return err
		},
		"CreateService": func(ctx context.Context) error {
			_, err := c.CreateService(ctx, &adminrpc.CreateServiceRequest{
				Name: "x", Address: "127.0.0.1:1"})
			return err
		},
		"UpdateService": func(ctx context.Context) error {
			_, err := c.UpdateService(ctx, &adminrpc.UpdateServiceRequest{
				Name: "api", Price: proto.Int64(5)})
			return err
		},
		"DeleteService": func(ctx context.Context) error {
			_, err := c.DeleteService(ctx,
				&adminrpc.DeleteServiceRequest{Name: "api"})
			return err
		},
		"ListTransactions": func(ctx context.Context) error {
			_, err := c.ListTransactions(ctx,
				&adminrpc.ListTransactionsRequest{})
			return err
		},
		"ListTokens": func(ctx context.Context) error {
			_, err := c.ListTokens(ctx, &adminrpc.ListTokensRequest{})
			return err
		},
		"RevokeToken": func(ctx context.Context) error {
			_, err := c.RevokeToken(ctx, &adminrpc.RevokeTokenRequest{
				TokenId: strings.Repeat("ab", 32)})
			return err
		},
		"GetStats": func(ctx context.Context) error {
			_, err := c.GetStats(ctx, &adminrpc.GetStatsRequest{})
			return err
		},
	}
	if len(calls) != len(adminrpc.Admin_ServiceDesc.Methods)-1 {
		t.Fatalf("%d calls for %d methods", len(calls),
			len(adminrpc.Admin_ServiceDesc.Methods))
	}
	for name, call := range calls {
		for _, ctx := range []context.Context{context.Background(),
			withMac(other.mac), withMac("zz")} {
			if err := call(ctx); status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := call(withMac(e.mac)); status.Code(err) ==
			codes.Unauthenticated {
			t.Errorf("%s with the macaroon: %v", name, err)
		}
	}
	h, err := c.GetHealth(context.Background(), &adminrpc.GetHealthRequest{})
	if err != nil || h.Status != "ok" {
		t.Errorf("GetHealth: %v %v", h, err)
	}
}

// TestAdminServicesREST: a service created through the API sells at once
// (before the file's, whose catch-all would hide it); a price change of a
// file's service applies to the next challenge and keeps its other keys
// (capabilities); deleting it makes its paths 404; the API says where
// each service comes from; refusals name the field.
func TestAdminServicesREST(t *testing.T) {
	e := newAdminEnv(t, "")
	var svc map[string]any
	e.ok(t, "POST", "/api/admin/services", `{"name":"new",
		"address":"`+e.s.cfg.Services[0].Address+`",
		"path_regexp":"^/api/new/","price":70,"auth":"on"}`, &svc)
	if svc["source"] != "api" || svc["price"] != "70" ||
		svc["host_regexp"] != ".*" || svc["protocol"] != "http" ||
		svc["auth_scheme"] != "AUTH_SCHEME_L402" {
		t.Errorf("created: %v", svc)
	}
	if got := e.priceOf402(t, "/api/new/x"); got != 70 {
		t.Errorf("the new service's price: %d", got)
	}

	e.ok(t, "PUT", "/api/admin/services/files", `{"price":0}`, &svc)
	if svc["source"] != "config+api" {
		t.Errorf("updated: %v", svc)
	}
	// Price 0 is Aperture's default price (1 sat), as in serve.yaml.
	if got := e.priceOf402(t, "/files/a"); got != 1 {
		t.Errorf("price after the update: %d", got)
	}
	e.ok(t, "PUT", "/api/admin/services/files", `{"price":35}`, nil)
	if got := e.priceOf402(t, "/files/a"); got != 35 {
		t.Errorf("price after the second update: %d", got)
	}
	for _, sc := range e.s.currentServices() {
		if sc.Name == "files" && sc.Capabilities != "read" {
			t.Errorf("the file's capabilities were lost: %+v", sc)
		}
	}

	var list struct {
		Services []map[string]any `json:"services"`
	}
	e.ok(t, "GET", "/api/admin/services", "", &list)
	var names []string
	for _, s := range list.Services {
		names = append(names, fmt.Sprint(s["name"], "/", s["source"]))
	}
	if strings.Join(names, " ") != "new/api api/config files/config+api" {
		t.Errorf("services: %v", names)
	}

	e.ok(t, "DELETE", "/api/admin/services/files", "", nil)
	if resp := e.get(t, "/files/a", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a deleted service answers %d", resp.StatusCode)
	}

	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/api/admin/services", `{"name":"new","address":"a:1"}`,
			409, "already exists"},
		{"POST", "/api/admin/services", `{"address":"a:1"}`, 400,
			"name is required"},
		{"POST", "/api/admin/services", `{"name":"b","address":"a:1",
			"path_regexp":"("}`, 400, "path_regexp"},
		{"POST", "/api/admin/services", `{"name":"b,c","address":"a:1"}`,
			400, "name may not contain"},
		{"POST", "/api/admin/services", `{"name":"b","address":"a:1",
			"auth_scheme":"AUTH_SCHEME_MPP"}`, 400, "not served"},
		{"POST", "/api/admin/services", `{"name":"b","nope":1}`, 400,
			"unknown field"},
		{"PUT", "/api/admin/services/files", `{"price":1}`, 404,
			"not found"},
		{"PUT", "/api/admin/services/api", `{"price":-1}`, 400, ">= 0"},
		{"PUT", "/api/admin/services/api", `{"auth":"sometimes"}`, 400,
			"auth"},
		{"DELETE", "/api/admin/services/nope", "", 404, "not found"},
		{"PATCH", "/api/admin/services/api", "", 405, "Method Not Allowed"},
		{"GET", "/api/admin/nothing", "", 404, "Not Found"},
	} {
		code, body := e.rest(t, c.method, c.path, e.mac, c.body)
		if code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", c.method, c.path,
				c.body, code, body, c.code, c.msg)
		}
	}
}

// currentServices returns the services in force.
func (s *server) currentServices() []ServiceConfig {
	var out []ServiceConfig
	for _, e := range *s.sync.services.Load() {
		out = append(out, e.cfg)
	}
	return out
}

// TestAdminTransactionsTokensStatsREST: a challenge is a pending
// transaction; the node's settlement (the catch-up of the subscription)
// settles it; tokens list it; stats count its revenue, the 402s and the
// paid requests; revoking it refuses the token at once; the filters and
// their refusals.
func TestAdminTransactionsTokensStatsREST(t *testing.T) {
	e := newAdminEnv(t, "")
	auth, id := e.buy(t, "/api/x")
	e.priceOf402(t, "/files/a") // a second challenge, never paid

	var txs struct {
		Transactions []map[string]any `json:"transactions"`
		Total        string           `json:"total_count"`
	}
	e.ok(t, "GET", "/api/admin/transactions?state=pending", "", &txs)
	if txs.Total != "2" {
		t.Fatalf("pending before the catch-up: %+v", txs)
	}
	e.s.catchUp(context.Background())
	e.ok(t, "GET", "/api/admin/transactions?state=settled&service=api", "",
		&txs)
	if txs.Total != "1" || txs.Transactions[0]["token_id"] != id.String() ||
		txs.Transactions[0]["price_sats"] != "100" ||
		txs.Transactions[0]["settled_at"] == "" ||
		txs.Transactions[0]["scheme"] != "l402" {
		t.Fatalf("settled: %+v", txs)
	}

	if resp := e.get(t, "/api/x", auth); resp.StatusCode != http.StatusOK {
		t.Fatalf("paid request: %d", resp.StatusCode)
	}
	if err := e.s.flushPaid(context.Background()); err != nil {
		t.Fatal(err)
	}
	var tokens struct {
		Tokens []map[string]any `json:"tokens"`
	}
	e.ok(t, "GET", "/api/admin/tokens?limit=10", "", &tokens)
	if len(tokens.Tokens) != 1 || tokens.Tokens[0]["token_id"] != id.String() {
		t.Fatalf("tokens: %+v", tokens)
	}
	var stats adminrpcStats
	e.ok(t, "GET", "/api/admin/stats", "", &stats)
	if stats.Revenue != "100" || stats.Count != "1" || stats.Challenges != "2" ||
		stats.Paid != "1" || len(stats.Breakdown) != 2 || len(stats.Daily) != 2 {
		t.Errorf("stats: %+v", stats)
	}

	e.ok(t, "DELETE", "/api/admin/tokens/"+id.String(), "", nil)
	if resp := e.get(t, "/api/x", auth); resp.StatusCode !=
		http.StatusPaymentRequired {
		t.Fatalf("a revoked token answers %d", resp.StatusCode)
	}
	e.ok(t, "GET", "/api/admin/tokens", "", &tokens)
	if len(tokens.Tokens) != 0 {
		t.Errorf("tokens after the revocation: %+v", tokens)
	}

	for _, c := range []struct {
		path string
		code int
		msg  string
	}{
		{"/api/admin/transactions?state=lost", 400, "invalid state"},
		{"/api/admin/transactions?start_date=2026-01-01T00:00:00Z", 400,
			"together"},
		{"/api/admin/transactions?start_date=x&end_date=y", 400, "format"},
		{"/api/admin/transactions?offset=-1", 400, "offset"},
		{"/api/admin/transactions?limit=x", 400, "limit"},
		{"/api/admin/stats?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
			400, ">="},
	} {
		code, body := e.rest(t, "GET", c.path, e.mac, "")
		if code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
	}
	for _, c := range []struct {
		id   string
		code int
	}{{"abc", 400}, {strings.Repeat("cd", 32), 404}} {
		if code, body := e.rest(t, "DELETE", "/api/admin/tokens/"+c.id, e.mac,
			""); code != c.code {
			t.Errorf("revoke %s: %d %s", c.id, code, body)
		}
	}
	var info map[string]any
	e.ok(t, "GET", "/api/admin/info", "", &info)
	if info["network"] != "mainnet" || info["insecure"] != true ||
		info["listen_addr"] != "localhost:8081" {
		t.Errorf("info: %v", info)
	}
}

// adminrpcStats is GetStatsResponse's JSON.
type adminrpcStats struct {
	Revenue    string           `json:"total_revenue_sats"`
	Count      string           `json:"transaction_count"`
	Challenges string           `json:"challenges"`
	Paid       string           `json:"paid_requests"`
	Breakdown  []map[string]any `json:"service_breakdown"`
	Daily      []map[string]any `json:"daily"`
}

// TestAdminSecondReplica: two serves on one database. A price change and
// a new service through one apply on the other at its next sync; a
// revocation through one is refused by the other when RevokeToken has
// answered, whether the other has synced since (its snapshot) or not (the
// lease lapsed, so it asks the database).
func TestAdminSecondReplica(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testSecondReplica(t, newAdminWorld(t))
	})
	t.Run("postgres", func(t *testing.T) {
		db := pgtest.Start(t)
		testSecondReplica(t, newAdminWorldOn(t, func() (*store.Store, error) {
			return store.OpenPostgres(context.Background(), db.Options)
		}, t.TempDir()))
	})
}

func testSecondReplica(t *testing.T, w *adminWorld) {
	a, b := w.replica(t, ""), w.replica(t, "")
	if a.mac != b.mac {
		t.Fatal("the replicas' admin macaroons differ")
	}
	a.ok(t, "PUT", "/api/admin/services/api", `{"price":150}`, nil)
	a.ok(t, "POST", "/api/admin/services", `{"name":"new","address":"`+
		w.backend+`","path_regexp":"^/api/new/","price":9}`, nil)
	if got := b.priceOf402(t, "/api/x"); got != 100 {
		t.Fatalf("b before its sync: %d", got)
	}
	if err := b.s.syncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.priceOf402(t, "/api/x"); got != 150 {
		t.Errorf("b after its sync: %d", got)
	}
	if got := b.priceOf402(t, "/api/new/x"); got != 9 {
		t.Errorf("b's new service: %d", got)
	}

	// Tokens bought from b, revoked through a.
	synced, syncedID := b.buy(t, "/api/x")
	stale, staleID := b.buy(t, "/api/x")
	for _, auth := range []string{synced, stale} {
		if resp := b.get(t, "/api/x", auth); resp.StatusCode != http.StatusOK {
			t.Fatalf("paid: %d", resp.StatusCode)
		}
	}
	a.ok(t, "DELETE", "/api/admin/tokens/"+syncedID.String(), "", nil)
	if err := b.s.syncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp := b.get(t, "/api/x", synced); resp.StatusCode !=
		http.StatusPaymentRequired {
		t.Errorf("revoked, b synced: %d", resp.StatusCode)
	}
	a.ok(t, "DELETE", "/api/admin/tokens/"+staleID.String(), "", nil)
	if resp := b.get(t, "/api/x", stale); resp.StatusCode !=
		http.StatusPaymentRequired {
		t.Errorf("revoked, b not synced since: %d", resp.StatusCode)
	}
}

// TestAdminCORS: with admin.corsorigin, a preflight from a listed origin
// is answered without a macaroon and names the macaroon header, and
// answers carry the origin; another origin gets no grant; without the key
// no CORS header is sent.
func TestAdminCORS(t *testing.T) {
	e := newAdminEnv(t, "  corsorigin: [\"https://dash.example\"]\n")
	preflight := func(e *adminEnv, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions,
			e.srv.URL+"/api/admin/services", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(e, "https://dash.example")
	if resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://dash.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"),
			"Grpc-Metadata-Macaroon") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight(e, "https://evil.example"); resp.Header.Get(
		"Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin: %v", resp.Header)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/admin/info", nil)
	req.Header.Set("Origin", "https://dash.example")
	req.Header.Set("Grpc-Metadata-Macaroon", e.mac)
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got.Body.Close()
	if got.StatusCode != 200 || got.Header.Get("Access-Control-Allow-Origin") !=
		"https://dash.example" || got.Header.Get("Vary") != "Origin" {
		t.Errorf("answer: %d %v", got.StatusCode, got.Header)
	}

	off := newAdminEnv(t, "")
	if resp := preflight(off, "https://dash.example"); resp.Header.Get(
		"Access-Control-Allow-Origin") != "" {
		t.Errorf("without corsorigin: %v", resp.Header)
	}
}

// TestAdminErrorStatusesAreTheGateways: each gRPC code maps to the HTTP
// status grpc-gateway gives it.
func TestAdminErrorStatusesAreTheGateways(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if got, want := httpStatusOf(c), runtime.HTTPStatusFromCode(c); got != want {
			t.Errorf("%s: %d, want %d", c, got, want)
		}
	}
}

// TestAdminConfig: the admin keys load; a bad listener or origin is
// refused; the macaroon is written 0600.
func TestAdminConfig(t *testing.T) {
	base := strings.Replace(apertureSkillConfig, "  network:",
		"  disable: true\n  network:", 1)
	cfg, err := LoadConfig(writeConfig(t, base+`admin:
  enabled: true
  macaroonpath: /x/admin.macaroon
  corsorigin: ["https://a.example", "*"]
  listenaddr: 127.0.0.1:8082
`))
	if err != nil || !cfg.Admin.Enabled || cfg.Admin.ListenAddr !=
		"127.0.0.1:8082" || len(cfg.Admin.CORSOrigin) != 2 ||
		cfg.Admin.macaroonPath("/d") != "/x/admin.macaroon" {
		t.Fatalf("%+v %v", cfg.Admin, err)
	}
	for _, bad := range []string{"  listenaddr: nope\n",
		"  corsorigin: [\"dash.example\"]\n",
		"  corsorigin: [\"https://*.example\"]\n"} {
		if _, err := LoadConfig(writeConfig(t, base+"admin:\n  enabled: true\n"+
			bad)); err == nil || !strings.Contains(err.Error(), "admin.") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	e := newAdminEnv(t, "")
	fi, err := os.Stat(filepath.Join(e.dir, "admin.macaroon"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("macaroon file: %v %v", fi, err)
	}
}
