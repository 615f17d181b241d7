package serve

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// getBody sends an unpaid GET and returns the answer and its body.
func (e *adminEnv) getBody(t *testing.T, path string) (*http.Response,
	string) {

	t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// shadowEnv is an admin env whose "api" service (price 100) is in shadow
// mode.
func shadowEnv(t *testing.T) *adminEnv {
	t.Helper()
	w := newAdminWorld(t)
	w.edit = func(y string) string {
		return strings.Replace(y, "    price: 100\n",
			"    price: 100\n    mode: shadow\n"+
				"    authskipinvoicecreationpaths: [\"^/api/status$\"]\n", 1)
	}
	return w.replica(t, "")
}

// TestShadowMode: an unpaid request of a service in shadow mode reaches
// the backend free, with no challenge, no invoice and no transaction;
// the challenge it would have got is counted in the metrics and, once
// flushed, in the admin API's statistics, at the price in force (one the
// admin API changed included); the service says "shadow" and is not in
// the discovery manifest. A live service beside it still sells.
func TestShadowMode(t *testing.T) {
	e := shadowEnv(t)
	for range 2 {
		resp, body := e.getBody(t, "/api/data")
		if resp.StatusCode != http.StatusOK || body != "backend /api/data" ||
			len(resp.Header.Values("WWW-Authenticate")) != 0 {
			t.Fatalf("shadow request: %d %q %v", resp.StatusCode, body,
				resp.Header)
		}
	}
	// A path live answers with 401 passes too, and is no would-be
	// challenge.
	if resp, _ := e.getBody(t, "/api/status"); resp.StatusCode != 200 {
		t.Fatalf("skip path: %d", resp.StatusCode)
	}
	e.ok(t, "PUT", "/api/admin/services/api", `{"price":"150"}`, nil)
	if resp, _ := e.getBody(t, "/api/data"); resp.StatusCode != 200 {
		t.Fatalf("after the price change: %d", resp.StatusCode)
	}
	if e.priceOf402(t, "/files/x") != 20 {
		t.Fatal("the live service lost its price")
	}

	invoices, _, err := e.seller.ListInvoices(context.Background(), 0, 100)
	if err != nil || len(invoices) != 1 {
		t.Fatalf("seller's invoices: %+v %v, want the live one only",
			invoices, err)
	}
	var txs struct {
		Total string `json:"total_count"`
	}
	e.ok(t, "GET", "/api/admin/transactions?service=api", "", &txs)
	if txs.Total != "0" {
		t.Fatalf("transactions of the shadow service: %s", txs.Total)
	}

	m := metricsText(e.s.metrics)
	for _, want := range []string{
		`l402_shadow_challenges_total{service="api"} 3`,
		`l402_shadow_revenue_sat_total{service="api"} 350`,
		`l402_free_requests_total{reason="shadow",service="api"} 4`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	if err := e.s.syncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Challenges string `json:"shadow_challenges"`
		Revenue    string `json:"shadow_revenue_sats"`
		Breakdown  []struct {
			Name    string `json:"service_name"`
			Revenue string `json:"shadow_revenue_sats"`
		} `json:"service_breakdown"`
		Daily []struct {
			Name    string `json:"service_name"`
			Revenue string `json:"shadow_revenue_sats"`
		} `json:"daily"`
	}
	e.ok(t, "GET", "/api/admin/stats", "", &stats)
	if stats.Challenges != "3" || stats.Revenue != "350" {
		t.Errorf("stats: %+v", stats)
	}
	found := false
	for _, b := range stats.Breakdown {
		found = found || (b.Name == "api" && b.Revenue == "350")
	}
	for _, d := range stats.Daily {
		found = found && (d.Name != "api" || d.Revenue == "350")
	}
	if !found {
		t.Errorf("by service and day: %+v", stats)
	}

	var services struct {
		Services []struct{ Name, Mode string } `json:"services"`
	}
	e.ok(t, "GET", "/api/admin/services", "", &services)
	modes := map[string]string{}
	for _, s := range services.Services {
		modes[s.Name] = s.Mode
	}
	if modes["api"] != "shadow" || modes["files"] != "live" {
		t.Errorf("modes %v", modes)
	}
	_, body := fetchManifest(t, e.srv, http.MethodGet, "")
	if strings.Contains(string(body), `"name": "api"`) ||
		!strings.Contains(string(body), `"name": "files"`) {
		t.Errorf("manifest: %s", body)
	}
}

// TestShadowModeDynamicPrice: in shadow mode the price server is asked as
// live would ask it; a price of 0 (free in live) and a failing price
// server (503 in live) are no would-be challenge, and every request
// passes.
func TestShadowModeDynamicPrice(t *testing.T) {
	cfg := stageConfig(t, "    mode: shadow\n    dynamicprice:\n"+
		"      enabled: true\n      grpcaddress: \"127.0.0.1:1\"\n", "")
	pricer := &fakePricer{}
	e := newChallengeStageEnv(t, cfg, pricer, &fakeScheme{name: "a",
		challenge: []string{"L402 x"}})
	for _, path := range []string{"/api/x", "/api/free-by-price",
		"/api/fail", "/api/y"} {
		rec, next := e.send(path, "", unpaid)
		if !next || rec.Header().Get("WWW-Authenticate") != "" {
			t.Fatalf("%s: passed %v, %d", path, next, rec.Code)
		}
	}
	m := metricsText(e.metrics)
	if !strings.Contains(m, `l402_shadow_challenges_total{service="api"} 2`) ||
		!strings.Contains(m, `l402_shadow_revenue_sat_total{service="api"} 14`) ||
		pricer.calls.Load() != 4 {
		t.Fatalf("calls %d, metrics:\n%s", pricer.calls.Load(), m)
	}
}

// TestShadowModeConfig: mode is live or shadow.
func TestShadowModeConfig(t *testing.T) {
	for mode, ok := range map[string]bool{"live": true, "shadow": true,
		"Shadow": false, "off": false} {
		_, err := LoadConfig(writeConfig(t, strings.Replace(
			apertureSkillConfig, "    price: 100\n",
			"    price: 100\n    mode: "+mode+"\n", 1)))
		if (err == nil) != ok || (err != nil &&
			!strings.Contains(err.Error(), "is not live or shadow")) {
			t.Errorf("mode %s: %v", mode, err)
		}
	}
}
