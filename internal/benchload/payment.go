package benchload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
)

// The Payment scheme's figures (issue 11): serve with `authscheme: mpp`
// on its api service, against the bare proxy. A session pays every
// request from one deposit with the same bearer credential, so wrk can
// send it; a charge credential is single-use, so a Go client sends each
// of a stock bought beforehand once.

// sessionMultiplier makes a session's deposit (price 1 sat times this)
// outlast every run: ten million requests.
const sessionMultiplier = 10_000_000

// paymentServeConfig is serveConfig with the Payment scheme on: charges
// and sessions, the api service selling through it only.
func paymentServeConfig(basedir, lndHost, lndCert, macDir, httpAddr,
	grpcAddr, authExtra string) string {

	cfg := serveConfig(basedir, false, lndHost, lndCert, macDir, "regtest",
		httpAddr, grpcAddr)
	cfg = strings.Replace(cfg, "authenticator:\n", fmt.Sprintf(
		"authenticator:\n  enablempp: true\n  enablesessions: true\n"+
			"  sessiondepositmultiplier: %d\n%s", sessionMultiplier,
		authExtra), 1)
	return strings.Replace(cfg, "    price: 1\n",
		"    price: 1\n    authscheme: mpp\n", 1)
}

// paymentInstance is one l402 binary serving the Payment scheme, with
// the bearer credential of a session opened on it.
type paymentInstance struct {
	label, bin string
	addr       string
	pid        int
	profile    string
	bearer     string // the session's Authorization value
}

// startPayment starts bin's serve with the Payment scheme (and
// authExtra's keys in its authenticator section) and opens a session on
// it.
func (b *bench) startPayment(ctx context.Context, label, bin,
	authExtra string) (*paymentInstance, error) {

	pi := &paymentInstance{label: label, bin: bin}
	dir := filepath.Join(b.dir, label)
	cfg := paymentServeConfig(dir, b.sLnd.Host, b.sLnd.CertPath,
		b.sLnd.MacaroonDir, b.httpAddr, b.grpcAddr,
		authExtra) + b.opts.ServeExtra
	if b.opts.CPUProfile != "" {
		extra, prof, err := profileKey()
		if err != nil {
			return nil, err
		}
		cfg += extra
		pi.profile = prof
	}
	p, addr, err := b.startServe(label, bin, dir, cfg)
	if err != nil {
		return nil, err
	}
	pi.addr, pi.pid = addr, p.pid()
	if pi.bearer, err = b.openSession(ctx, "http://"+addr+
		"/api/data"); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return pi, nil
}

// paymentChallenges gets the 402 of url and returns its Payment
// challenges by intent.
func paymentChallenges(url string) (map[string]mpp.Challenge, error) {
	resp, err := insecureClient.Get(url)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPaymentRequired {
		return nil, fmt.Errorf("%s: %d, want 402", url, resp.StatusCode)
	}
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return nil, err
	}
	out := map[string]mpp.Challenge{}
	for _, c := range chs {
		out[c.Intent] = c
	}
	return out, nil
}

// getWith sends GET url with an Authorization value and wants a 200.
func getWith(ctx context.Context, client *http.Client, url,
	auth string) error {

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// openSession buys url's session deposit with the buyer node, opens the
// session (its first request), and returns the bearer credential's
// Authorization value, checked to be let through.
func (b *bench) openSession(ctx context.Context, url string) (string,
	error) {

	chs, err := paymentChallenges(url)
	if err != nil {
		return "", err
	}
	ch, ok := chs[mpp.IntentSession]
	if !ok {
		return "", fmt.Errorf("%s offers no session", url)
	}
	offer, err := mpp.VetSession(ch, sessionMultiplier, time.Now())
	if err != nil {
		return "", err
	}
	p, err := b.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: offer.Request.DepositInvoice, MaxFeeSat: 10})
	if err != nil {
		return "", err
	}
	ret, err := b.buyer.AddInvoice(ctx, lightning.InvoiceRequest{
		Memo: "bench-load refund"})
	if err != nil {
		return "", err
	}
	open, err := mpp.OpenCredential(ch, p.Preimage, ret.PaymentRequest)
	if err != nil {
		return "", err
	}
	auth, err := open.Authorization()
	if err != nil {
		return "", err
	}
	if err := getWith(ctx, insecureClient, url, auth); err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	bearer, err := mpp.BearerCredential(ch, p.Preimage)
	if err != nil {
		return "", err
	}
	if auth, err = bearer.Authorization(); err != nil {
		return "", err
	}
	if err := getWith(ctx, insecureClient, url, auth); err != nil {
		return "", fmt.Errorf("bearer: %w", err)
	}
	return auth, nil
}

