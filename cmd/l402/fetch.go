package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/lightning"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// fetchFlags are the flags of `l402 fetch`, lnget's: those that map one
// to one go straight into the run's options.
type fetchFlags struct {
	run            fetch.RunOptions
	output, data   string
	preferScheme   string
	headers        []string
	quiet, verbose bool
	asJSON, cont   bool

	maxCost, maxFee, maxTotal int64
	paymentTimeout, timeout   time.Duration
	maxInvoiceExpiry          time.Duration

	// lnget v1.1.0's flags (docs/fetch.md, "lnget users").
	dryRun, location, printBody bool
	noProgress                  bool
	maxRedirects                int
	contentType, params         string

	// lnget is the lnget personality's state (lnget.go); nil in l402.
	lnget *lngetRun
}

// newFetchCmd builds `l402 fetch`.
func newFetchCmd(streams cli.IO) *cobra.Command {
	return fetchCmd(streams, nil)
}

// fetchCmd builds the fetch command: `l402 fetch`, or with ln the root of
// the lnget personality, which reads lnget's config and prints as lnget.
func fetchCmd(streams cli.IO, ln *lngetRun) *cobra.Command {
	f := fetchFlags{lnget: ln}
	cmd := &cobra.Command{
		Use:   "fetch URL",
		Short: "Fetch a URL, paying its L402 or Payment price within a budget",
		Long: "Fetch a URL. On 402 Payment Required, the L402 challenge (or " +
			"the Payment\ncharge, docs/mpp.md) is checked (full BOLT11 " +
			"decode: amount, network, expiry,\npayment hash) and paid once " +
			"through the configured lnd if the price is within\n--max-cost. " +
			"An L402 token is cached per origin and reused; a Payment charge\n" +
			"buys one request. --prefer-scheme chooses when both are offered " +
			"(default l402).\n--session opens a Payment session where one is " +
			"offered; l402 tokens close ORIGIN\nends it and takes the refund." +
			"\n\nExit codes: 0 ok, 1 general or HTTP error, 2 bad " +
			"arguments or refused\nchallenge (over budget, bad invoice), 3 " +
			"payment failed, 4 network error,\n5 credential refused (401), " +
			"6 rate limited (429).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 0 && f.params == "") {
				return cli.Usage(fmt.Errorf("fetch takes one URL, got %d "+
					"arguments", len(args)))
			}
			return runFetch(cmd, streams, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "", "write the body to FILE "+
		"(- for stdout), whole or not at all")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the body: no "+
		"summary on stderr")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print each step on "+
		"stderr")
	fl.StringVarP(&f.run.Method, "request", "X", "", "HTTP method (default GET, "+
		"or POST with --data)")
	fl.StringVarP(&f.data, "data", "d", "", "request body; @FILE reads a "+
		"file, @- reads stdin")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "request header "+
		"'Name: value' (repeatable)")
	fl.StringVar(&f.run.CACert, "cacert", "", "trust the certificates of "+
		"this PEM file, not the system's (a self-signed l402 serve's "+
		"tls.cert)")
	fl.BoolVarP(&f.run.Insecure, "insecure", "k", false, "do not verify the "+
		"server's TLS certificate")
	fl.Int64Var(&f.maxCost, "max-cost", 0, "most sats to pay for one token "+
		"(default from config, else 1000)")
	fl.Int64Var(&f.maxFee, "max-fee", 0, "most sats of routing fee "+
		"(default from config, else 10)")
	fl.Int64Var(&f.maxTotal, "max-total", 0, "most sats to spend in any "+
		"24 hours, all origins, fees included; 0 is no cap (default from "+
		"config, else "+fmt.Sprint(fetch.DefaultMaxTotalSat)+")")
	fl.DurationVar(&f.paymentTimeout, "payment-timeout", 0, "how long a "+
		"payment may take (default from config, else 60s)")
	fl.DurationVar(&f.maxInvoiceExpiry, "max-invoice-expiry", 0,
		"longest an invoice may stay payable from now (default from "+
			"config, else "+fetch.DefaultMaxInvoiceExpiry.String()+")")
	fl.DurationVar(&f.timeout, "timeout", fetch.DefaultTimeout, "HTTP "+
		"timeout of each request, and the longest 429 Retry-After waited "+
		"out (once)")
	fl.BoolVar(&f.run.NoPay, "no-pay", false, "never pay: report the price "+
		"and exit 0")
	fl.BoolVar(&f.run.Session, "session", false, "open a Payment session "+
		"where the 402 offers one (its deposit within --max-cost and the "+
		"24-hour caps) and top the origin's up when short; later fetches "+
		"of the origin draw it (default from config's session)")
	fl.StringVar(&f.preferScheme, "prefer-scheme", "", "the scheme to pay "+
		"when a 402 offers both: l402 or payment (default from config, "+
		"else l402)")
	// lnget's subcommands take --json and --config too.
	shared := fl
	if ln != nil {
		shared = cmd.PersistentFlags()
	}
	shared.BoolVar(&f.asJSON, "json", false, "print the result as JSON on "+
		"stdout (the body goes to -o, or into the JSON)")
	fl.BoolVar(&f.run.AllowHTTPError, "allow-http-error", false, "exit 0 on "+
		"an HTTP status >= 400 after payment handling")
	shared.StringVar(&f.run.ConfigPath, "config", "", "fetch config "+
		"(default ~/.l402/fetch.yaml)")
	fl.BoolVarP(&f.cont, "continue", "c", false, "continue a partial "+
		"download into -o FILE (Range request)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "never pay and write nothing: "+
		"print lnget's dry-run JSON (the price, within_budget, "+
		"has_cached_token)")
	fl.BoolVarP(&f.location, "location", "L", true, "follow redirects "+
		"(a token never follows one to another origin); -L=false "+
		"returns the redirect")
	fl.IntVar(&f.maxRedirects, "max-redirects", fetch.DefaultMaxRedirects,
		"most redirects to follow")
	fl.BoolVar(&f.printBody, "print-body", false, "with --json and -o "+
		"FILE, put the body (its first 1 MiB) into the JSON too")
	fl.StringVar(&f.contentType, "content-type", "", "Content-Type of the "+
		"request body (-d)")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bar")
	fl.StringVar(&f.params, "params", "", "the request as lnget's JSON: "+
		`{"url","method","headers","data","output","max_cost","max_fee"}`+
		", over the flags")
	return cmd
}

