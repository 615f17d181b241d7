//go:build itest

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestItestCachedFetchThroughTheShortcut: against a real serve and bob's
// lnd, a cached `l402 fetch` sends the token named by the store's shortcut
// file (docs/tokens.md), and a token removed with `l402 tokens remove` is
// not sent from it: the next fetch pays alice's second invoice.
func TestItestCachedFetchThroughTheShortcut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := startServe(t, weatherBackend(t), 30)
	url := "http://" + addr + "/weather"
	home := buyerHome(t)
	shortcut := filepath.Join(home, "tokens.db-shortcut")

	run := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = append(os.Environ(), "L402_HOME="+home)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("l402 %v: %v\n%s", args, err, errOut.String())
		}
		return out.String(), errOut.String()
	}

	// The purchase goes through the store and names the origin.
	if out, errOut := run("fetch", "-v", "--max-cost", "40", url); out !=
		"sunny over lnc" || !strings.Contains(errOut, "paying 30 sat") {
		t.Fatalf("purchase: %q\n%s", out, errOut)
	}
	if st, err := os.Stat(shortcut); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("shortcut file after the purchase: %v", err)
	}

	// The next fetch sends that token, without the store or the node.
	out, errOut := run("fetch", "-v", url)
	if out != "sunny over lnc" ||
		!strings.Contains(errOut, "from "+shortcut) ||
		strings.Contains(errOut, "token store") ||
		!strings.Contains(errOut, "the paying node was not contacted") {
		t.Fatalf("cached fetch: %q\n%s", out, errOut)
	}

	// tokens remove takes the file with it: the next fetch buys.
	run("tokens", "remove", "http://"+addr)
	if _, err := os.Stat(shortcut); !os.IsNotExist(err) {
		t.Fatalf("the shortcut file outlived tokens remove: %v", err)
	}
	if out, errOut := run("fetch", "-v", "--max-cost", "40", url); out !=
		"sunny over lnc" || !strings.Contains(errOut, "paying 30 sat") {
		t.Fatalf("after tokens remove: %q\n%s", out, errOut)
	}
}
