package benchload

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/regtest"
)

// issuance measures how many 402 challenges serve issues per second with
// a real lnd's AddInvoice in the loop (regtest), against the rate of
// AddInvoice calls a bare gRPC client gets from the same lnd, alternated
// in each round: serve should not be the bottleneck.
func (b *bench) issuance(ctx context.Context) error {
	if err := b.startBackend(); err != nil {
		return err
	}
	b.printf("l402 bench-load issuance: bringing up regtest (btcd, " +
		"alice, bob)\n")
	stack, err := regtest.Start(ctx, regtest.Options{Log: os.Stderr})
	if err != nil {
		return err
	}
	defer stack.Stop()
	bob := stack.Bob

	lnd, err := lightning.NewLnd(lightning.LndConfig{Host: bob.RPCHost,
		TLSCertPath: bob.TLSCertPath, MacaroonPath: bob.InvoiceMacaroonPath})
	if err != nil {
		return err
	}
	defer lnd.Close()
	addInvoice := func(ctx context.Context, l Load, _, _ string) (Rate,
		error) {

		return loop(ctx, l, func(ctx context.Context, _ int) error {
			_, err := lnd.AddInvoice(ctx, lightning.InvoiceRequest{
				AmountSat: 1, Memo: "bench-load", Expiry: time.Hour})
			return err
		})
	}

	targets := []target{{name: "lnd AddInvoice"}}
	bins := []struct{ label, bin string }{{"serve", b.opts.L402}}
	if b.opts.Before != "" {
		bins = append(bins, struct{ label, bin string }{"serve@before",
			b.opts.Before})
	}
	for _, x := range bins {
		dir := filepath.Join(b.dir, x.label)
		cfg := serveConfig(dir, false, bob.RPCHost, bob.TLSCertPath,
			bob.MacaroonDir, regtest.Network, b.httpAddr, b.grpcAddr)
		prof := ""
		if b.opts.CPUProfile != "" {
			var extra string
			if extra, prof, err = profileKey(); err != nil {
				return err
			}
			cfg += extra
		}
		p, addr, err := b.startServe(x.label, x.bin, dir,
			cfg+b.opts.ServeExtra)
		if err != nil {
			return err
		}
		targets = append(targets, target{name: x.label,
			url: "http://" + addr + "/api/data", pid: p.pid(),
			profile: prof})
	}

	// Each target has its own generator: the bare client calls lnd,
	// serve's is wrk, wanting a 402 every time.
	gens := map[string]generator{"lnd AddInvoice": addInvoice}
	challenge := wrkStatus(b.dir, 402)
	s := scenario{name: "402 issuance with lnd's AddInvoice in the loop",
		how: fmt.Sprintf("wrk -t%d -c%d -d%s against serve; the reference "+
			"is a bare gRPC client calling the same lnd with %d calls in "+
			"flight", b.opts.Load.Threads, b.opts.Load.Conns,
			b.opts.Load.Duration, b.opts.Load.Conns),
		targets: targets,
		gen: func(ctx context.Context, l Load, url, header string) (Rate,
			error) {
			if url == "" {
				return gens["lnd AddInvoice"](ctx, l, url, header)
			}
			return challenge(ctx, l, url, header)
		}}
	b.printf("l402 bench-load issuance: %d rounds, alternated\n",
		b.opts.Rounds)
	return b.runScenario(ctx, s)
}

// rss runs the paid path under wrk for the whole Load.Duration and
// samples serve's resident set size, printing the curve and how much it
// moved after the warm-up (the first fifth, at most a minute).
func (b *bench) rss(ctx context.Context) error {
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
		if err := b.rssOf(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// rssOf is rss for one instance.
func (b *bench) rssOf(ctx context.Context, in *instance) error {
	l := b.opts.Load
	warmup := min(time.Minute, l.Duration/5)
	every := max(time.Second, l.Duration/60)
	type sample struct {
		at  time.Duration
		kib int64
	}
	var samples []sample
	done := make(chan struct{})
	var rate Rate
	var werr error
	go func() {
		defer close(done)
		rate, werr = wrk(ctx, l, "http://"+in.plain+"/api/data",
			"Authorization: "+in.apiAuth)
	}()
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			kib, err := rssKiB(in.plainPID)
			if err != nil {
				return err
			}
			samples = append(samples, sample{time.Since(start), kib})
		}
	}
	if werr != nil {
		return werr
	}
	b.printf("\nRSS of %s under the paid path (wrk -t%d -c%d -d%s): "+
		"%.0f req/s, %d bad\n", in.label, l.Threads, l.Conns, l.Duration,
		rate.PerSec, rate.Bad)
	var lo, hi, first, last int64
	for _, s := range samples {
		b.printf("  %8s %8.1f MiB\n", s.at.Round(time.Second),
			float64(s.kib)/1024)
		if s.at < warmup {
			continue
		}
		if first == 0 {
			first, lo, hi = s.kib, s.kib, s.kib
		}
		lo, hi, last = min(lo, s.kib), max(hi, s.kib), s.kib
	}
	if first == 0 {
		return fmt.Errorf("no RSS sample after the %s warm-up", warmup)
	}
	b.printf("  after the %s warm-up: first %.1f MiB, last %.1f MiB, "+
		"min %.1f, max %.1f: spread %.1f%% of the minimum\n", warmup,
		float64(first)/1024, float64(last)/1024, float64(lo)/1024,
		float64(hi)/1024, 100*float64(hi-lo)/float64(lo))
	return nil
}
