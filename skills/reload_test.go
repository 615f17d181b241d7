//go:build unix

package skills

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The stand-ins TestSellReloadWaitsForItsOwnReload runs the sell skill's
// reload block with: a serve that, on SIGHUP, reprices and only then logs
// its reload line, after a pause; and an l402 whose `fetch --no-pay`
// reports the price serve has now.
const (
	fakeServe = `#!/usr/bin/env bash
price=100
echo "$price" > "$L402_DIR/price"
trap 'sleep 1; price=150; echo "$price" > "$L402_DIR/price"
echo "level=INFO msg=\"config reloaded\" services=1 prices=\"api $price sat\"" >> "$L402_DIR/serve.log"' HUP
echo ready
while :; do sleep 0.05; done
`
	fakeL402 = `#!/usr/bin/env bash
printf '{"status_code":402,"invoice_amount_sat":%s}\n' "$(cat "$L402_DIR/price")"
`
)

// TestSellReloadWaitsForItsOwnReload runs the sell skill's "Change
// serve.yaml and reload" block against a log that already holds an
// earlier reload's line: the block must wait for the line of its own
// SIGHUP, and so see the new price. Waiting for any "config reloaded" in
// the whole log passed at once on the old line, and read the old price.
func TestSellReloadWaitsForItsOwnReload(t *testing.T) {
	for _, tool := range []string{"bash", "perl", "jq", "tail", "wc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the sell skill's block needs %s", tool)
		}
	}
	blocks := sectionBlocks(t, skillNamed(t, "l402-sell"),
		"4. Change serve.yaml and reload")

	dir := t.TempDir()
	l402Dir, bin := filepath.Join(dir, "l402"), filepath.Join(dir, "bin")
	for _, d := range []string{l402Dir, bin} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, body string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(l402Dir, "serve.yaml"), "services:\n  - name: api\n"+
		"    price: 100\n", 0o600)
	write(filepath.Join(l402Dir, "serve.log"), "l402 serve: listening on "+
		"https://127.0.0.1:8081\nlevel=INFO msg=\"config reloaded\" "+
		"services=1 prices=\"api 100 sat\"\n", 0o600)
	write(filepath.Join(bin, "l402"), fakeL402, 0o700)
	write(filepath.Join(dir, "serve.sh"), fakeServe, 0o700)

	env := append(os.Environ(), "L402_DIR="+l402Dir,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"LISTEN=127.0.0.1:8081")
	serve := exec.Command("bash", filepath.Join(dir, "serve.sh"))
	serve.Env = env
	ready, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGKILL)
		serve.Wait()
	}()
	// The stand-in has its SIGHUP trap once it says so.
	if line, err := bufio.NewReader(ready).ReadString('\n'); err != nil ||
		line != "ready\n" {
		t.Fatalf("the stand-in serve: %q %v", line, err)
	}
	write(filepath.Join(l402Dir, "serve.pid"),
		strconv.Itoa(serve.Process.Pid)+"\n", 0o600)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		script.WriteString(b.text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the reload block: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `prices="api 150 sat"`) {
		t.Fatalf("the block did not show its own reload line:\n%s", out)
	}
}
