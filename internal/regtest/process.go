package regtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// process is one child program of the stack.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	pidPath string
	done    chan struct{}
	err     error // set before done is closed
}

// startProcess starts bin with args, its output going to logPath. The child
// gets SIGKILL should this process die without stopping it, and its PID is
// written to pidPath so that a stack left behind can be found.
func startProcess(name, bin string, args []string, logPath,
	pidPath string) (*process, error) {

	logFile, err := os.OpenFile(logPath,
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}

	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("unable to start %s: %w", name, err)
	}

	p := &process{
		name:    name,
		cmd:     cmd,
		logPath: logPath,
		pidPath: pidPath,
		done:    make(chan struct{}),
	}
	err = os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"),
		0o644)
	if err != nil {
		cmd.Process.Kill()
	}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	if err != nil {
		<-p.done
		return nil, err
	}
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end with SIGTERM and kills it after the grace
// period.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		os.Remove(p.pidPath)
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		// The whole process group, in case it started children.
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	os.Remove(p.pidPath)
}

// diedError describes a process that ended while it was needed.
func (p *process) diedError() error {
	return fmt.Errorf("%s %w (%v); last lines of %s:\n%s", p.name,
		errStopped, p.err, p.logPath, tail(p.logPath, 15))
}

// killLeftovers kills processes whose PID files remain in dir from a run
// that could not stop them, when the PID still belongs to one of the
// given binaries (a PID can be reused by an unrelated process).
func killLeftovers(dir string, bins ...string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(trimNewline(b)))
		if err == nil && pid > 1 && runsOneOf(pid, bins) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		os.Remove(f)
	}
}

// runsOneOf reports whether process pid runs one of the binaries, as far
// as /proc tells.
func runsOneOf(pid int, bins []string) bool {
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		return false
	}
	for _, b := range bins {
		if exe == b {
			return true
		}
	}
	return false
}

// trimNewline drops trailing newlines.
func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
