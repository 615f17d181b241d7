package benchload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// Options configure one `make bench-load`.
type Options struct {
	// Mode is "" (the paid and free paths over HTTP/1.1, HTTP/2 with
	// TLS and gRPC, the cached fetch against curl, and l402 version),
	// "issuance" (challenges per second against lnd's own AddInvoice
	// rate, on regtest) or "rss" (serve's RSS over a long paid-path
	// load).
	Mode string

	// L402 is the l402 binary measured; built from Root when empty.
	// Before, when set, is another (main's, say), alternated with it
	// in every round.
	L402, Before string

	// Root is the module's directory, where the binaries are built.
	Root string

	// Self is the harness's own binary, run again as the backend.
	Self string

	// Rounds is how many times each target is measured, alternating;
	// Load is each measurement's (Duration is the whole run in rss
	// mode); Runs is how many times each process is timed.
	Rounds int
	Load   Load
	Runs   int

	// Out receives the report.
	Out io.Writer

	// CPUProfile, when set, is a directory that receives a CPU profile
	// of each serve process during its first measured run of each
	// figure (serve's profile key, pprof on localhost).
	CPUProfile string

	// ServeExtra is appended to every serve.yaml (top-level keys), for
	// experiments: "idletimeout: 0\n", say.
	ServeExtra string

	// Only, when set, runs only the figures whose name contains it
	// (case-insensitive; "start-up" for the start-up figures).
	Only string
}

// bench is one harness run: its directory, the processes it started,
// and the in-memory network its fake lnds answer from.
type bench struct {
	opts   Options
	dir    string
	procs  []*proc
	net    *lightning.MemoryNetwork
	seller *lightning.MemoryNode
	buyer  *lightning.MemoryNode
	sLnd   *FakeLnd // the seller's, for serve
	bLnd   *FakeLnd // the buyer's, for fetch

	bareProxy string // bareproxy's binary
	httpAddr  string // the backend's HTTP and gRPC addresses
	grpcAddr  string
}

// Run runs the harness in opts.Mode and prints its report.
func Run(ctx context.Context, opts Options) error {
	if opts.Rounds <= 0 {
		opts.Rounds = 3
	}
	if opts.Runs <= 0 {
		opts.Runs = 30
	}
	dir, err := os.MkdirTemp("", "l402-bench-load-")
	if err != nil {
		return err
	}
	b := &bench{opts: opts, dir: dir}
	defer b.close()
	if err := b.build(ctx); err != nil {
		return err
	}
	switch opts.Mode {
	case "", "quick":
		return b.quick(ctx)
	case "issuance":
		return b.issuance(ctx)
	case "rss":
		return b.rss(ctx)
	case "env":
		return b.env(ctx)
	}
	return fmt.Errorf("unknown mode %q (want quick, issuance, rss or env)",
		opts.Mode)
}

// close stops every process the harness started, by PID, and removes
// its directory.
func (b *bench) close() {
	for i := len(b.procs) - 1; i >= 0; i-- {
		b.procs[i].stop()
	}
	if b.sLnd != nil {
		b.sLnd.Stop()
	}
	if b.bLnd != nil {
		b.bLnd.Stop()
	}
	os.RemoveAll(b.dir)
}

// printf writes one line of the report.
func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(b.opts.Out, format, args...)
}

// build builds l402 (unless given) and the bare proxy, and runs both
// l402 binaries from copies written alike (copyBinary).
func (b *bench) build(ctx context.Context) error {
	built := b.opts.L402
	if built == "" {
		built = filepath.Join(b.dir, "l402-built")
		if err := goBuild(ctx, b.opts.Root, built, "./cmd/l402"); err != nil {
			return err
		}
	}
	b.opts.L402 = filepath.Join(b.dir, "l402")
	if err := copyBinary(built, b.opts.L402); err != nil {
		return err
	}
	if b.opts.Before != "" {
		before := filepath.Join(b.dir, "l402-before")
		if err := copyBinary(b.opts.Before, before); err != nil {
			return err
		}
		b.opts.Before = before
	}
	b.bareProxy = filepath.Join(b.dir, "bareproxy")
	return goBuild(ctx, b.opts.Root, b.bareProxy,
		"./internal/benchload/cmd/bareproxy")
}

