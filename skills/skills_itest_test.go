//go:build itest && unix

package skills

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/regtest"
)

// stack is the regtest stack the itests share: bob sells, alice buys.
var stack *regtest.Stack

func TestMain(m *testing.M) {
	dir, err := buildL402()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := regtest.RunTests(m, &stack)
	os.RemoveAll(dir)
	os.Exit(code)
}

// skillTest is how one skill is run: env prepares what its commands need
// and returns the shell variables its text defines (home is the skill's
// L402_HOME); check, when set, checks what the commands left behind.
type skillTest struct {
	env   func(t *testing.T, home string) map[string]string
	check func(t *testing.T, home, work string)
}

// skillTests has one entry per skill: a skill without one fails
// TestItestSkills, so that no skill goes unrun.
var skillTests = map[string]skillTest{
	"l402": {env: func(*testing.T, string) map[string]string {
		return nil
	}},

	"l402-sell": {
		env: func(t *testing.T, _ string) map[string]string {
			return map[string]string{
				"LND_DIR":  stack.Bob.LndDir,
				"UPSTREAM": backend(t),
				"LISTEN":   freeAddr(t),
				"METRICS":  freeAddr(t),
			}
		},
		check: func(t *testing.T, home, _ string) {
			wantInFile(t, filepath.Join(home, "serve.yaml"), "price: 150",
				"prometheus:", "admin:")
			wantInFile(t, filepath.Join(home, "serve.log"), "draining")
		},
	},

	"l402-buy": {
		env: func(t *testing.T, _ string) map[string]string {
			return map[string]string{
				"LND_DIR": stack.Alice.LndDir,
				"URL":     "http://" + startServe(t) + "/data",
			}
		},
		check: func(t *testing.T, home, work string) {
			wantInFile(t, filepath.Join(home, "fetch.yaml"),
				"pay-only.macaroon", "maxcost: 100")
			wantInFile(t, filepath.Join(work, "data.out"),
				"sold by l402: GET /data")
		},
	},

	// The tokens skill starts with a token to buy, so the buyer's
	// fetch.yaml is written first, as the buy skill's first step does.
	"l402-tokens": {
		env: func(t *testing.T, home string) map[string]string {
			env := map[string]string{
				"LND_DIR": stack.Alice.LndDir,
				"URL":     "http://" + startServe(t) + "/data",
			}
			setupBuyer(t, home)
			return env
		},
		check: func(t *testing.T, home, work string) {
			if _, err := os.Stat(filepath.Join(work, "token.txt")); err == nil {
				t.Error("token.txt, a secret, was left behind")
			}
			out, err := exec.Command(binary, "tokens", "list", "--json",
				"--store", filepath.Join(home, "tokens.db")).Output()
			if err != nil || strings.TrimSpace(string(out)) != "[]" {
				t.Errorf("tokens left after clear: %s %v", out, err)
			}
		},
	},

	// The MCP skill drives l402 mcp with the buyer's fetch.yaml, which
	// the buy skill's first step writes.
	"l402-mcp": {
		env: func(t *testing.T, home string) map[string]string {
			env := map[string]string{
				"LND_DIR": stack.Alice.LndDir,
				"URL":     "http://" + startServe(t) + "/data",
			}
			setupBuyer(t, home)
			return env
		},
		check: func(t *testing.T, home, _ string) {
			out, err := exec.Command(binary, "tokens", "stats", "--json",
				"--store", filepath.Join(home, "tokens.db")).Output()
			var st struct{ Payments int }
			if err != nil || json.Unmarshal(out, &st) != nil ||
				st.Payments != 1 {
				t.Errorf("the skill's fetches paid %s %v, want once", out,
					err)
			}
		},
	},

	// The bake skill points fetch.yaml at the macaroon it baked: the
	// buyer's fetch.yaml is written first, as the buy skill's first
	// step does.
	"l402-bake": {
		env: func(t *testing.T, home string) map[string]string {
			setupBuyer(t, home)
			return map[string]string{"LND_DIR": stack.Alice.LndDir}
		},
		check: func(t *testing.T, home, _ string) {
			wantFetchMacaroon(t, home, filepath.Join(home, "macaroons",
				"fetch", "pay-only.macaroon"))
			for _, f := range []string{"serve/invoice.macaroon",
				"fetch/pay-only.macaroon", "fetch/pay-only-24h.macaroon",
				"balance-reader.macaroon"} {

				fi, err := os.Stat(filepath.Join(home, "macaroons", f))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v %v, want a 0600 file", f, fi, err)
				}
			}
		},
	},
}

