package benchload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// Load is how hard a load generator pushes: Threads OS threads (wrk,
// h2load) and Conns connections, for Duration.
type Load struct {
	Threads, Conns int
	Duration       time.Duration
}

// Rate is one load run's outcome: requests per second, and how many
// answers were not the one expected (non-2xx, errors).
type Rate struct {
	PerSec float64
	Bad    int64
	Err    error // the first bad answer's, when known
}

// generator runs one load against a URL (or address) with a header.
type generator func(ctx context.Context, l Load, url, header string) (Rate,
	error)

// wrk runs wrk (HTTP/1.1) against url.
func wrk(ctx context.Context, l Load, url, header string) (Rate, error) {
	out, err := runWrk(ctx, l, url, header)
	if err != nil {
		return Rate{}, err
	}
	return parseWrk(out)
}

// runWrk runs wrk against url with extra arguments before it, and
// returns its report.
func runWrk(ctx context.Context, l Load, url, header string,
	extra ...string) (string, error) {

	args := []string{"-t" + strconv.Itoa(l.Threads),
		"-c" + strconv.Itoa(l.Conns),
		"-d" + strconv.Itoa(int(l.Duration.Seconds())) + "s"}
	if header != "" {
		args = append(args, "-H", header)
	}
	args = append(append(args, extra...), url)
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return string(out), nil
}

// wrkStatusScript is the Lua script wrkStatus gives wrk: each thread
// counts the answers whose status is not the one wanted (%d), and the
// total is printed at the end as "answers not wanted: N".
const wrkStatusScript = `local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) unwanted = 0 end
function response(status, headers, body)
  if status ~= %d then unwanted = unwanted + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("unwanted") end
  io.write(string.format("answers not wanted: %%d\n", n))
end
`

// wrkStatus runs wrk against url counting the answers with status want
// as good (the issuance mode's 402s, which wrk alone counts as
// non-2xx): a generator in C, so that the load's own CPU, which the
// bare gRPC client it is compared with does not pay, takes as little of
// the two cores from lnd as wrk's does in the other figures.
func wrkStatus(dir string, want int) generator {
	return func(ctx context.Context, l Load, url, header string) (Rate,
		error) {

		script := filepath.Join(dir, fmt.Sprintf("status-%d.lua", want))
		if err := os.WriteFile(script,
			[]byte(fmt.Sprintf(wrkStatusScript, want)), 0o644); err != nil {
			return Rate{}, fmt.Errorf("wrk script: %w", err)
		}
		out, err := runWrk(ctx, l, url, header, "-s", script)
		if err != nil {
			return Rate{}, err
		}
		return parseWrkStatus(out)
	}
}

var wrkUnwanted = regexp.MustCompile(`answers not wanted: (\d+)`)

// parseWrkStatus reads the report of wrk run by wrkStatus: its rate, and
// as bad the answers not wanted and the socket errors.
func parseWrkStatus(out string) (Rate, error) {
	m := wrkUnwanted.FindStringSubmatch(out)
	if m == nil {
		return Rate{}, fmt.Errorf("wrk's script printed no count:\n%s", out)
	}
	r, err := parseWrk(wrkNon2xx.ReplaceAllString(out, ""))
	if err != nil {
		return Rate{}, err
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	r.Bad += n
	return r, nil
}

var (
	wrkRate    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read ` +
		`(\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's report.
func parseWrk(out string) (Rate, error) {
	m := wrkRate.FindStringSubmatch(out)
	if m == nil {
		return Rate{}, fmt.Errorf("wrk printed no rate:\n%s", out)
	}
	r := Rate{}
	r.PerSec, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.Bad += n
	}
	if m := wrkSockErr.FindStringSubmatch(out); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			r.Bad += n
		}
	}
	return r, nil
}

// h2load runs nghttp2's h2load (HTTP/2; TLS for https URLs) against
// url, one stream per connection at a time, as wrk does.
func h2load(ctx context.Context, l Load, url, header string) (Rate, error) {
	args := []string{"-t", strconv.Itoa(l.Threads),
		"-c", strconv.Itoa(l.Conns), "-m", "1",
		"-D", strconv.Itoa(int(l.Duration.Seconds()))}
	if header != "" {
		args = append(args, "-H", header)
	}
	out, err := exec.CommandContext(ctx, "h2load", append(args, url)...).
		CombinedOutput()
	if err != nil {
		return Rate{}, fmt.Errorf("h2load: %w\n%s", err, out)
	}
	return parseH2load(string(out))
}

var (
	h2Rate = regexp.MustCompile(`finished in [^,]+, ([0-9.]+) req/s`)
	h2Reqs = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ ` +
		`done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Codes = regexp.MustCompile(`status codes: \d+ 2xx, (\d+) 3xx, (\d+) ` +
		`4xx, (\d+) 5xx`)
)

// parseH2load reads h2load's report.
func parseH2load(out string) (Rate, error) {
	m := h2Rate.FindStringSubmatch(out)
	if m == nil {
		return Rate{}, fmt.Errorf("h2load printed no rate:\n%s", out)
	}
	r := Rate{}
	r.PerSec, _ = strconv.ParseFloat(m[1], 64)
	for _, re := range []*regexp.Regexp{h2Reqs, h2Codes} {
		if m := re.FindStringSubmatch(out); m != nil {
			for _, v := range m[1:] {
				n, _ := strconv.ParseInt(v, 10, 64)
				r.Bad += n
			}
		}
	}
	return r, nil
}

// grpcUnary calls EchoMethod at addr (h2c) from l.Conns goroutines over
// l.Threads connections, with the header as the call's authorization
// metadata.
func grpcUnary(ctx context.Context, l Load, addr, header string) (Rate,
	error) {

	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range max(l.Threads, 1) {
		c, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return Rate{}, err
		}
		conns = append(conns, c)
	}
	if header != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization",
			header)
	}
	return loop(ctx, l, func(ctx context.Context, i int) error {
		req := &lndrpc.PayReqString{PayReq: "ping"}
		resp := &lndrpc.PayReqString{}
		if err := conns[i%len(conns)].Invoke(ctx, EchoMethod, req,
			resp); err != nil {
			return err
		}
		if resp.PayReq != req.PayReq {
			return errors.New("echo answered another message")
		}
		return nil
	})
}

// loop calls call from l.Conns goroutines for l.Duration and returns the
// rate of calls that returned nil; the others are Bad (the first error
// is returned when every call failed). Calls in flight at the end are
// let finish and counted.
func loop(ctx context.Context, l Load, call func(ctx context.Context,
	worker int) error) (Rate, error) {

	var stop atomic.Bool
	timer := time.AfterFunc(l.Duration, func() { stop.Store(true) })
	defer timer.Stop()
	var good, bad atomic.Int64
	var (
		mu       sync.Mutex
		firstErr error
	)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range l.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				if err := call(ctx, w); err != nil {
					bad.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				good.Add(1)
			}
		}()
	}
	wg.Wait()
	r := Rate{PerSec: float64(good.Load()) / time.Since(start).Seconds(),
		Bad: bad.Load(), Err: firstErr}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if good.Load() == 0 && firstErr != nil {
		return r, firstErr
	}
	return r, nil
}