// copyBinary copies the executable src to dst with read(2) and
// write(2), as cat would (the wrappers keep io.Copy off copy_file_range
// and sendfile). The start-up figures time whole processes, whose page
// faults on the binary depend on how its file's page cache was filled:
// a binary the Go linker has just written (through mmap) took 9% more
// CPU time per start than a byte-identical copy (docs/benchmarks.md,
// fourth pass), which favoured an older -before binary over a fresh
// build.
func copyBinary(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(struct{ io.Writer }{out}, struct{ io.Reader }{in}); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}

// startBackend starts the backend process.
func (b *bench) startBackend() error {
	p, addrs, err := startProc("backend", nil,
		regexp.MustCompile(`^backend (\S+ \S+)$`), b.opts.Self, "backend")
	if err != nil {
		return err
	}
	b.procs = append(b.procs, p)
	b.httpAddr, b.grpcAddr, _ = strings.Cut(addrs, " ")
	return nil
}

// startFakeLnds starts the seller's and the buyer's fake lnd.
func (b *bench) startFakeLnds() error {
	b.net = lightning.NewMemoryNetwork()
	var err error
	if b.seller, err = b.net.NewNode("seller", "regtest"); err != nil {
		return err
	}
	if b.buyer, err = b.net.NewNode("buyer", "regtest"); err != nil {
		return err
	}
	if b.sLnd, err = StartFakeLnd(filepath.Join(b.dir, "seller"),
		b.seller); err != nil {
		return err
	}
	b.bLnd, err = StartFakeLnd(filepath.Join(b.dir, "buyer"), b.buyer)
	return err
}

// serveConfig is a serve.yaml for the benchmarks: plain HTTP (h2c for
// gRPC) or TLS, SQLite, logging errors only, no challenge limit; the
// api service at /api/ (free under /api/free/) and the grpc service
// of the backend's echo method.
func serveConfig(basedir string, tls bool, lndHost, lndCert, macDir,
	network, httpAddr, grpcAddr string) string {

	return fmt.Sprintf(`listenaddr: "127.0.0.1:0"
insecure: %t
debuglevel: error
basedir: %q
dbbackend: sqlite
sqlite:
  dbfile: %q
challengelimit:
  disable: true
authenticator:
  network: %s
  lndhost: %q
  tlspath: %q
  macdir: %q
services:
  - name: api
    hostregexp: ".*"
    pathregexp: "^/api/"
    address: %q
    protocol: http
    price: 1
    authwhitelistpaths: ["^/api/free/"]
  - name: grpc
    hostregexp: ".*"
    pathregexp: "^/bench[.]Echo/"
    address: %q
    protocol: http
    price: 1
`, !tls, basedir, filepath.Join(basedir, "serve.db"), network, lndHost,
		lndCert, macDir, httpAddr, grpcAddr)
}

// listening finds the address in l402 serve's start-up line.
var listening = regexp.MustCompile(`listening on https?://(\S+),`)

// startServe starts `l402 serve` with a config and returns its address.
func (b *bench) startServe(label, bin, dir, config string) (*proc, string,
	error) {

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, "", err
	}
	p, addr, err := startProc(label, []string{"L402_HOME=" + dir},
		listening, bin, "serve", "--config", path)
	if err != nil {
		return nil, "", err
	}
	b.procs = append(b.procs, p)
	return p, addr, nil
}

// startBare starts the bare proxy to target and returns its address.
// With -cpuprofile it serves pprof too, on the port p.profile names.
func (b *bench) startBare(label, target string, args ...string) (*proc,
	string, error) {

	prof := ""
	if b.opts.CPUProfile != "" {
		_, base, err := profileKey()
		if err != nil {
			return nil, "", err
		}
		prof = base
		args = append(args, "-pprof",
			strings.TrimPrefix(base, "http://"))
	}
	p, addr, err := startProc(label, nil,
		regexp.MustCompile(`^listening on (\S+)$`), b.bareProxy,
		append([]string{"-target", target}, args...)...)
	if err != nil {
		return nil, "", err
	}
	p.profile = prof
	b.procs = append(b.procs, p)
	return p, addr, nil
}

