package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
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
}

// newFetchCmd builds `l402 fetch`.
func newFetchCmd(streams cli.IO) *cobra.Command {
	var f fetchFlags
	cmd := &cobra.Command{
		Use:   "fetch URL",
		Short: "Fetch a URL, paying its L402 or Payment price within a budget",
		Long: "Fetch a URL. On 402 Payment Required, the L402 challenge (or " +
			"the Payment\ncharge, docs/mpp.md) is checked (full BOLT11 " +
			"decode: amount, network, expiry,\npayment hash) and paid once " +
			"through the configured lnd if the price is within\n--max-cost. " +
			"An L402 token is cached per origin and reused; a Payment charge\n" +
			"buys one request. --prefer-scheme chooses when both are offered " +
			"(default l402).\n\nExit codes: 0 ok, 1 general or HTTP error, 2 bad " +
			"arguments or refused\nchallenge (over budget, bad invoice), 3 " +
			"payment failed, 4 network error,\n5 credential refused (401), " +
			"6 rate limited (429).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Usage(fmt.Errorf("fetch takes one URL, got %d "+
					"arguments", len(args)))
			}
			return runFetch(cmd, streams, f, args[0])
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
	fl.StringVar(&f.preferScheme, "prefer-scheme", "", "the scheme to pay "+
		"when a 402 offers both: l402 or payment (default from config, "+
		"else l402)")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON on "+
		"stdout (the body goes to -o, or into the JSON)")
	fl.BoolVar(&f.run.AllowHTTPError, "allow-http-error", false, "exit 0 on "+
		"an HTTP status >= 400 after payment handling")
	fl.StringVar(&f.run.ConfigPath, "config", "", "fetch config (default "+
		"~/.l402/fetch.yaml)")
	fl.BoolVarP(&f.cont, "continue", "c", false, "continue a partial "+
		"download into -o FILE (Range request)")
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
	rawURL string) error {

	opts, err := f.runOptions(cmd.Flags(), streams, rawURL)
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
	case f.asJSON:
		return cli.WriteJSON(streams.Out, res.JSON())
	case f.quiet:
	case res.StatusCode == http.StatusPaymentRequired:
		fmt.Fprintf(streams.ErrOut, "l402: %s costs %d sat (--max-cost "+
			"%d); not paid (--no-pay)\n", res.URL, res.InvoiceAmountSat,
			res.MaxCostSats)
	case res.L402Paid && res.PaymentScheme == fetch.SchemePayment.Name():
		fmt.Fprintf(streams.ErrOut, "l402: paid %d sat (fee %d sat) for "+
			"%s with a Payment charge, good for this request\n",
			res.L402AmountSat, res.L402FeeSat, res.URL)
	case res.L402Paid:
		fmt.Fprintf(streams.ErrOut, "l402: paid %d sat (fee %d sat) for "+
			"%s\n", res.L402AmountSat, res.L402FeeSat, res.URL)
	}
	return nil
}

// runOptions completes the run's options from the other flags: a limit
// flag given overrides fetch.yaml, -H and -d are parsed, and the body goes
// to -o FILE, into the JSON, or to stdout.
func (f fetchFlags) runOptions(fl *pflag.FlagSet, streams cli.IO,
	rawURL string) (fetch.RunOptions, error) {

	opts := f.run
	opts.URL, opts.Timeout, opts.Node = rawURL, &f.timeout, fetchNode
	opts.MaxCostSat = changed(fl, "max-cost", &f.maxCost)
	opts.MaxFeeSat = changed(fl, "max-fee", &f.maxFee)
	opts.MaxTotalSat = changed(fl, "max-total", &f.maxTotal)
	opts.PaymentTimeout = changed(fl, "payment-timeout", &f.paymentTimeout)
	opts.MaxInvoiceExpiry = changed(fl, "max-invoice-expiry",
		&f.maxInvoiceExpiry)
	if f.verbose {
		opts.Log = streams.ErrOut
	}
	scheme, err := fetch.ParseScheme(f.preferScheme)
	if err != nil {
		return opts, fmt.Errorf("--prefer-scheme: %w", err)
	}
	opts.PreferScheme = scheme
	if opts.Header, err = fetch.ParseHeaders(f.headers); err != nil {
		return opts, err
	}
	if opts.Body, err = fetch.ParseData(f.data, streams.In); err != nil {
		return opts, fmt.Errorf("--data: %w", err)
	}

	// JSON owns stdout: without a file the body goes inside it.
	toFile := f.output != "" && f.output != "-"
	switch {
	case f.cont && !toFile:
		return opts, cli.Usage(errors.New("--continue needs -o FILE"))
	case toFile:
		opts.Output = fetch.Output{File: f.output, Continue: f.cont}
		if streams.ErrTTY && !f.quiet && !f.asJSON {
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