// fetchNode connects to the paying node of a fetch config, or returns nil
// when none is configured; progress goes to log (nil: silent). Tests put
// an in-memory node here.
var fetchNode = func(cfg fetch.Config, log io.Writer) (lightning.Node,
	error) {

	return cfg.Node(log)
}

// runFetch runs fetch.Run with what the flags say, until the fetch ends or
// SIGINT or SIGTERM arrives, and prints the result.
func runFetch(cmd *cobra.Command, streams cli.IO, f fetchFlags,
	args []string) error {

	opts, err := f.runOptions(cmd.Flags(), streams, args)
	if err != nil {
		return err
	}
	ctx, stop := cli.Interruptible()
	defer stop()
	res, err := fetch.Run(ctx, opts)
	if err != nil {
		return tlsHint(fetch.NameLimits(err, limitFlags))
	}

	switch {
	case f.dryRun:
		d := res.DryRun(f.output)
		// The origin's manifest, when it publishes one, goes beside the
		// price; none, or one that does not read, is left out (-v says
		// why): a dry run is about the URL, not the catalog.
		disc, derr := fetch.Discover(ctx, fetch.DiscoverOptions{URL: res.URL,
			Timeout: opts.Timeout, Insecure: opts.Insecure,
			CACert: opts.CACert, Log: opts.Log})
		if derr == nil {
			d.Discovery = &disc
		} else if opts.Log != nil {
			fmt.Fprintf(opts.Log, "no discovery manifest: %v\n", derr)
		}
		if err := cli.WriteJSON(streams.Out, d); err != nil ||
			f.lnget == nil {
			return err
		}
		return errDryRunPassed
	case f.lnget != nil:
		return f.lnget.report(streams, res)
	case f.asJSON:
		return cli.WriteJSON(streams.Out, res.JSON())
	case f.quiet:
	case res.StatusCode == http.StatusPaymentRequired:
		fmt.Fprintf(streams.ErrOut, "l402: %s costs %d sat (--max-cost "+
			"%d); not paid (--no-pay)\n", res.URL, res.InvoiceAmountSat,
			res.MaxCostSats)
	case res.Session != nil && res.Session.Opened:
		fmt.Fprintf(streams.ErrOut, "l402: paid %d sat (fee %d sat) for "+
			"%s: a Payment session's deposit; balance %d sat\n",
			res.L402AmountSat, res.L402FeeSat, res.URL,
			res.Session.BalanceSat)
	case res.Session != nil && res.Session.ToppedUp:
		fmt.Fprintf(streams.ErrOut, "l402: paid %d sat (fee %d sat) for "+
			"%s: a top-up of the Payment session; balance %d sat\n",
			res.L402AmountSat, res.L402FeeSat, res.URL,
			res.Session.BalanceSat)
	case res.Session != nil && res.PaymentScheme == fetch.SchemePayment.Name():
		fmt.Fprintf(streams.ErrOut, "l402: paid from the Payment session for "+
			"%s; balance %d sat\n", res.URL, res.Session.BalanceSat)
	case res.L402Paid && res.PaymentScheme == fetch.SchemePayment.Name():
		fmt.Fprintf(streams.ErrOut, "l402: paid %d sat (fee %d sat) for "+
			"%s with a Payment charge, good for this request\n",
			res.L402AmountSat, res.L402FeeSat, res.URL)
	case res.L402Paid:
		fmt.Fprintf(streams.ErrOut, "l402: paid %d sat (fee %d sat) for "+
			"%s\n", res.L402AmountSat, res.L402FeeSat, res.URL)
	}
	if line := res.BalanceLine(); line != "" && !f.quiet {
		fmt.Fprintln(streams.ErrOut, line)
	}
	return nil
}