// insecureClient trusts any certificate: serve's and the bare proxy's
// are self-signed.
var insecureClient = &http.Client{Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// buyToken gets the 402 of url, pays its invoice with the buyer node and
// returns the Authorization value of the token, checked to be let
// through by check, or by a GET of url when check is nil.
func (b *bench) buyToken(ctx context.Context, url string,
	check func(auth string) error) (string, error) {

	resp, err := insecureClient.Get(url)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPaymentRequired {
		return "", fmt.Errorf("%s: %d, want 402", url, resp.StatusCode)
	}
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return "", err
	}
	p, err := b.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: chs[0].Invoice, MaxFeeSat: 10})
	if err != nil {
		return "", err
	}
	auth, err := l402.Credential{Macaroon: chs[0].Macaroon,
		Preimage: p.Preimage}.Authorization()
	if err != nil {
		return "", err
	}
	if check != nil {
		return auth, check(auth)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", auth)
	resp, err = insecureClient.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s with the token bought: %d", url,
			resp.StatusCode)
	}
	return auth, nil
}

// instance is one l402 binary under test, started plain and with TLS,
// with a token for each of its services.
type instance struct {
	label           string
	bin             string
	plain, tls      string // addresses
	plainPID        int
	tlsPID          int
	plainProf       string // pprof's base URL, with -cpuprofile
	tlsProf         string
	apiAuth         string // the plain instance's api token
	apiAuthTLS      string // the TLS instance's
	grpcAuth        string // the plain instance's grpc token
	fetchHome       string // L402_HOME of its fetch runs
	fetchConfigPath string
}

// startInstance starts bin's plain and TLS serve and buys its tokens.
func (b *bench) startInstance(ctx context.Context, label, bin string) (
	in *instance, err error) {

	in = &instance{label: label, bin: bin}
	dir := filepath.Join(b.dir, label)
	plainCfg := serveConfig(filepath.Join(dir, "plain"), false, b.sLnd.Host,
		b.sLnd.CertPath, b.sLnd.MacaroonDir, "regtest", b.httpAddr,
		b.grpcAddr)
	tlsCfg := serveConfig(filepath.Join(dir, "tls"), true, b.sLnd.Host,
		b.sLnd.CertPath, b.sLnd.MacaroonDir, "regtest", b.httpAddr,
		b.grpcAddr)
	plainCfg += b.opts.ServeExtra
	tlsCfg += b.opts.ServeExtra
	if b.opts.CPUProfile != "" {
		var extra string
		if extra, in.plainProf, err = profileKey(); err != nil {
			return nil, err
		}
		plainCfg += extra
		if extra, in.tlsProf, err = profileKey(); err != nil {
			return nil, err
		}
		tlsCfg += extra
	}
	p, addr, err := b.startServe(label, bin, filepath.Join(dir, "plain"),
		plainCfg)
	if err != nil {
		return nil, err
	}
	in.plain, in.plainPID = addr, p.pid()
	if p, in.tls, err = b.startServe(label+" tls", bin,
		filepath.Join(dir, "tls"), tlsCfg); err != nil {
		return nil, err
	}
	in.tlsPID = p.pid()
	if in.apiAuth, err = b.buyToken(ctx, "http://"+in.plain+
		"/api/data", nil); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if in.apiAuthTLS, err = b.buyToken(ctx, "https://"+in.tls+
		"/api/data", nil); err != nil {
		return nil, fmt.Errorf("%s tls: %w", label, err)
	}
	if in.grpcAuth, err = b.buyToken(ctx, "http://"+in.plain+EchoMethod,
		func(auth string) error {
			_, err := grpcUnary(ctx, Load{Threads: 1, Conns: 1,
				Duration: 200 * time.Millisecond}, in.plain, auth)
			return err
		}); err != nil {
		return nil, fmt.Errorf("%s grpc: %w", label, err)
	}
	return in, nil
}

