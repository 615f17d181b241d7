package admin

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/serve"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// startServe runs serve with the admin API on (no node: the
// authenticator is disabled) and returns its admin client's options.
func startServe(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	mac := filepath.Join(dir, "admin.macaroon")
	cfg := `listenaddr: "127.0.0.1:0"
insecure: true
authenticator:
  disable: true
sqlite:
  databasefilename: "` + filepath.Join(dir, "serve.db") + `"
services:
  - name: api
    hostregexp: ".*"
    pathregexp: "^/api/"
    address: "127.0.0.1:9"
    price: 100
admin:
  enabled: true
  macaroonpath: "` + mac + `"
`
	path := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve.Run(ctx, serve.RunOptions{ConfigPath: path, Dir: dir,
			Log: ioDiscard{}, Ready: func(addr string) { ready <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case addr := <-ready:
		return Options{Host: addr, Insecure: true, MacaroonPath: mac,
			Timeout: 10 * time.Second}
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	}
	return Options{}
}

// ioDiscard drops serve's log.
type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

// session connects an MCP client to the admin tools over in-memory
// transports.
func session(t *testing.T, o Options, m MCPOptions) *sdk.ClientSession {
	t.Helper()
	c, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	serverSide, clientSide := sdk.NewInMemoryTransports()
	ss, err := NewMCPServer(c, m).Connect(ctx, serverSide, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test"}, nil).
		Connect(ctx, clientSide, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callTool calls a tool and decodes its structured result into out; it
// returns the result.
func callTool(t *testing.T, cs *sdk.ClientSession, name string,
	args map[string]any, out any) *sdk.CallToolResult {

	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{
		Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if out != nil && !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v in %s", name, err, b)
		}
	}
	return res
}

// resultText is a result's text content.
func resultText(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// toolNames lists the tools a session sees.
func toolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// TestMCPReadTools: without --allow-writes the server has the reading
// tools only, which answer the REST API's JSON of a running serve; the
// writing tools are not there to call.
func TestMCPReadTools(t *testing.T) {
	cs := session(t, startServe(t), MCPOptions{})
	want := slices.Clone(ReadTools)
	slices.Sort(want)
	if got := toolNames(t, cs); !slices.Equal(got, want) {
		t.Fatalf("tools %v, want %v", got, want)
	}

	var health struct{ Status string }
	callTool(t, cs, "health", nil, &health)
	var services struct {
		Services []struct {
			Name, Price, Source, Mode string
		}
	}
	callTool(t, cs, "services_list", nil, &services)
	var txs struct {
		Total string `json:"total_count"`
	}
	callTool(t, cs, "transactions_list", map[string]any{"state": "settled",
		"limit": 10}, &txs)
	var stats struct {
		Revenue string `json:"total_revenue_sats"`
	}
	callTool(t, cs, "stats", nil, &stats)
	if health.Status != "ok" || len(services.Services) != 1 ||
		services.Services[0].Name != "api" ||
		services.Services[0].Price != "100" ||
		services.Services[0].Mode != "live" || txs.Total != "0" ||
		stats.Revenue != "0" {
		t.Fatalf("health %+v services %+v transactions %+v stats %+v",
			health, services, txs, stats)
	}
	res := callTool(t, cs, "transactions_list", map[string]any{
		"state": "lost"}, nil)
	if !res.IsError || !strings.HasPrefix(resultText(res), "admin_refused:") {
		t.Fatalf("a bad state: %v %q", res.IsError, resultText(res))
	}

	_, err := cs.CallTool(context.Background(), &sdk.CallToolParams{
		Name: "services_update", Arguments: map[string]any{"name": "api",
			"price": 1}})
	if err == nil {
		t.Fatal("services_update answered without --allow-writes")
	}
	callTool(t, cs, "services_list", nil, &services)
	if services.Services[0].Price != "100" {
		t.Fatalf("price changed without --allow-writes: %+v", services)
	}
}

// TestMCPWriteTools: with --allow-writes, the price of a service changes
// (0 is Aperture's default, 1 sat), a service is created and deleted, and a refusal of the
// API (an unknown token) is a tool error naming its code; a wrong
// macaroon is admin_unauthorized.
func TestMCPWriteTools(t *testing.T) {
	o := startServe(t)
	cs := session(t, o, MCPOptions{AllowWrites: true})
	want := append(slices.Clone(ReadTools), WriteTools...)
	slices.Sort(want)
	if got := toolNames(t, cs); !slices.Equal(got, want) {
		t.Fatalf("tools %v, want %v", got, want)
	}

	var svc struct{ Name, Price, Source string }
	callTool(t, cs, "services_update", map[string]any{"name": "api",
		"price": 250}, &svc)
	if svc.Price != "250" || svc.Source != "config+api" {
		t.Fatalf("update: %+v", svc)
	}
	callTool(t, cs, "services_update", map[string]any{"name": "api",
		"price": 0}, &svc)
	if svc.Price != "1" { // 0 is Aperture's default price, as in serve.yaml
		t.Fatalf("update to 0: %+v", svc)
	}
	callTool(t, cs, "services_create", map[string]any{"name": "reports",
		"address": "127.0.0.1:9", "path_regexp": "^/reports/", "price": 42},
		&svc)
	if svc.Name != "reports" || svc.Price != "42" || svc.Source != "api" {
		t.Fatalf("create: %+v", svc)
	}
	var services struct {
		Services []struct{ Name, Price string }
	}
	callTool(t, cs, "services_list", nil, &services)
	if len(services.Services) != 2 {
		t.Fatalf("services after create: %+v", services)
	}
	var deleted struct{ Status string }
	callTool(t, cs, "services_delete", map[string]any{"name": "reports"},
		&deleted)
	if deleted.Status != "deleted" {
		t.Fatalf("delete: %+v", deleted)
	}
	res := callTool(t, cs, "tokens_revoke", map[string]any{
		"token_id": strings.Repeat("ab", 32)}, nil)
	if !res.IsError || !strings.HasPrefix(resultText(res), "not_found:") {
		t.Fatalf("revoke an unknown token: %v %q", res.IsError,
			resultText(res))
	}

	wrong := filepath.Join(t.TempDir(), "wrong.macaroon")
	os.WriteFile(wrong, []byte("not serve's"), 0o600)
	o.MacaroonPath = wrong
	res = callTool(t, session(t, o, MCPOptions{}), "services_list", nil, nil)
	if !res.IsError || !strings.HasPrefix(resultText(res),
		"admin_unauthorized:") {
		t.Fatalf("a wrong macaroon: %v %q", res.IsError, resultText(res))
	}
}
