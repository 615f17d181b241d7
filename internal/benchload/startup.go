package benchload

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// timing is one process run: its wall time and its CPU time (user and
// system).
type timing struct {
	wall, cpu float64 // milliseconds
}

// timeRun runs a command to its end and times it; its output is
// discarded (its stdout is /dev/null, opened by os/exec: l402 fetch
// before ec3e3fa renamed a file over an -o /dev/null), and a failure is
// an error.
func timeRun(ctx context.Context, env []string, bin string,
	args ...string) (timing, error) {

	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return timing{}, fmt.Errorf("%s %s: %w\n%s", bin,
			strings.Join(args, " "), err, stderr.String())
	}
	wall := time.Since(start)
	t := timing{wall: float64(wall.Microseconds()) / 1000}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.cpu = float64((ru.Utime.Nano()+ru.Stime.Nano())/1000) / 1000
	}
	return t, nil
}

// command is one process the start-up figures time.
type command struct {
	name string
	env  []string
	bin  string
	args []string
}

// startup times the cached `l402 fetch -q` of each instance against curl
// with the same kind of credential, `l402 version`, and the package
// initialisation of each binary, in alternating runs.
func (b *bench) startup(ctx context.Context, ins []*instance) error {
	curlURL := "http://" + ins[0].plain + "/api/data"
	cmds := []command{{name: "curl", bin: "curl", args: []string{"-sf",
		"-o", "/dev/null", "-H", "Authorization: " + ins[0].apiAuth,
		curlURL}}}
	for _, in := range ins {
		env, err := b.fetchHome(ctx, in)
		if err != nil {
			return err
		}
		cmds = append(cmds, command{name: "fetch " + in.label, env: env,
			bin: in.bin, args: []string{"fetch", "-q",
				"http://" + in.plain + "/api/data"}})
	}
	for _, in := range ins {
		cmds = append(cmds, command{name: "version " + in.label,
			bin: in.bin, args: []string{"version"}})
	}
	cmds = append(cmds, command{name: "true (exec floor)", bin: "true"})

	times := make([][]timing, len(cmds))
	for r := range b.opts.Runs {
		for k := range cmds {
			i := (k + r) % len(cmds)
			c := cmds[i]
			t, err := timeRun(ctx, c.env, c.bin, c.args...)
			if err != nil {
				return err
			}
			times[i] = append(times[i], t)
		}
	}
	b.printf("\nStart-up, whole processes, %d alternating runs each "+
		"(median wall and CPU)\n", b.opts.Runs)
	curl := medianWall(times[0])
	for i, c := range cmds {
		line := fmt.Sprintf("  %-24s %7.2f ms wall  %7.2f ms cpu", c.name,
			medianWall(times[i]), medianCPU(times[i]))
		if strings.HasPrefix(c.name, "fetch ") {
			line += fmt.Sprintf("  %.2fx curl", medianWall(times[i])/curl)
		}
		b.printf("%s\n", line)
	}

	b.printf("\nPackage initialisation (GODEBUG=inittrace=1 l402 "+
		"version, median of %d runs)\n", b.opts.Runs)
	for _, in := range ins {
		ms, n, err := initTime(ctx, in.bin, b.opts.Runs)
		if err != nil {
			return err
		}
		b.printf("  %-24s %7.2f ms in %d package inits\n", in.label, ms, n)
	}
	return nil
}

// fetchHome writes a fetch.yaml paying through the buyer's fake lnd into
// a new L402_HOME for the instance, and buys the token with one `l402
// fetch`; it returns the environment of the timed runs.
func (b *bench) fetchHome(ctx context.Context, in *instance) ([]string,
	error) {

	home := filepath.Join(b.dir, in.label, "fetch-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("lnd:\n  host: %q\n  tlscertpath: %q\n"+
		"  macaroonpath: %q\nmaxcost: 10\n", b.bLnd.Host, b.bLnd.CertPath,
		filepath.Join(b.bLnd.MacaroonDir, "admin.macaroon"))
	if err := os.WriteFile(filepath.Join(home, "fetch.yaml"), []byte(cfg),
		0o600); err != nil {
		return nil, err
	}
	env := []string{"L402_HOME=" + home}
	if _, err := timeRun(ctx, env, in.bin, "fetch", "-q",
		"http://"+in.plain+"/api/data"); err != nil {
		return nil, fmt.Errorf("buying %s's token with l402 fetch: %w",
			in.label, err)
	}
	return env, nil
}

// initTime runs `bin version` with inittrace and returns the median sum
// of the package inits' clock times, and their count.
func initTime(ctx context.Context, bin string, runs int) (float64, int,
	error) {

	var sums []float64
	n := 0
	for range runs {
		cmd := exec.CommandContext(ctx, bin, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return 0, 0, err
		}
		sum, count := parseInitTrace(stderr.String())
		sums = append(sums, sum)
		n = count
	}
	return median(sums), n, nil
}

// parseInitTrace sums the "N ms clock" of inittrace's lines.
func parseInitTrace(s string) (float64, int) {
	sum, n := 0.0, 0
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// init PKG @T ms, N ms clock, B bytes, A allocs
		if len(f) >= 7 && f[0] == "init" && f[6] == "clock," {
			if v, err := strconv.ParseFloat(f[4], 64); err == nil {
				sum += v
				n++
			}
		}
	}
	return sum, n
}

// medianWall and medianCPU are the medians of a command's runs.
func medianWall(ts []timing) float64 {
	v := make([]float64, len(ts))
	for i, t := range ts {
		v[i] = t.wall
	}
	return median(v)
}

func medianCPU(ts []timing) float64 {
	v := make([]float64, len(ts))
	for i, t := range ts {
		v[i] = t.cpu
	}
	return median(v)
}