// setupBuyer writes the buyer's fetch.yaml into home, for alice.
func setupBuyer(t *testing.T, home string) {
	t.Helper()
	cmd := exec.Command(binary, "setup", "--role", "buyer", "--lnddir",
		stack.Alice.LndDir)
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup --role buyer: %v\n%s", err, out)
	}
}

// wantFetchMacaroon fails unless home's fetch.yaml names the macaroon.
func wantFetchMacaroon(t *testing.T, home, want string) {
	t.Helper()
	cfg, err := fetch.LoadConfig(filepath.Join(home, "fetch.yaml"), true)
	if err != nil || cfg.Lnd.MacaroonPath != want {
		t.Errorf("fetch.yaml's macaroon %q %v, want %s",
			cfg.Lnd.MacaroonPath, err, want)
	}
}

// wantInFile fails unless the file holds each of the strings.
func wantInFile(t *testing.T, path string, want ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	for _, w := range want {
		if !strings.Contains(string(b), w) {
			t.Errorf("%s does not hold %q:\n%s", path, w, b)
		}
	}
}

// TestItestSkills runs every ```sh block of every skill, in order, in one
// bash with `set -euo pipefail`, on regtest: l402 built from this tree on
// PATH, HOME and L402_HOME in temporary directories, and the variables
// the skill asks for set. It fails when a command fails or a block does
// not run, and kills whatever the blocks left running.
func TestItestSkills(t *testing.T) {
	// The skills use what agents' machines usually have; a machine
	// without one fails here by name rather than in the middle of a
	// skill.
	for _, tool := range []string{"bash", "curl", "jq", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the skills' commands use %s: install it (Debian: "+
				"apt-get install %s)", tool, tool)
		}
	}
	for _, s := range loadSkills(t) {
		t.Run(s.name, func(t *testing.T) {
			st, ok := skillTests[s.name]
			if !ok {
				t.Fatalf("no itest for skill %s: add it to skillTests",
					s.name)
			}
			runSkill(t, s, st)
		})
	}
}

// runSkill runs the skill's sh blocks as one script, then the skill's
// own checks.
func runSkill(t *testing.T, s skill, st skillTest) {
	var steps []step
	for _, b := range s.blocks {
		if b.lang == "sh" {
			steps = append(steps, step{where: b.where(s.path),
				text: b.text})
		}
	}
	if len(steps) == 0 {
		t.Fatalf("%s has no sh block", s.path)
	}
	dirs := scriptDirs(t)
	runSteps(t, s.path, steps, dirs, st.env(t, dirs["l402"]))
	if st.check != nil {
		st.check(t, dirs["l402"], dirs["work"])
	}
}

// step is one part of a script the itests run: a skill's block, or the
// shell variables a skill asks its reader to set.
type step struct {
	where string // for messages
	text  string
}

