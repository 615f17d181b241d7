package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/buildinfo"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The lnget personality: invoked through a link named lnget, the binary
// answers as lnget v1.1.0 does (docs/fetch.md, "lnget users"). Its root
// is fetch's command, built with a lngetRun; its subcommands are in
// lnget_tokens.go, lnget_config.go and lnget_ln.go.

// lngetName is the name of the link that makes the binary lnget.
const lngetName = "lnget"

// invokedAsLnget reports whether argv0, the binary's own name, is lnget.
func invokedAsLnget(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == lngetName
}

// errDryRunPassed ends an lnget --dry-run with lnget's exit 10 once its
// JSON is printed; `l402 fetch --dry-run` exits 0.
var errDryRunPassed = fault.New("dry_run_passed", "dry run completed: "+
	"nothing was paid or written")

// lngetRun is the lnget personality's part of one fetch: lnget's config,
// and how the result is printed (lnget's defaults: JSON when stdout is
// not a terminal, the body in a file named after the URL).
type lngetRun struct {
	streams cli.IO

	// Decided by apply: JSON printed on stdout, and the file written.
	json  bool
	file  string
	quiet bool
}

// newLngetCmd builds the lnget personality's tree: the fetch as its
// root, tokens, config and ln status.
func newLngetCmd(streams cli.IO) *cobra.Command {
	root := fetchCmd(streams, &lngetRun{streams: streams})
	root.Use = "lnget [flags] <url>"
	root.Short = "Fetch a URL, paying its L402 price (l402 as lnget v1.1.0)"
	root.Long = "l402 answering as lnget v1.1.0: lnget's flags, config " +
		"file (~/.lnget/config.yaml),\nLNGET_* variables, subcommands " +
		"and exit codes, over l402's fetch (docs/fetch.md,\n\"lnget " +
		"users\").\n\nExit codes: 0 ok, 1 general error, 2 bad arguments " +
		"or price above --max-cost,\n3 payment failed, 4 network error, " +
		"5 credential refused (401), 6 rate limited,\n10 dry run done."
	root.SilenceUsage, root.SilenceErrors = true, true
	// The URL is the root's argument, beside its subcommands; RunE
	// counts the arguments.
	root.Args = cobra.ArbitraryArgs
	root.Version = lngetVersion()
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cli.Usage(err)
	})

	// lnget's flags that every subcommand takes.
	pf := root.PersistentFlags()
	pf.Lookup("config").Usage = "lnget's config file (default " +
		"~/.lnget/config.yaml; LNGET_* variables win over it)"
	pf.Bool("human", false, "print for humans, also in a pipe")
	pf.String("debuglevel", "", "accepted for lnget; l402 logs with -v")
	pf.String("logfile", "", "accepted for lnget; l402 writes no log file")

	root.AddCommand(newLngetTokensCmd(streams))
	root.AddCommand(newLngetConfigCmd(streams))
	root.AddCommand(newLngetLNCmd(streams))
	root.AddCommand(newVersionCmd(streams))
	requireSubcommands(root)
	return root
}

// lngetVersion is what lnget --version prints after "lnget ".
func lngetVersion() string {
	v := buildinfo.Current(version, commit)
	return v.Version + " (l402, commit " + v.Commit + ")"
}

// lngetJSON reports whether a command of the lnget personality prints
// JSON: --json, else not --human, else when stdout is not a terminal.
func lngetJSON(c *cobra.Command, streams cli.IO) bool {
	if j, _ := c.Flags().GetBool("json"); j {
		return true
	}
	if h, _ := c.Flags().GetBool("human"); h {
		return false
	}
	return !streams.OutTTY
}

// lngetConfig reads the lnget config named by --config, else
// ~/.lnget/config.yaml, with the LNGET_* variables over it.
func lngetConfig(c *cobra.Command) (fetch.LngetConfig, error) {
	path, _ := c.Flags().GetString("config")
	return fetch.LoadLngetConfig(path, os.Getenv)
}

// apply puts lnget's config under the flags: its caps and node become
// the run's config, its HTTP settings the defaults of flags not given,
// and lnget's output rules decide where the body goes.
func (ln *lngetRun) apply(fl *pflag.FlagSet, f *fetchFlags,
	opts *fetch.RunOptions) error {

	lc, err := fetch.LoadLngetConfig(f.run.ConfigPath, os.Getenv)
	if err != nil {
		return err
	}
	cfg, warnings, err := lc.Fetch()
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(ln.streams.ErrOut, "Warning: %s\n", w)
	}
	opts.Config, opts.ConfigPath = &cfg, ""

	if !fl.Changed("timeout") {
		opts.Timeout = &lc.HTTP.Timeout
	}
	if !fl.Changed("max-redirects") {
		opts.MaxRedirects = &lc.HTTP.MaxRedirects
	}
	opts.Insecure = opts.Insecure || lc.HTTP.AllowInsecure
	if opts.Header.Get("User-Agent") == "" && lc.HTTP.UserAgent != "" {
		opts.Header.Set("User-Agent", lc.HTTP.UserAgent)
	}
	// lnget v1.1.0 reads auto_pay and pays anyway; here it never pays.
	if !lc.L402.AutoPay {
		opts.NoPay = true
	}
	if lc.Output.Verbose {
		opts.Log = ln.streams.ErrOut
	}
	if !lc.Output.Progress {
		f.noProgress = true
	}
	opts.Node = ln.node

	// lnget's output: JSON unless --human or a terminal; the body into a
	// file named after the URL, unless -q or -o - put it on stdout.
	ln.quiet = f.quiet
	ln.json = f.asJSON
	if h, _ := fl.GetBool("human"); !h && !ln.streams.OutTTY {
		ln.json = true
	}
	if f.dryRun {
		return nil
	}
	if f.output == "" && !f.quiet {
		f.output = lngetFileName(opts.URL)
	}
	if f.output == "" || f.output == "-" {
		ln.json, f.output = false, ""
	}
	if err := lngetSafeOutput(f.output); err != nil {
		return err
	}
	f.asJSON = ln.json
	ln.file = f.output
	return nil
}

