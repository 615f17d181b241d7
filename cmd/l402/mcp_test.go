package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/l402/l402/internal/cli"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPCommandFlagsReachTheServer runs `l402 mcp` in process over pipes
// with the SDK's client: its flags are the caps the tools keep to, and
// closing stdin ends it with exit 0.
func TestMCPCommandFlagsReachTheServer(t *testing.T) {
	cfg := fetchEnv(t) // maxcost: 50
	_, srv := memoryBuyer(t, 10)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var errOut bytes.Buffer
	root := newRootCmd(cli.IO{In: inR, Out: outW, ErrOut: &errOut})
	root.SetArgs([]string{"mcp", "--config", cfg, "--max-cost", "5",
		"--max-total", "500", "--body-cap", "10"})
	done := make(chan error, 1)
	go func() {
		done <- execute(root)
		outW.Close()
	}()

	client := sdk.NewClient(&sdk.Implementation{Name: "test",
		Version: "0"}, nil)
	cs, err := client.Connect(context.Background(), &sdk.IOTransport{
		Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := func(name string, args map[string]any) (map[string]any, bool) {
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{
			Name: name, Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.StructuredContent)
		var out map[string]any
		json.Unmarshal(b, &out)
		return out, res.IsError
	}

	set, _ := call("config_show", nil)
	c, _ := set["config"].(map[string]any)
	lim, _ := c["limits"].(map[string]any)
	if lim["max_cost_sat"] != 5.0 || lim["max_total_sat"] != 500.0 ||
		c["body_cap"] != 10.0 || c["config_path"] != cfg {
		t.Fatalf("config_show: %v", set)
	}
	out, isErr := call("fetch", map[string]any{"url": srv.URL + "/a",
		"max_cost": 50})
	e, _ := out["error"].(map[string]any)
	if !isErr || e["code"] != "over_budget" || e["limit_sat"] != 5.0 {
		t.Fatalf("fetch over --max-cost 5: %v", out)
	}
	cs.Close()
	if err := <-done; err != nil {
		t.Fatalf("l402 mcp after stdin closed: %v", err)
	}
}

func TestMCPCommandRefusesNonLoopbackHTTP(t *testing.T) {
	cfg := fetchEnv(t)
	_, errOut, code := run("mcp", "--config", cfg, "--http", "0.0.0.0:8080")
	if code != cli.ExitUsage || !strings.Contains(errOut,
		"not a loopback address") {
		t.Fatalf("--http 0.0.0.0:8080: %d %q", code, errOut)
	}
	_, errOut, code = run("mcp", "--config", cfg, "--max-cost", "-1")
	if code != cli.ExitUsage || !strings.Contains(errOut, "max cost") {
		t.Fatalf("--max-cost -1: %d %q", code, errOut)
	}
}