// instances starts the binary measured and, with Before, the other.
func (b *bench) instances(ctx context.Context) ([]*instance, error) {
	var out []*instance
	in, err := b.startInstance(ctx, "serve", b.opts.L402)
	if err != nil {
		return nil, err
	}
	out = append(out, in)
	if b.opts.Before != "" {
		in, err := b.startInstance(ctx, "serve@before", b.opts.Before)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// quick is the default mode.
func (b *bench) quick(ctx context.Context) error {
	if err := b.startBackend(); err != nil {
		return err
	}
	if err := b.startFakeLnds(); err != nil {
		return err
	}
	ins, err := b.instances(ctx)
	if err != nil {
		return err
	}
	pPlain, barePlain, err := b.startBare("bare", b.httpAddr)
	if err != nil {
		return err
	}
	tlsDir := filepath.Join(b.dir, "serve", "tls")
	pTLS, bareTLS, err := b.startBare("bare tls", b.httpAddr, "-cert",
		filepath.Join(tlsDir, "tls.cert"), "-key",
		filepath.Join(tlsDir, "tls.key"))
	if err != nil {
		return err
	}
	pGRPC, bareGRPC, err := b.startBare("bare grpc", b.grpcAddr, "-h2c")
	if err != nil {
		return err
	}

	l := b.opts.Load
	wrkDesc := fmt.Sprintf("wrk -t%d -c%d -d%s", l.Threads, l.Conns,
		l.Duration)
	h2Desc := fmt.Sprintf("h2load -t%d -c%d -m1 -D%s", l.Threads,
		l.Conns, l.Duration)
	grpcDesc := fmt.Sprintf("Go gRPC client, %d conns, %d calls in "+
		"flight, %s", l.Threads, l.Conns, l.Duration)
	scenarios := []scenario{
		{name: "HTTP/1.1 paid path", how: wrkDesc, gen: wrk,
			targets: b.targets(pPlain, barePlain, ins, "http://%s/api/data",
				false, func(in *instance) string { return "Authorization: " + in.apiAuth })},
		{name: "HTTP/1.1 free path (whitelisted)", how: wrkDesc, gen: wrk,
			targets: b.targets(pPlain, barePlain, ins, "http://%s/api/free/data",
				false, nil)},
		{name: "HTTP/2 TLS paid path", how: h2Desc, gen: h2load,
			targets: b.targets(pTLS, bareTLS, ins, "https://%s/api/data",
				true, func(in *instance) string { return "authorization: " + in.apiAuthTLS })},
		{name: "HTTP/2 TLS free path (whitelisted)", how: h2Desc, gen: h2load,
			targets: b.targets(pTLS, bareTLS, ins, "https://%s/api/free/data",
				true, nil)},
		{name: "gRPC unary paid (h2c)", how: grpcDesc, gen: grpcUnary,
			targets: b.targets(pGRPC, bareGRPC, ins, "%s",
				false, func(in *instance) string { return in.grpcAuth })},
	}
	b.printf("l402 bench-load: %d rounds, targets alternated in each; "+
		"ratios are against the bare proxy of the same round\n",
		b.opts.Rounds)
	for _, s := range scenarios {
		if !b.wanted(s.name) {
			continue
		}
		if err := b.runScenario(ctx, s); err != nil {
			return err
		}
	}
	if err := b.payment(ctx, pPlain, barePlain); err != nil {
		return err
	}
	if !b.wanted("Start-up") {
		return nil
	}
	return b.startup(ctx, ins)
}

// env starts what the quick mode measures, prints how to reach it and
// waits until interrupted: for profiling by hand (perf, strace, pprof).
func (b *bench) env(ctx context.Context) error {
	if err := b.startBackend(); err != nil {
		return err
	}
	if err := b.startFakeLnds(); err != nil {
		return err
	}
	ins, err := b.instances(ctx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		env, err := b.fetchHome(ctx, in)
		if err != nil {
			return err
		}
		b.printf("%s: plain http://%s (pid %d), tls https://%s\n"+
			"  curl -H 'Authorization: %s' http://%s/api/data\n"+
			"  %s %s fetch -q http://%s/api/data\n", in.label, in.plain,
			in.plainPID, in.tls, in.apiAuth, in.plain, env[0], in.bin,
			in.plain)
	}
	b.printf("backend http://%s, grpc %s; Ctrl-C stops\n", b.httpAddr,
		b.grpcAddr)
	<-ctx.Done()
	return nil
}

// targets lists the bare proxy first, then each instance (its TLS
// process with tls), for one scenario: url is a format for the
// address, header gives the instance's credential (none for the bare
// proxy, which checks none).
func (b *bench) targets(bareProc *proc, bare string, ins []*instance,
	url string, tls bool, header func(*instance) string) []target {

	out := []target{{name: "bare proxy", url: fmt.Sprintf(url, bare),
		pid: bareProc.pid(), profile: bareProc.profile}}
	for _, in := range ins {
		t := target{name: in.label, url: fmt.Sprintf(url, in.plain),
			profile: in.plainProf, pid: in.plainPID}
		if tls {
			t.url, t.profile = fmt.Sprintf(url, in.tls), in.tlsProf
			t.pid = in.tlsPID
		}
		if header != nil {
			t.header = header(in)
		}
		out = append(out, t)
	}
	return out
}

// wanted reports whether the figure named name is to be run.
func (b *bench) wanted(name string) bool {
	return b.opts.Only == "" || strings.Contains(strings.ToLower(name),
		strings.ToLower(b.opts.Only))
}

// errBad is a load run that got answers it should not have.
var errBad = errors.New("unexpected answers")

// runScenario warms every target up, then measures them in rounds,
// rotating their order each round, and prints the rates and ratios.
func (b *bench) runScenario(ctx context.Context, s scenario) error {
	warm := b.opts.Load
	warm.Duration = time.Second
	for _, t := range s.targets {
		if _, err := s.gen(ctx, warm, t.url, t.header); err != nil {
			return fmt.Errorf("%s, %s: %w", s.name, t.name, err)
		}
	}
	rates := make([][]float64, len(s.targets))
	cpus := make([][]float64, len(s.targets))
	for r := range b.opts.Rounds {
		for k := range s.targets {
			i := (k + r) % len(s.targets)
			t := s.targets[i]
			var prof chan error
			if r == 0 && t.profile != "" {
				prof = b.profile(t, s.name)
			}
			cpu0 := cpuTime(t.pid)
			rate, err := s.gen(ctx, b.opts.Load, t.url, t.header)
			cpu := cpuTime(t.pid) - cpu0
			if prof != nil {
				if perr := <-prof; perr != nil {
					return fmt.Errorf("%s, %s: profile: %w", s.name, t.name,
						perr)
				}
			}
			if err != nil {
				return fmt.Errorf("%s, %s: %w", s.name, t.name, err)
			}
			if rate.Bad > 0 {
				if rate.Err != nil {
					return fmt.Errorf("%s, %s: %w: %d, the first: %w",
						s.name, t.name, errBad, rate.Bad, rate.Err)
				}
				return fmt.Errorf("%s, %s: %w: %d", s.name, t.name, errBad,
					rate.Bad)
			}
			rates[i] = append(rates[i], rate.PerSec)
			if n := rate.PerSec * b.opts.Load.Duration.Seconds(); n > 0 &&
				t.pid != 0 {
				cpus[i] = append(cpus[i], float64(cpu.Microseconds())/n)
			}
		}
	}
	b.printf("\n%s (%s)\n", s.name, s.how)
	printRates(b.opts.Out, s.targets, rates, cpus)
	return nil
}

// profileKey returns serve.yaml's profile line for a free port, and
// pprof's base URL on it.
func profileKey() (string, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return fmt.Sprintf("profile: %d\n", port),
		fmt.Sprintf("http://localhost:%d", port), nil
}

// profile fetches a CPU profile of t's serve for most of a measured run
// into the CPUProfile directory; the channel says when it is written.
func (b *bench) profile(t target, scenario string) chan error {
	done := make(chan error, 1)
	secs := max(1, int(b.opts.Load.Duration.Seconds())-1)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, scenario+" "+t.name) + ".pprof"
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?"+
			"seconds=%d", t.profile, secs))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if err := os.MkdirAll(b.opts.CPUProfile, 0o755); err != nil {
			done <- err
			return
		}
		f, err := os.Create(filepath.Join(b.opts.CPUProfile, name))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}
