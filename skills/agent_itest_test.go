//go:build itest && unix

package skills

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/l402/l402/internal/macaroons"
	"github.com/l402/l402/serve"
)

// task is one of the tasks an agent was given with only skills/ and
// --help: the shell variables the skills ask for, then the sections
// (skill, heading) whose sh blocks do it, in order.
type task struct {
	name     string
	vars     map[string]string
	sections [][2]string
}

// TestItestSkillsAgentTasks is the five tasks of issue 15's agent, on
// regtest, as one scenario in one l402 directory (one machine): sell an
// API (bob's lnd), buy from it over its self-signed TLS (alice's), bake
// a pay-only macaroon and point fetch.yaml at it, reprice and reload,
// and clean up. Every command run is a command the skills show; the
// test only sets the variables they ask for, then checks what the
// commands left behind.
func TestItestSkillsAgentTasks(t *testing.T) {
	listen := freeAddr(t)
	tasks := []task{
		{"sell an API", map[string]string{"LND_DIR": stack.Bob.LndDir,
			"UPSTREAM": backend(t), "LISTEN": listen}, [][2]string{
			{"l402-sell", "1. Write serve.yaml"},
			{"l402-sell", "2. Run serve in the background"},
			{"l402-sell", "3. Check it with an unpaid request"},
		}},
		{"buy from it", map[string]string{"LND_DIR": stack.Alice.LndDir,
			"URL": "https://" + listen + "/data", "INSECURE": "1"},
			[][2]string{
				{"l402-buy", "1. Write fetch.yaml, with a pay-only macaroon"},
				{"l402-buy", "2. Check the node before paying"},
				{"l402-buy", "3. See the price without paying"},
				{"l402-buy", "4. Fetch, within budgets"},
				{"l402-buy", "5. Reuse the token"},
			}},
		{"bake a pay-only macaroon", nil, [][2]string{
			{"l402-bake", "Least-privilege lnd macaroons with `l402 bake`"},
			{"l402-bake", "Bake"},
			{"l402-bake", "Use them"},
		}},
		{"reprice", nil, [][2]string{
			{"l402-sell", "4. Change serve.yaml and reload"},
		}},
		{"clean up", nil, [][2]string{
			{"l402-sell", "8. Stop"},
			{"l402-tokens", "Remove and clear"},
		}},
	}

	skills := map[string]skill{}
	var steps []step
	for i, tk := range tasks {
		if len(tk.vars) > 0 {
			steps = append(steps, step{where: fmt.Sprintf("task %d, %s: "+
				"the variables the skills ask for", i+1, tk.name),
				text: exports(tk.vars)})
		}
		for _, sec := range tk.sections {
			s, ok := skills[sec[0]]
			if !ok {
				s = skillNamed(t, sec[0])
				skills[sec[0]] = s
			}
			for _, b := range sectionBlocks(t, s, sec[1]) {
				steps = append(steps, step{where: fmt.Sprintf(
					"task %d, %s: %s", i+1, tk.name, b.where(s.path)),
					text: b.text})
			}
		}
	}
	dirs := scriptDirs(t)
	runSteps(t, "the agent's tasks", steps, dirs, nil)

	home := dirs["l402"]
	baked := filepath.Join(home, "macaroons", "regtest")

	// Sold: serve.yaml's macaroon is the invoice-only one setup baked,
	// and the reprice took (the reload line names it).
	cfg, err := serve.LoadConfig(filepath.Join(home, "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Authenticator.MacDir != baked || cfg.Services[0].Price != 150 {
		t.Errorf("serve.yaml: macdir %s, price %d; want %s and 150",
			cfg.Authenticator.MacDir, cfg.Services[0].Price, baked)
	}
	wantRoleFile(t, filepath.Join(baked, "invoice.macaroon"), "invoice-only")
	wantInFile(t, filepath.Join(home, "serve.log"),
		`msg="config reloaded" services=1 prices="api 150 sat"`,
		"draining")

	// Bought once, with the pay-only macaroon setup baked; then
	// fetch.yaml points at the one the bake skill baked.
	wantRoleFile(t, filepath.Join(baked, "pay-only.macaroon"), "pay-only")
	wantFetchMacaroon(t, home, filepath.Join(home, "macaroons", "fetch",
		"pay-only.macaroon"))
	wantInFile(t, filepath.Join(dirs["work"], "data.out"),
		"sold by l402: GET /data")
	var stats struct{ Payments int }
	out, err := exec.Command(binary, "tokens", "stats", "--json",
		"--store", filepath.Join(home, "tokens.db")).Output()
	if err != nil || json.Unmarshal(out, &stats) != nil ||
		stats.Payments != 1 {
		t.Errorf("tokens stats: %s %v, want 1 payment", out, err)
	}

	// Cleaned up: no token left, serve stopped.
	out, err = exec.Command(binary, "tokens", "list", "--json",
		"--store", filepath.Join(home, "tokens.db")).Output()
	if err != nil || strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("tokens left: %s %v", out, err)
	}
	b, err := os.ReadFile(filepath.Join(home, "serve.pid"))
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		t.Fatalf("serve.pid: %q %v %v", b, err, perr)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("serve (pid %d) still runs: %v", pid, err)
	}
}

// exports is the shell lines that set and export vars, in name order.
func exports(vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(vars[k]))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// wantRoleFile fails unless path is a 0600 macaroon of the l402 role.
func wantRoleFile(t *testing.T, path, role string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v, want a 0600 file", path, fi, err)
		return
	}
	b, _ := os.ReadFile(path)
	if info, err := macaroons.Inspect(b); err != nil || info.Role != role {
		t.Errorf("%s: role %q %v, want %s", path, info.Role, err, role)
	}
}