// runOptions completes the run's options from the other flags: --params
// over the flags (but --prefer-scheme over its prefer_scheme), a limit flag given over the config, -H and -d parsed,
// and the body to -o FILE, into the JSON, or to stdout.
func (f fetchFlags) runOptions(fl *pflag.FlagSet, streams cli.IO,
	args []string) (fetch.RunOptions, error) {

	p, err := f.applyParams(args)
	if err != nil {
		return fetch.RunOptions{}, err
	}
	opts := f.run
	opts.URL, opts.Timeout, opts.Node = p.URL, &f.timeout, fetchNode
	opts.MaxCostSat = changed(fl, "max-cost", &f.maxCost)
	opts.MaxFeeSat = changed(fl, "max-fee", &f.maxFee)
	opts.MaxTotalSat = changed(fl, "max-total", &f.maxTotal)
	opts.PaymentTimeout = changed(fl, "payment-timeout", &f.paymentTimeout)
	opts.MaxInvoiceExpiry = changed(fl, "max-invoice-expiry",
		&f.maxInvoiceExpiry)
	opts.MaxRedirects = changed(fl, "max-redirects", &f.maxRedirects)
	opts.NoRedirects = !f.location
	if p.MaxCost != nil {
		opts.MaxCostSat = p.MaxCost
	}
	if p.MaxFee != nil {
		opts.MaxFeeSat = p.MaxFee
	}
	if f.verbose {
		opts.Log = streams.ErrOut
	}
	prefer := f.preferScheme
	if !fl.Changed("prefer-scheme") && p.PreferScheme != "" {
		prefer = p.PreferScheme
	}
	scheme, err := fetch.ParseScheme(prefer)
	if err != nil {
		return opts, fmt.Errorf("--prefer-scheme: %w", err)
	}
	opts.PreferScheme = scheme
	if opts.Header, err = fetch.ParseHeaders(f.headers); err != nil {
		return opts, err
	}
	if err := f.setContentType(opts.Header); err != nil {
		return opts, err
	}
	if opts.Body, err = fetch.ParseData(f.data, streams.In); err != nil {
		return opts, fmt.Errorf("--data: %w", err)
	}
	if p.Data != "" {
		opts.Body = fetch.BodyBytes([]byte(p.Data))
	}
	if f.lnget != nil {
		if err := f.lnget.apply(fl, &f, &opts); err != nil {
			return opts, err
		}
	}

	// A dry run never pays and writes nothing: the body, if any, is
	// read and dropped, and every status is a result.
	if f.dryRun {
		opts.NoPay, opts.AllowHTTPError = true, true
		opts.Output = fetch.Output{}
		return opts, nil
	}

	// Only --json shows the 24 hours' spending (and lnget's, which
	// also warns of a node that cannot be set up): without it a fetch
	// may send a token from the store's shortcut file.
	opts.SkipLimits = !f.asJSON && f.lnget == nil

	// JSON owns stdout: without a file the body goes inside it.
	toFile := f.output != "" && f.output != "-"
	switch {
	case f.cont && !toFile:
		return opts, cli.Usage(errors.New("--continue needs -o FILE"))
	case toFile:
		opts.Output = fetch.Output{File: f.output, Continue: f.cont,
			Capture:    f.printBody && f.asJSON && !f.cont,
			CaptureMax: fetch.JSONBodyMax}
		if streams.ErrTTY && !f.quiet && !f.asJSON && !f.noProgress {
			opts.Progress = streams.ErrOut
		}
	case f.asJSON:
		opts.Output = fetch.Output{Capture: true,
			CaptureMax: fetch.JSONBodyMax}
	default:
		opts.Output = fetch.Output{Writer: streams.Out}
	}
	return opts, nil
}