// buyCharges buys n charge credentials for url, 32 at a time, and
// returns their Authorization values.
func (b *bench) buyCharges(ctx context.Context, url string,
	n int) ([]string, error) {

	out := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(32, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				auth, err := b.buyCharge(ctx, url)
				if err != nil {
					once.Do(func() { first = err })
					return
				}
				out[i] = auth
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, ctx.Err()
}

// buyCharge buys one charge credential as a buyer does: the challenge
// vetted, its invoice paid.
func (b *bench) buyCharge(ctx context.Context, url string) (string, error) {
	chs, err := paymentChallenges(url)
	if err != nil {
		return "", err
	}
	offer, err := mpp.VetCharge(chs[mpp.IntentCharge], 10, time.Now())
	if err != nil {
		return "", err
	}
	p, err := b.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: offer.Invoice, MaxFeeSat: 10})
	if err != nil {
		return "", err
	}
	cred, err := offer.Credential(p.Preimage)
	if err != nil {
		return "", err
	}
	return cred.Authorization()
}

// sendEach sends GETs to url from l.Conns goroutines over as many
// connections until l.Duration is up or, with auths, every value of
// auths has been sent once (each request takes the next); it returns
// the rate and how many requests were answered.
func sendEach(ctx context.Context, l Load, url string,
	auths []string) (Rate, int64, error) {

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: l.Conns}}
	defer client.CloseIdleConnections()
	var stop atomic.Bool
	timer := time.AfterFunc(l.Duration, func() { stop.Store(true) })
	defer timer.Stop()
	var next, good, bad atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	for range l.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				auth := ""
				if auths != nil {
					i := next.Add(1) - 1
					if i >= int64(len(auths)) {
						return
					}
					auth = auths[i]
				}
				if err := getWith(ctx, client, url, auth); err != nil {
					bad.Add(1)
					once.Do(func() { first = err })
					continue
				}
				good.Add(1)
			}
		}()
	}
	wg.Wait()
	r := Rate{PerSec: float64(good.Load()) / time.Since(start).Seconds(),
		Bad: bad.Load(), Err: first}
	return r, good.Load() + bad.Load(), ctx.Err()
}

// payment runs the Payment scheme's figures: the session paid path
// under wrk, and the charge paid path with a Go client, each against
// the bare proxy (bare, its process bareProc) of the same round.
func (b *bench) payment(ctx context.Context, bareProc *proc,
	bare string) error {

	const session, charge = "Payment session paid path",
		"Payment charge paid path"
	if !b.wanted(session) && !b.wanted(charge) {
		return nil
	}
	bins := []struct{ label, bin string }{{"serve", b.opts.L402}}
	if b.opts.Before != "" {
		bins = append(bins, struct{ label, bin string }{"serve@before",
			b.opts.Before})
	}
	var pis []*paymentInstance
	for _, x := range bins {
		pi, err := b.startPayment(ctx, x.label+" mpp", x.bin, "")
		if err != nil {
			return err
		}
		pi.label = x.label
		pis = append(pis, pi)
	}
	// The session figure also runs the measured binary with every draw
	// written and synced before its request goes on, its strictest
	// setting: a "before" binary may not know the key.
	sessionPIs := pis
	if b.wanted(session) {
		pi, err := b.startPayment(ctx, "serve written mpp", b.opts.L402,
			"  sessionwriteinterval: 0s\n")
		if err != nil {
			return err
		}
		pi.label = "serve, 0s"
		sessionPIs = append([]*paymentInstance{pis[0], pi}, pis[1:]...)
	}
	ref := target{name: "bare proxy", url: "http://" + bare + "/api/data",
		pid: bareProc.pid(), profile: bareProc.profile}
	if b.wanted(session) {
		targets := []target{ref}
		for _, pi := range sessionPIs {
			targets = append(targets, target{name: pi.label,
				url: "http://" + pi.addr + "/api/data", pid: pi.pid,
				profile: pi.profile, header: "Authorization: " + pi.bearer})
		}
		l := b.opts.Load
		if err := b.runScenario(ctx, scenario{name: session,
			how: fmt.Sprintf("wrk -t%d -c%d -d%s, one session's bearer "+
				"credential; every request draws 1 sat from its balance "+
				"in SQLite; serve: its default sessionwriteinterval, "+
				"draws held in memory and written every 100ms; serve, "+
				"0s: each draw written and synced before the request "+
				"goes on", l.Threads,
				l.Conns, l.Duration), gen: wrk, targets: targets}); err != nil {
			return err
		}
	}
	if b.wanted(charge) {
		return b.chargeFigure(ctx, charge, ref, pis)
	}
	return nil
}