// node is the paying node of lnget's config. As lnget does, one that
// cannot be set up is a warning, and the fetch goes on without it: a free
// URL still works, and a 402 then fails for want of a node.
func (ln *lngetRun) node(cfg fetch.Config, log io.Writer) (lightning.Node,
	error) {

	n, err := fetchNode(cfg, log)
	if err != nil {
		fmt.Fprintf(ln.streams.ErrOut, "Warning: LN backend unavailable "+
			"(%v), L402 payments disabled\n", err)
		return nil, nil
	}
	return n, nil
}

// report prints the result as lnget does: its JSON on stdout (indented,
// as lnget writes it), or "Downloaded to: FILE" on stderr.
func (ln *lngetRun) report(streams cli.IO, res fetch.Result) error {
	switch {
	case ln.json:
		b, err := json.MarshalIndent(res.JSON(), "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(streams.Out, "%s\n", b)
		return err
	case ln.quiet:
	case res.StatusCode == http.StatusPaymentRequired:
		fmt.Fprintf(streams.ErrOut, "%s costs %d sat (--max-cost %d); "+
			"not paid\n", res.URL, res.InvoiceAmountSat, res.MaxCostSats)
	case res.OutputPath != "":
		fmt.Fprintf(streams.ErrOut, "Downloaded to: %s\n", res.OutputPath)
	}
	return nil
}

// lngetFileName is the file lnget v1.1.0 names a download after: the
// last element of the URL (without its query), or "output".
func lngetFileName(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
		rawURL = u.String()
	}
	name := filepath.Base(rawURL)
	if name == "" || name == "/" || name == "." {
		return "output"
	}
	return name
}

// lngetKinds are lnget's JSON error codes, by exit code: an error of the
// lnget personality carries lnget's kind as code, and l402's as
// l402_code.
var lngetKinds = map[int]string{
	cli.ExitGeneral:      "general_error",
	cli.ExitUsage:        "invalid_args",
	cli.ExitPayment:      "payment_failed",
	cli.ExitNetwork:      "network_error",
	cli.ExitUnauthorized: "auth_failure",
	cli.ExitRateLimited:  "rate_limited",
	cli.ExitDryRun:       "dry_run_passed",
}

// lngetExit returns lnget's exit code for err: l402's, except that a 402
// with no node to pay is a failed payment (3), as lnget's no-op backend
// makes it.
func lngetExit(err error) int {
	if cli.Code(err) == "no_node" {
		return cli.ExitPayment
	}
	return cli.ExitCode(err)
}

// reportLnget writes err as lnget does, and returns its exit code: one
// JSON object on stderr when stdout is not a terminal (or --json was
// given), else "Error: ...".
func reportLnget(w io.Writer, err error, asJSON bool) int {
	code := lngetExit(err)
	if !asJSON {
		fmt.Fprintf(w, "Error: %v\n", err)
		return code
	}
	kind := lngetKinds[code]
	switch cli.Code(err) {
	case "over_budget", "payment_over_budget":
		kind = "payment_too_expensive"
	}
	if kind == "" {
		kind = "general_error"
	}
	b, _ := json.Marshal(struct {
		Error    bool   `json:"error"`
		Code     string `json:"code"`
		L402Code string `json:"l402_code"`
		Message  string `json:"message"`
		ExitCode int    `json:"exit_code"`
	}{true, kind, cli.Code(err), err.Error(), code})
	fmt.Fprintf(w, "%s\n", b)
	return code
}

// runLnget runs the lnget personality with args and returns the exit
// code.
func runLnget(streams cli.IO, args []string) int {
	root := newLngetCmd(streams)
	root.SetArgs(args)
	if err := execute(root); err != nil {
		return reportLnget(streams.ErrOut, err, jsonRequested(args) ||
			!streams.OutTTY)
	}
	return cli.ExitOK
}

// lngetSafeOutput refuses the -o paths lnget refuses, against an agent's
// mistakes: an absolute path, a ".." and a directory whose name starts
// with a dot (~/.ssh, .config). The body goes below the working
// directory or nowhere.
func lngetSafeOutput(path string) error {
	if path == "" {
		return nil
	}
	refuse := func(why string) error {
		return cli.Usage(fmt.Errorf("-o %s: %s; lnget writes only below "+
			"the working directory (use a relative path, or -o - for "+
			"stdout)", path, why))
	}
	if filepath.IsAbs(path) {
		return refuse("an absolute path")
	}
	parts := strings.Split(filepath.ToSlash(path), "/")
	for i, p := range parts {
		switch {
		case p == "..":
			return refuse("a path out of the working directory")
		case i < len(parts)-1 && strings.HasPrefix(p, ".") && p != ".":
			return refuse("a directory whose name starts with a dot")
		}
	}
	return nil
}