// scriptDirs makes the directories a script runs with: its home, its
// l402 directory (L402_HOME) and its working directory.
func scriptDirs(t *testing.T) map[string]string {
	tmp := t.TempDir()
	dirs := map[string]string{"tmp": tmp}
	for _, d := range []string{"home", "l402", "work"} {
		dirs[d] = filepath.Join(tmp, d)
		if err := os.Mkdir(dirs[d], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// runSteps runs the steps as one script in its own process group, with
// vars in its environment, checks that each step ran and the last one
// finished, and kills whatever the steps left running.
func runSteps(t *testing.T, name string, steps []step,
	dirs, vars map[string]string) {

	tmp := dirs["tmp"]

	// Each step announces itself on stderr and in the marks file
	// before it runs; "done" follows the last.
	marks := filepath.Join(tmp, "marks")
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, st := range steps {
		fmt.Fprintf(&script, "echo '>>> step %d, %s' >&2\n"+
			"echo %d >> %q\n%s", i+1, st.where, i+1, marks, st.text)
	}
	fmt.Fprintf(&script, "echo done >> %q\n", marks)
	scriptPath := filepath.Join(tmp, "skill.sh")
	if err := os.WriteFile(scriptPath, []byte(script.String()),
		0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", scriptPath)
	cmd.Dir = dirs["work"]
	cmd.Env = skillEnviron(dirs, vars)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}

	// Files, not pipes: a process a block leaves in the background keeps
	// its output open, and must not hold up Wait.
	outPath, errPath := filepath.Join(tmp, "stdout"),
		filepath.Join(tmp, "stderr")
	stdout, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr

	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer killGroup(t, cmd.Process.Pid)
	runErr := cmd.Wait()

	out, _ := os.ReadFile(outPath)
	errOut, _ := os.ReadFile(errPath)
	t.Logf("%s: %d steps in %s\n--- stdout\n%s--- stderr\n%s", name,
		len(steps), time.Since(start).Round(time.Millisecond), out, errOut)
	if runErr != nil {
		t.Fatalf("%s: %v (the last \">>> step\" line above names the "+
			"block that failed)", name, runErr)
	}

	got, _ := os.ReadFile(marks)
	var want strings.Builder
	for i := range steps {
		fmt.Fprintf(&want, "%d\n", i+1)
	}
	want.WriteString("done\n")
	if string(got) != want.String() {
		t.Fatalf("%s: steps run %q, want %q: a block exited early", name,
			got, want.String())
	}
}

// skillEnviron is the environment of a skill's script: this process's,
// with PATH starting at the built l402, HOME and L402_HOME of the test's
// own, no LND_DIR unless the skill's variables set one, and the variables.
func skillEnviron(dirs, vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "L402_HOME", "LND_DIR", "URL", "UPSTREAM",
			"LISTEN", "METRICS", "INSECURE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+
			os.Getenv("PATH"),
		"HOME="+dirs["home"],
		"L402_HOME="+dirs["l402"])
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// killGroup stops every process left in the group: SIGTERM (serve
// drains), then SIGKILL after a few seconds.
func killGroup(t *testing.T, pgid int) {
	if syscall.Kill(-pgid, syscall.SIGTERM) != nil {
		return // nothing left
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("process group %d still running after SIGTERM: killed", pgid)
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// backend starts the API a skill sells and returns its host:port.
func backend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "sold by l402: %s %s\n", r.Method, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// freeAddr returns a 127.0.0.1 address free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startServe runs l402 serve on templates/serve-regtest.yaml, filled in
// with bob's lnd and a backend, and returns the address it listens on.
func startServe(t *testing.T) string {
	cfg := fillTemplate(t, "../templates/serve-regtest.yaml",
		map[string]string{
			"LISTEN":     "127.0.0.1:0",
			"UPSTREAM":   backend(t),
			"LND_HOST":   stack.Bob.RPCHost,
			"LND_TLS":    stack.Bob.TLSCertPath,
			"LND_MACDIR": stack.Bob.MacaroonDir,
		})
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), "L402_HOME="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// serve's log is kept and shown when the test ends, not echoed as
	// it comes: it goes on after the test's last line.
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Logf("serve's log:\n%s", log.String())
	})
	addr, err := regtest.WaitServeListening(stderr, func(line string) {
		mu.Lock()
		defer mu.Unlock()
		log.WriteString(line + "\n")
	}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
