package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
	"github.com/spf13/cobra"
)

// fetchFlags are the flags of `l402 fetch`, lnget's.
type fetchFlags struct {
	output         string
	quiet          bool
	verbose        bool
	method         string
	data           string
	headers        []string
	insecure       bool
	maxCost        int64
	maxFee         int64
	maxTotal       int64
	paymentTimeout time.Duration
	timeout        time.Duration
	noPay          bool
	asJSON         bool
	allowHTTPError bool
	configPath     string
	cont           bool
}

// newFetchCmd builds `l402 fetch`.
func newFetchCmd(streams cli.IO) *cobra.Command {
	var f fetchFlags
	cmd := &cobra.Command{
		Use:   "fetch URL",
		Short: "Fetch a URL, paying its L402 price within a budget",
		Long: "Fetch a URL. On 402 Payment Required, the L402 challenge is " +
			"checked (full\nBOLT11 decode: amount, network, expiry, payment " +
			"hash) and paid once through\nthe configured lnd if the price " +
			"is within --max-cost; the token is cached\nper origin and " +
			"reused.\n\nExit codes: 0 ok, 1 general or HTTP error, 2 bad " +
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
	fl.StringVarP(&f.method, "request", "X", "", "HTTP method (default GET, "+
		"or POST with --data)")
	fl.StringVarP(&f.data, "data", "d", "", "request body; @FILE reads a "+
		"file, @- reads stdin")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "request header "+
		"'Name: value' (repeatable)")
	fl.BoolVarP(&f.insecure, "insecure", "k", false, "do not verify the "+
		"server's TLS certificate")
	fl.Int64Var(&f.maxCost, "max-cost", 0, "most sats to pay for one token "+
		"(default from config, else 1000)")
	fl.Int64Var(&f.maxFee, "max-fee", 0, "most sats of routing fee "+
		"(default from config, else 10)")
	fl.Int64Var(&f.maxTotal, "max-total", 0, "most sats to spend in any "+
		"24 hours, all origins, fees included (default from config, else "+
		"no cap)")
	fl.DurationVar(&f.paymentTimeout, "payment-timeout", 0, "how long a "+
		"payment may take (default from config, else 60s)")
	fl.DurationVar(&f.timeout, "timeout", fetch.DefaultTimeout, "HTTP "+
		"timeout of each request, and the longest 429 Retry-After waited "+
		"out (once)")
	fl.BoolVar(&f.noPay, "no-pay", false, "never pay: report the price "+
		"and exit 0")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON on "+
		"stdout (the body goes to -o, or into the JSON)")
	fl.BoolVar(&f.allowHTTPError, "allow-http-error", false, "exit 0 on "+
		"an HTTP status >= 400 after payment handling")
	fl.StringVar(&f.configPath, "config", "", "fetch config (default "+
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

// runFetch wires the flags to the fetch package.
func runFetch(cmd *cobra.Command, streams cli.IO, f fetchFlags,
	rawURL string) error {

	path, explicit := f.configPath, f.configPath != ""
	if !explicit {
		var err error
		if path, err = fetch.DefaultConfigPath(); err != nil {
			return err
		}
	}
	cfg, err := fetch.LoadConfig(path, explicit)
	if err != nil {
		return err
	}

	opts := fetch.Options{
		URL:            rawURL,
		Method:         f.method,
		MaxCostSat:     *cfg.MaxCostSat,
		MaxFeeSat:      *cfg.MaxFeeSat,
		PaymentTimeout: cfg.PaymentTimeout,
		NoPay:          f.noPay,
		AllowHTTPError: f.allowHTTPError,
		MaxTotalSat:    cfg.MaxTotalSat,
		MaxOriginSat:   cfg.MaxPerOriginSat,
		MaxRetryWait:   f.timeout,
	}
	fl := cmd.Flags()
	if fl.Changed("max-cost") {
		opts.MaxCostSat = f.maxCost
	}
	if fl.Changed("max-fee") {
		opts.MaxFeeSat = f.maxFee
	}
	if fl.Changed("max-total") {
		opts.MaxTotalSat = f.maxTotal
	}
	if fl.Changed("payment-timeout") {
		opts.PaymentTimeout = f.paymentTimeout
	}
	if err := fetch.CheckAmounts(opts.MaxCostSat, opts.MaxFeeSat,
		opts.MaxTotalSat); err != nil || opts.PaymentTimeout < 0 ||
		f.timeout <= 0 {
		return cli.Usage(fmt.Errorf("--max-cost, --max-fee and --max-total "+
			"must be sats from 0 to %d, and the timeouts positive",
			fetch.MaxSats))
	}
	if opts.Header, err = parseHeaders(f.headers); err != nil {
		return err
	}
	if opts.Body, err = bodyFrom(f.data, streams.In); err != nil {
		return err
	}
	if f.data != "" && opts.Method == "" {
		opts.Method = http.MethodPost
	}

	// A preview needs no node: one that cannot be set up is left out,
	// and an LNC one, slow to connect, is not even tried.
	var progress io.Writer
	if f.verbose {
		progress = streams.ErrOut
	}
	node, err := fetchNode(cfg, progress)
	if err != nil && !f.noPay {
		return err
	}
	if err != nil || (f.noPay && cfg.LNC != nil) {
		if node != nil {
			node.Close()
		}
		node = nil
	}
	if node != nil {
		defer node.Close()
	}
	store, err := tokens.Open(cmd.Context(), cfg.TokenStore)
	if err != nil {
		return err
	}
	defer store.Close()

	// --timeout bounds connecting and waiting for the response headers,
	// not reading the body: a large paid download may take longer.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: f.timeout}).DialContext
	transport.TLSHandshakeTimeout = f.timeout
	transport.ResponseHeaderTimeout = f.timeout
	if f.insecure {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	client := &fetch.Client{
		HTTP:  &http.Client{Transport: transport},
		Node:  node,
		Store: store,
	}
	if f.verbose {
		client.Log = streams.ErrOut
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt,
		syscall.SIGTERM)
	defer stop()
	return fetch.NameLimits(fetchTo(ctx, streams, f, client, opts),
		limitFlag)
}

// limitFlag names a fetch limit by the flag that sets it; the per-origin
// cap has none (fetch.yaml's maxperorigin) and keeps its own name.
func limitFlag(l fetch.Limit) string {
	return map[fetch.Limit]string{
		fetch.LimitCost:           "--max-cost",
		fetch.LimitFee:            "--max-fee",
		fetch.LimitTotal:          "--max-total",
		fetch.LimitPaymentTimeout: "--payment-timeout",
		fetch.LimitTimeout:        "--timeout",
	}[l]
}

// fetchTo runs the fetch with the body going where the flags say, and
// prints the result.
func fetchTo(ctx context.Context, streams cli.IO, f fetchFlags,
	client *fetch.Client, opts fetch.Options) error {

	var (
		out     io.Writer = streams.Out
		file    *fetch.Output
		partial *os.File
		inJSON  bytes.Buffer
	)
	toFile := f.output != "" && f.output != "-"
	switch {
	case f.cont && !toFile:
		return cli.Usage(errors.New("--continue needs -o FILE"))

	case f.cont:
		// A partial download is kept and continued, so the file is
		// written in place rather than replaced whole.
		var err error
		if partial, err = openPartial(f.output, &opts); err != nil {
			return err
		}
		defer partial.Close()
		out = partial

	case toFile:
		var err error
		if file, err = fetch.CreateOutput(f.output); err != nil {
			return err
		}
		out = file

	case f.asJSON:
		// JSON owns stdout: the body goes inside it, "-o -" or not.
		out = &inJSON
	}

	var bar *fetch.ProgressBar
	if toFile && streams.ErrTTY && !f.quiet && !f.asJSON {
		bar = fetch.NewProgressBar(streams.ErrOut, f.output)
		opts.Progress = bar.Start
	}

	res, err := client.Fetch(ctx, opts, out)
	if bar != nil {
		bar.Finish()
	}
	switch {
	case file != nil && (err != nil ||
		res.StatusCode == http.StatusPaymentRequired):
		file.Abort()
	case file != nil:
		if cerr := file.Commit(); cerr != nil {
			return cerr
		}
		res.OutputPath = f.output
	case partial != nil && err == nil:
		if cerr := partial.Sync(); cerr != nil {
			return cerr
		}
		res.OutputPath = f.output
	}
	if err != nil {
		return err
	}

	if f.asJSON {
		return printFetchJSON(streams.Out, res, f, inJSON.Bytes())
	}
	if !f.quiet {
		switch {
		case res.StatusCode == http.StatusPaymentRequired:
			fmt.Fprintf(streams.ErrOut, "l402: %s costs %d sat (--max-cost "+
				"%d); not paid (--no-pay)\n", res.URL, res.InvoiceAmountSat,
				res.MaxCostSats)
		case res.L402Paid:
			fmt.Fprintf(streams.ErrOut, "l402: paid %d sat (fee %d sat) "+
				"for %s\n", res.L402AmountSat, res.L402FeeSat, res.URL)
		}
	}
	return nil
}

// fetchJSON is the --json result: lnget's fields, and the body when no -o
// took it.
type fetchJSON struct {
	fetch.Result
	Body       *string `json:"body,omitempty"`
	BodyBase64 *string `json:"body_base64,omitempty"`
}

// printFetchJSON writes the result as one JSON object.
func printFetchJSON(w io.Writer, res fetch.Result, f fetchFlags,
	body []byte) error {

	out := fetchJSON{Result: res}
	toFile := f.output != "" && f.output != "-"
	if !toFile && res.StatusCode != http.StatusPaymentRequired {
		if utf8.Valid(body) {
			s := string(body)
			out.Body = &s
		} else {
			s := base64.StdEncoding.EncodeToString(body)
			out.BodyBase64 = &s
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// parseHeaders turns -H values into a header.
func parseHeaders(values []string) (http.Header, error) {
	h := http.Header{}
	for _, v := range values {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, cli.Usage(fmt.Errorf("header %q is not 'Name: "+
				"value'", v))
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// bodyFrom turns --data into a replayable body: the text itself, @FILE,
// or @- for stdin (read once, then replayed from memory).
func bodyFrom(data string, stdin io.Reader) (func() (io.Reader, error),
	error) {

	switch {
	case data == "":
		return nil, nil
	case data == "@-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the body from stdin: %w", err)
		}
		return fetch.BodyBytes(b), nil
	case strings.HasPrefix(data, "@"):
		path := data[1:]
		if _, err := os.Stat(path); err != nil {
			return nil, cli.Usage(fmt.Errorf("--data: %w", err))
		}
		return fetch.BodyFile(path), nil
	}
	return fetch.BodyBytes([]byte(data)), nil
}

// openPartial opens FILE for --continue: it is created when missing, and
// the request asks for what follows the bytes it has.
func openPartial(path string, opts *fetch.Options) (*os.File, error) {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	end, err := fh.Seek(0, io.SeekEnd)
	if err != nil {
		fh.Close()
		return nil, err
	}
	opts.ResumeFrom = end
	opts.Restart = func() error {
		if err := fh.Truncate(0); err != nil {
			return err
		}
		_, err := fh.Seek(0, io.SeekStart)
		return err
	}
	return fh, nil
}
