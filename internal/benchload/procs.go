package benchload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proc is a child process the harness started and stops by its PID.
type proc struct {
	name string
	cmd  *exec.Cmd

	exited chan struct{}

	// profile is the pprof base URL of a bare proxy run with -pprof.
	profile string

	mu  sync.Mutex
	log bytes.Buffer // the last output, for errors
}

// startProc starts bin and returns once one of its output lines matches
// ready, with the line's first submatch.
func startProc(name string, env []string, ready *regexp.Regexp,
	bin string, args ...string) (*proc, string, error) {

	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if p.log.Len() > 64<<10 {
				p.log.Reset()
			}
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := ready.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, pr)
		close(found)
	}()
	select {
	case v, ok := <-found:
		if ok {
			return p, v, nil
		}
	case <-time.After(60 * time.Second):
	}
	p.stop()
	return nil, "", fmt.Errorf("%s did not start:\n%s", name, p.output())
}

// output returns what the process printed last.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// pid is the process's ID.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop ends the process: SIGTERM, then SIGKILL after 5 seconds.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// rssKiB reads a process's resident set size from /proc.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v),
				"kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// goBuild builds pkg of the module in root into out, without cgo as
// make build does.
func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// cpuTime is the CPU time (user and system) a process has used so far,
// from /proc; 0 when it cannot be read.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's ")": state is the first, utime
	// and stime the 12th and 13th, in clock ticks (100 a second).
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