// setContentType puts --content-type into the request's header; a -H
// Content-Type that says otherwise is refused.
func (f fetchFlags) setContentType(h http.Header) error {
	if f.contentType == "" {
		return nil
	}
	if v := h.Get("Content-Type"); v != "" && v != f.contentType {
		return cli.Usage(fmt.Errorf("--content-type %q and -H "+
			"'Content-Type: %s' differ: give the type once", f.contentType,
			v))
	}
	h.Set("Content-Type", f.contentType)
	return nil
}

// lngetParams is the JSON of lnget's --params: the request, whose fields
// win over the flags'.
type lngetParams struct {
	URL          string            `json:"url"`
	Method       string            `json:"method"`
	Headers      map[string]string `json:"headers"`
	Data         string            `json:"data"`
	Output       string            `json:"output"`
	MaxCost      *int64            `json:"max_cost"`
	MaxFee       *int64            `json:"max_fee"`
	PreferScheme string            `json:"prefer_scheme"`
}

// applyParams reads --params, strictly, into f (method, headers, output)
// and returns it with the URL to fetch: its own, else the argument's.
func (f *fetchFlags) applyParams(args []string) (lngetParams, error) {
	var p lngetParams
	if f.params != "" {
		dec := json.NewDecoder(strings.NewReader(f.params))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return p, cli.Usage(fmt.Errorf("--params: %w", err))
		}
		if dec.More() {
			return p, cli.Usage(errors.New("--params: one JSON object, " +
				"and nothing after it"))
		}
	}
	if _, err := fetch.ParseScheme(p.PreferScheme); err != nil {
		return p, cli.Usage(fmt.Errorf("--params: prefer_scheme: %w", err))
	}
	if p.Method != "" {
		f.run.Method = p.Method
	}
	if p.Output != "" {
		f.output = p.Output
	}
	for k, v := range p.Headers {
		f.headers = append(f.headers, k+": "+v)
	}
	if p.URL == "" && len(args) == 1 {
		p.URL = args[0]
	}
	if p.URL == "" {
		return p, cli.Usage(errors.New("no URL: give it as the " +
			"argument or as --params' url"))
	}
	return p, nil
}

// changed returns v when the flag name was given, else nil: the config's
// value or the default stands.
func changed[T any](fl *pflag.FlagSet, name string, v *T) *T {
	if fl.Changed(name) {
		return v
	}
	return nil
}

// limitFlags names each fetch limit by the flag that sets it; the
// per-origin cap has none (fetch.yaml's maxperorigin) and keeps its own.
var limitFlags = map[fetch.Limit]string{
	fetch.LimitCost:           "--max-cost",
	fetch.LimitFee:            "--max-fee",
	fetch.LimitTotal:          "--max-total",
	fetch.LimitPaymentTimeout: "--payment-timeout",
	fetch.LimitTimeout:        "--timeout",
	fetch.LimitInvoiceExpiry:  "--max-invoice-expiry",
}

// tlsHint says what to do about a server certificate no trusted authority
// signed, as a self-signed l402 serve's is.
func tlsHint(err error) error {
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		return err
	}
	return fmt.Errorf("%w: pass --cacert FILE with the server's "+
		"certificate (a self-signed l402 serve's is tls.cert in its "+
		"l402 directory), or -k to skip the check", err)
}
