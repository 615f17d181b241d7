//go:build itest

package main

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/l402/l402/serve/dashboard"
)

// chromium returns Debian's chromium. Outside CI a machine without it
// skips; in CI (CI=true, where scripts/deps.sh installs it) it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: scripts/deps.sh installs it " +
			"(Debian: apt-get install chromium)")
	}
	t.Skip("chromium is not installed (Debian: apt-get install chromium); " +
		"the dashboard's browser test needs it")
	return ""
}

// browser starts a headless chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root in CI's container
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	return bctx
}

// screenshot saves the page as dir/name.png and returns the path.
func screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// text returns the text of the element sel selects.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return v
}

// eval returns a JavaScript expression's value.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// do runs actions, failing the test on an error.
func do(t *testing.T, ctx context.Context, what string,
	actions ...chromedp.Action[chromedp.Void]) {

	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestItestDashboard drives the dashboard in headless chromium against
// bob's `l402 serve` on regtest after alice bought twice: signed in with
// the admin macaroon (kept in the tab's session, never in the URL), the
// overview shows the revenue bob's settled invoices add up to, in its
// figures and its chart; the transactions page lists both as settled; a
// price changed in the services page's form gives a new 402 at the new
// price. Screenshots of each page are saved in the test's temporary
// directory and their paths logged.
func TestItestDashboard(t *testing.T) {
	ctx := browser(t)
	s := startAdminSeller(t, 30, "")
	for range 2 {
		s.buy(t)
	}
	invoiced := s.checkAgainstBob(t, s.settled(t, 2))
	raw, err := os.ReadFile(filepath.Join(s.home, "admin.macaroon"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hex.EncodeToString(raw)
	// The screenshots go to the test's temporary directory, or to
	// $L402_SCREENSHOT_DIR to keep them.
	shots := t.TempDir()
	if d := os.Getenv("L402_SCREENSHOT_DIR"); d != "" {
		shots = d
	}
	base := "http://" + s.addr + dashboard.Prefix

	do(t, ctx, "sign in", chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS("#macaroon")),
		chromedp.SetValue(chromedp.CSS("#macaroon"), mac),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(
			`#page-overview[data-loaded="true"]`)))
	revenue := text(t, ctx, "#revenue-total")
	settled := text(t, ctx, "#settled-total")
	challenges := text(t, ctx, "#challenges-total")
	conversion := text(t, ctx, "#conversion")
	chartSum := eval[float64](t, ctx, `Array.from(document.querySelectorAll(
		"#chart-revenue rect")).reduce((a, r) =>
		a + Number(r.dataset.value), 0)`)
	overview := screenshot(t, ctx, shots, "overview")
	if revenue != "60" || invoiced != 60 || int64(chartSum) != invoiced ||
		settled != "2" {
		t.Fatalf("the overview shows revenue %q (chart %v) and %q settled; "+
			"bob's settled invoices add up to %d sat", revenue, chartSum,
			settled, invoiced)
	}
	t.Logf("overview (%s): revenue %s sat (chart %v sat), %s settled "+
		"invoices, %s 402s, conversion %s; bob's settled invoices: %d sat",
		overview, revenue, chartSum, settled, challenges, conversion,
		invoiced)

	// The macaroon is in the tab's session, not in the URL.
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	kept := eval[string](t, ctx,
		`sessionStorage.getItem("l402-admin-macaroon")`)
	if strings.Contains(loc, mac) || kept != mac {
		t.Fatalf("location %s, session %.8q", loc, kept)
	}

	do(t, ctx, "transactions",
		chromedp.Click(chromedp.CSS(`#nav a[data-page="transactions"]`)),
		chromedp.WaitVisible(chromedp.CSS(
			`#tx-table tbody tr[data-state="settled"]`)))
	rows := eval[int](t, ctx, `document.querySelectorAll(
		'#tx-table tbody tr[data-state="settled"]').length`)
	transactions := screenshot(t, ctx, shots, "transactions")
	if rows != 2 {
		t.Fatalf("transactions page: %d settled rows, want 2", rows)
	}

	do(t, ctx, "change the price",
		chromedp.Click(chromedp.CSS(`#nav a[data-page="services"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[data-price="weather"]`)),
		chromedp.SetValue(chromedp.CSS(`input[data-price="weather"]`), "45"),
		chromedp.Click(chromedp.CSS(`button[data-save="weather"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-kind="ok"]`)))
	saved := text(t, ctx, "#status")
	services := screenshot(t, ctx, shots, "services")
	if p := s.price402(t); p != 45 {
		t.Fatalf("after the dashboard's price change (%q) the 402 asks %d "+
			"sat, want 45", saved, p)
	}

	do(t, ctx, "tokens",
		chromedp.Click(chromedp.CSS(`#nav a[data-page="tokens"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tokens-table tbody tr[data-token]`)))
	tokens := screenshot(t, ctx, shots, "tokens")
	t.Logf("the services page saved the price (%q) and the next 402 asks 45 "+
		"sat; screenshots: %s %s %s", saved, transactions, services, tokens)
}