// chargeFigure is the charge paid path: before each run of a serve, the
// credentials it needs are bought (untimed); the run sends each once.
// A stock of a 1.5 times the warm-up's rate for the run's duration is
// bought per run; a run that uses it all up ends early, and its rate
// and CPU are of the requests it sent.
func (b *bench) chargeFigure(ctx context.Context, name string, ref target,
	pis []*paymentInstance) error {

	l := b.opts.Load
	targets := []target{ref}
	for _, pi := range pis {
		targets = append(targets, target{name: pi.label,
			url: "http://" + pi.addr + "/api/data", pid: pi.pid,
			profile: pi.profile})
	}
	// The warm-up: a second of each, from 2000 credentials, gives the
	// rate the stocks are sized by.
	warm := l
	warm.Duration = time.Second
	stock := make([]int, len(targets))
	for i, t := range targets {
		var auths []string
		if i > 0 {
			var err error
			if auths, err = b.buyCharges(ctx, t.url, 2000); err != nil {
				return fmt.Errorf("%s, %s: %w", name, t.name, err)
			}
		}
		r, _, err := sendEach(ctx, warm, t.url, auths)
		if err == nil && r.Bad > 0 {
			err = fmt.Errorf("%w: %d, the first: %w", errBad, r.Bad, r.Err)
		}
		if err != nil {
			return fmt.Errorf("%s, %s: %w", name, t.name, err)
		}
		stock[i] = max(1000, int(1.5*r.PerSec*l.Duration.Seconds()))
	}
	rates := make([][]float64, len(targets))
	cpus := make([][]float64, len(targets))
	for r := range b.opts.Rounds {
		for k := range targets {
			i := (k + r) % len(targets)
			t := targets[i]
			var auths []string
			if i > 0 {
				var err error
				if auths, err = b.buyCharges(ctx, t.url,
					stock[i]); err != nil {
					return fmt.Errorf("%s, %s: %w", name, t.name, err)
				}
			}
			var prof chan error
			if r == 0 && t.profile != "" {
				prof = b.profile(t, name)
			}
			cpu0 := cpuTime(t.pid)
			rate, n, err := sendEach(ctx, l, t.url, auths)
			cpu := cpuTime(t.pid) - cpu0
			if prof != nil {
				if perr := <-prof; perr != nil {
					return fmt.Errorf("%s, %s: profile: %w", name, t.name,
						perr)
				}
			}
			if err == nil && rate.Bad > 0 {
				err = fmt.Errorf("%w: %d, the first: %w", errBad, rate.Bad,
					rate.Err)
			}
			if err != nil {
				return fmt.Errorf("%s, %s: %w", name, t.name, err)
			}
			rates[i] = append(rates[i], rate.PerSec)
			if n > 0 && t.pid != 0 {
				cpus[i] = append(cpus[i],
					float64(cpu.Microseconds())/float64(n))
			}
		}
	}
	b.printf("\n%s (Go client, %d requests in flight over as many "+
		"connections, %s or until its stock of credentials is used up; "+
		"each serve request presents a fresh single-use charge "+
		"credential, and serve claims its payment hash in SQLite, "+
		"committed before the answer)\n", name, l.Conns, l.Duration)
	printRates(b.opts.Out, targets, rates, cpus)
	return nil
}
