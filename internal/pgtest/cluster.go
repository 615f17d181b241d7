package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/store"
)

// clusterUser is the superuser of a throwaway cluster; it logs in without
// a password (trust) on 127.0.0.1 only.
const clusterUser = "l402"

// dirPrefix starts the name of every throwaway cluster's directory, so
// that those of dead test binaries can be found and removed.
const dirPrefix = "l402-pgtest-"

// readyTimeout bounds the wait for a new cluster to accept connections.
const readyTimeout = 30 * time.Second

// credential is the system user initdb and postgres run as.
type credential struct {
	name     string
	uid, gid int
}

// cluster is a throwaway Postgres cluster in a temporary directory.
type cluster struct {
	dir    string // holds data/, the socket, postgres.log and owner
	port   int
	proc   *os.Process
	exited chan error // receives postgres's exit
}

// startCluster creates a cluster with initdb and starts postgres on a
// free port of 127.0.0.1.
func startCluster() (*cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	runAs, err := clusterCredential()
	if err != nil {
		return nil, err
	}
	sweepStale()

	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := prepareDir(dir, runAs); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := initdb(bin, dir, runAs); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	// Another process may take the free port before postgres binds it:
	// then postgres exits at once and another port is tried.
	for attempt := 1; ; attempt++ {
		c, err := startPostgres(bin, dir, runAs)
		if err == nil {
			return c, nil
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// prepareDir records the test binary's pid in dir, for sweepStale, and
// hands dir to the user postgres runs as.
func prepareDir(dir string, runAs *credential) error {
	owner := filepath.Join(dir, "owner")
	if err := os.WriteFile(owner, []byte(strconv.Itoa(os.Getpid())),
		0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if runAs == nil {
		return nil
	}
	if err := os.Chown(dir, runAs.uid, runAs.gid); err != nil {
		return fmt.Errorf("pgtest: unable to give %s to user %s: %w", dir,
			runAs.name, err)
	}
	return nil
}

// initdb creates the cluster's data directory.
func initdb(bin, dir string, runAs *credential) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", filepath.Join(dir, "data"), "-A", "trust", "-U", clusterUser,
		"--no-sync", "-E", "UTF8", "--locale=C")
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = sysProcAttr(runAs, false)
	out, err := cmd.CombinedOutput()
	if err != nil {
		hint := ""
		if runAs != nil {
			hint = fmt.Sprintf(" (user %s must be able to reach %s)",
				runAs.name, dir)
		}
		return fmt.Errorf("pgtest: initdb failed%s: %w\n%s", hint, err, out)
	}
	return nil
}

// errPortTaken says postgres could not bind its port.
var errPortTaken = errors.New("port taken")

// startPostgres starts postgres on a free port and waits until it accepts
// connections.
func startPostgres(bin, dir string, runAs *credential) (*cluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("pgtest: no free port: %w", err)
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer logFile.Close()

	// Durability is worth nothing in a throwaway cluster.
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", filepath.Join(dir, "data"), "-h", "127.0.0.1",
		"-p", strconv.Itoa(port), "-k", dir, "-F",
		"-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(runAs, true)
	exited, err := spawn(cmd)
	if err != nil {
		return nil, fmt.Errorf("pgtest: unable to start postgres: %w", err)
	}

	c := &cluster{dir: dir, port: port, proc: cmd.Process, exited: exited}
	if err := c.waitReady(logPath); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// spawn starts cmd from a goroutine that keeps its OS thread until cmd
// exits. The kernel sends a Pdeathsig when the thread that started the
// child ends, not the process, and the Go runtime may end threads: this
// one lives exactly as long as postgres, or the test binary.
func spawn(cmd *exec.Cmd) (chan error, error) {
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}

// waitReady waits until the cluster accepts connections, or fails with
// its log when postgres exits or the deadline passes.
func (c *cluster) waitReady(logPath string) error {
	opts := store.PostgresOptions{Host: "127.0.0.1", Port: c.port,
		User: clusterUser, DBName: "postgres"}
	db, err := sql.Open("pgx", opts.DSN())
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer db.Close()

	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case exitErr := <-c.exited:
			c.exited <- exitErr
			log := readLog(logPath)
			if strings.Contains(log, "could not bind") ||
				strings.Contains(log, "already in use") {
				return fmt.Errorf("pgtest: %w: %d", errPortTaken, c.port)
			}
			return fmt.Errorf("pgtest: postgres exited (%v); its log:\n%s",
				exitErr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres did not accept connections "+
				"on 127.0.0.1:%d within %v: %v; its log:\n%s", c.port,
				readyTimeout, err, readLog(logPath))
		}
	}
}

// stop shuts the cluster down (fast shutdown, then a kill after ten
// seconds) and removes its directory.
func (c *cluster) stop() {
	c.proc.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.kill()
	}
	os.RemoveAll(c.dir)
}

// kill kills postgres and waits for it to go.
func (c *cluster) kill() {
	c.proc.Kill()
	<-c.exited
}

// readLog returns the server's log, or why it cannot be read.
func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// childEnv is the environment of initdb and postgres: ours without PG*
// variables, which would override the command line, and with the C
// locale.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") ||
			strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// binGlob finds the initdb of Debian's Postgres packages.
var binGlob = "/usr/lib/postgresql/*/bin/initdb"

// findBinaries returns the directory holding initdb and postgres: the one
// on PATH, or else the newest /usr/lib/postgresql/<version>/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	found, _ := filepath.Glob(binGlob)
	if len(found) == 0 {
		return "", fmt.Errorf("pgtest: %w: no initdb and postgres on PATH "+
			"or in /usr/lib/postgresql/*/bin: %s", errNoPostgres, advice)
	}
	sort.Slice(found, func(i, j int) bool {
		return versionLess(pathVersion(found[i]), pathVersion(found[j]))
	})
	return filepath.Dir(found[len(found)-1]), nil
}

// pathVersion returns the version in /usr/lib/postgresql/<version>/bin/x.
func pathVersion(p string) string {
	return filepath.Base(filepath.Dir(filepath.Dir(p)))
}

// versionLess compares dotted versions such as 9.6 and 15 numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// sweepStale removes the directories of throwaway clusters whose test
// binary and postgres are both gone (killed before they could clean up).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		// A directory without its owner file yet may be another test
		// binary's, just made.
		owner := filepath.Join(dir, "owner")
		if _, err := os.Stat(owner); err != nil && young(dir) {
			continue
		}
		if pidAlive(owner) ||
			pidAlive(filepath.Join(dir, "data", "postmaster.pid")) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// pidAlive reports whether the process whose pid starts the file at path
// may still run; an unreadable file counts as dead.
func pidAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return false
	}
	return processAlive(pid)
}

// young reports whether path changed in the last minute.
func young(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && time.Since(fi.ModTime()) < time.Minute
}
