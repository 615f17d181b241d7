package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/tokens"
	"github.com/spf13/cobra"
)

// tokensFlags are shared by the tokens subcommands.
type tokensFlags struct {
	store       string
	asJSON      bool
	force       bool
	interactive bool

	// forget's: the fetch.yaml whose node is asked, and how long a
	// payment in flight is waited for.
	config string
	wait   time.Duration

	// history's filters.
	origin string
	since  string

	// close's transport.
	insecure bool
	cacert   string
}

// tokensRun is the body of one tokens subcommand: the open store and the
// ORIGIN argument, if the subcommand takes one.
type tokensRun func(c *cobra.Command, s *tokens.Store, origin string) error

// hashRun is the body of a tokens subcommand that takes a payment HASH.
type hashRun func(c *cobra.Command, s *tokens.Store, hash l402.Hash) error

// newTokensCmd builds `l402 tokens` and its subcommands.
func newTokensCmd(streams cli.IO) *cobra.Command {
	f := &tokensFlags{}
	cmd := &cobra.Command{
		Use: "tokens",
		Short: "List, show, remove, clear, export and import bought " +
			"tokens; list and settle pending payments; the spending " +
			"history and totals",
	}
	cmd.PersistentFlags().StringVar(&f.store, "store", "", "token store "+
		"(default: tokenstore of fetch.yaml, else ~/.l402/tokens.db)")
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print JSON")

	clear := f.sub("clear", "Remove every token (pending payments and "+
		"the ledger stay)", f.clear(streams))
	clear.Flags().BoolVar(&f.force, "force", false, "clear without asking")
	clear.Flags().BoolVarP(&f.interactive, "interactive", "i", false,
		"ask before clearing (needs a terminal)")
	forget := f.hashSub("forget HASH", "Ask the node about a pending "+
		"payment: forget it if it failed or was never made, store its "+
		"token if it succeeded", f.forget(streams))
	forget.Flags().StringVar(&f.config, "config", "", "fetch config whose "+
		"node is asked (default ~/.l402/fetch.yaml)")
	forget.Flags().DurationVar(&f.wait, "wait", fetch.DefaultForgetWait,
		"how long to wait for a payment in flight to end")
	history := f.sub("history", "Every payment, newest first: amount, "+
		"fee, scheme, kind, origin, payment hash and time, from the "+
		"ledger, and the pending ones", f.history(streams))
	history.Flags().StringVar(&f.origin, "origin", "", "only this origin's "+
		"payments (https://host[:port], or any URL of it)")
	history.Flags().StringVar(&f.since, "since", "", "only payments since "+
		"then: a duration back from now (24h, 7d), an RFC 3339 time or a "+
		"date (2026-05-01)")
	closeCmd := f.sub("close ORIGIN", "Close the origin's Payment session "+
		"and take the refund of its balance (ORIGIN: an origin or a URL "+
		"of it)", f.closeSession(streams))
	closeCmd.Flags().BoolVarP(&f.insecure, "insecure", "k", false, "do not "+
		"verify the server's TLS certificate")
	closeCmd.Flags().StringVar(&f.cacert, "cacert", "", "trust the "+
		"certificates of this PEM file, not the system's")
	cmd.AddCommand(
		f.sub("list", "List tokens, Payment sessions (with their balance) "+
			"and pending payments", f.list(streams)),
		closeCmd,
		f.nameSub("show ORIGIN", "Show one origin's token and its caveats "+
			"(ORIGIN: an origin, a URL, or lnget's host[:port])",
			f.show(streams)),
		f.nameSub("remove ORIGIN", "Remove one origin's token (an origin, "+
			"a URL, or lnget's host[:port])", f.remove(streams)),
		clear,
		f.sub("pending", "List pending payments with their invoices' "+
			"expiry", f.pending(streams)),
		forget,
		history,
		f.sub("stats", "Spending per origin, from the ledger",
			f.stats(streams)),
		f.nameSub("export ORIGIN", "Print a token in the L402 header "+
			"form (a secret)", f.export(streams)),
		f.sub("import ORIGIN", "Store a token read from stdin in the "+
			"L402 header form", f.importToken(streams)),
	)
	return cmd
}

// sub builds one subcommand: it takes ORIGIN when use names it, and runs
// with the open store.
func (f *tokensFlags) sub(use, short string, run tokensRun) *cobra.Command {
	return f.subNamed(use, short, run, false)
}

// nameSub is sub for a subcommand about a token held: its ORIGIN may
// also be lnget's host[:port], the one token of that host and port.
func (f *tokensFlags) nameSub(use, short string,
	run tokensRun) *cobra.Command {

	return f.subNamed(use, short, run, true)
}

// subNamed builds sub's and nameSub's subcommands.
func (f *tokensFlags) subNamed(use, short string, run tokensRun,
	held bool) *cobra.Command {

	nargs := strings.Count(use, " ")
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cli.ExactArgs(nargs),
		RunE: func(c *cobra.Command, args []string) error {
			origin := ""
			if nargs == 1 && !(held && tokens.IsDomain(args[0])) {
				o, err := tokens.ParseOrigin(args[0])
				if err != nil {
					return cli.Usage(err)
				}
				origin = o
			}
			s, err := openTokenStore(c, f.store, "")
			if err != nil {
				return err
			}
			defer s.Close()
			if nargs == 1 && origin == "" {
				if origin, err = resolveTokenName(c, s, args[0]); err != nil {
					return err
				}
			}
			return run(c, s, origin)
		},
	}
}

// resolveTokenName returns the origin of the token name calls for: an
// origin, a URL, or lnget's host[:port]. A name of no form, or a domain
// of two origins, is bad arguments.
func resolveTokenName(c *cobra.Command, s *tokens.Store, name string) (
	string, error) {

	o, err := s.ResolveName(c.Context(), name)
	if errors.Is(err, tokens.ErrAmbiguous) || errors.Is(err,
		tokens.ErrBadName) {
		return "", cli.Usage(err)
	}
	return o, err
}

// hashSub builds a subcommand that takes a payment HASH (64 hex digits)
// and runs with the open store.
func (f *tokensFlags) hashSub(use, short string, run hashRun) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			hash, err := l402.ParseHash(args[0])
			if err != nil {
				return cli.Usage(fmt.Errorf("HASH must be a payment hash, "+
					"64 hex digits as `l402 tokens pending` shows it: %w",
					err))
			}
			s, err := openTokenStore(c, f.store, f.config)
			if err != nil {
				return err
			}
			defer s.Close()
			return run(c, s, hash)
		},
	}
}

// pending prints every pending payment.
func (f *tokensFlags) pending(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, _ string) error {
		views, err := s.PendingViews(c.Context(), time.Now())
		if err != nil || f.asJSON {
			return orJSON(err, streams, views)
		}
		var rows [][]string
		for _, v := range views {
			expires := "-"
			if v.InvoiceExpiresAt != nil {
				expires = v.InvoiceExpiresAt.Format(time.RFC3339)
				if v.InvoiceExpired {
					expires += " (expired)"
				}
			}
			rows = append(rows, []string{v.Origin, v.PaymentHash,
				fmt.Sprintf("%d sat", v.AmountSat),
				fmt.Sprintf("%d sat", v.MaxFeeSat),
				v.CreatedAt.Format(time.RFC3339), expires})
		}
		return cli.WriteTable(streams.Out, streams.OutTTY, []string{
			"ORIGIN", "PAYMENT HASH", "AMOUNT", "MAX FEE", "RECORDED",
			"INVOICE EXPIRES"}, rows)
	}
}

// forget asks the node about one pending payment and settles it.
func (f *tokensFlags) forget(streams cli.IO) hashRun {
	return func(c *cobra.Command, s *tokens.Store, hash l402.Hash) error {
		ctx, stop := cli.Interruptible()
		defer stop()
		rep, err := fetch.Forget(ctx, fetch.ForgetOptions{
			ConfigPath: f.config, Store: s, Hash: hash, Wait: f.wait,
			Node: fetchNode})
		if err != nil {
			return err
		}
		line := fmt.Sprintf("forgot the pending payment %s for %s: the "+
			"node says it was never made; nothing was paid", hash,
			rep.Origin)
		switch {
		case rep.Outcome == "completed":
			line = fmt.Sprintf("the node paid %s for %s (%d sat, fee %d "+
				"sat): its token is stored", hash, rep.Origin,
				rep.AmountSat, rep.FeeSat)
		case rep.NodeStatus == "failed":
			line = fmt.Sprintf("forgot the pending payment %s for %s: "+
				"the node says it failed (%s); nothing was paid", hash,
				rep.Origin, rep.FailureReason)
		}
		return report(streams, f.asJSON, rep, line)
	}
}

// list prints every token and pending payment.
func (f *tokensFlags) list(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, _ string) error {
		views, err := s.Views(c.Context(), time.Now())
		if err == nil {
			var sessions []tokens.View
			sessions, err = s.SessionViews(c.Context())
			views = append(views, sessions...)
		}
		if err != nil || f.asJSON {
			if views == nil {
				views = []tokens.View{}
			}
			return orJSON(err, streams, views)
		}
		h, rows := viewRows(views)
		return cli.WriteTable(streams.Out, streams.OutTTY, h, rows)
	}
}

// closeSession closes the origin's Payment session and prints the
// refund.
func (f *tokensFlags) closeSession(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, origin string) error {
		ctx, stop := cli.Interruptible()
		defer stop()
		rep, err := fetch.CloseSession(ctx, fetch.RunOptions{
			Insecure: f.insecure, CACert: f.cacert}, s, origin)
		if err != nil {
			return err
		}
		return report(streams, f.asJSON, rep, fmt.Sprintf("closed the "+
			"session %s at %s: refund %d sat, %s (status %s)",
			rep.SessionID, rep.Origin, rep.RefundSat, rep.RefundStatus,
			rep.Status))
	}
}

// show prints one origin's token with its caveats.
func (f *tokensFlags) show(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, origin string) error {
		v, err := s.Show(c.Context(), origin, time.Now())
		if err != nil || f.asJSON {
			return orJSON(err, streams, v)
		}
		h, rows := viewRows([]tokens.View{v})
		if err := cli.WriteTable(streams.Out, streams.OutTTY, h,
			rows); err != nil {
			return err
		}
		_, err = fmt.Fprintf(streams.Out, "caveats: %s\n",
			strings.Join(v.Caveats, " "))
		return err
	}
}

// remove deletes one origin's token.
func (f *tokensFlags) remove(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, origin string) error {
		if err := s.RemoveToken(c.Context(), origin); err != nil {
			return err
		}
		return report(streams, f.asJSON, map[string]any{
			"removed": origin}, "removed the token for "+origin)
	}
}

// clear removes every token after --force or a yes on the terminal.
func (f *tokensFlags) clear(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, _ string) error {
		if !f.force {
			// Asking needs a terminal and the flag that asks for it.
			if !f.interactive || !streams.InTTY || !streams.ErrTTY {
				return cli.Usage(errors.New("tokens clear removes every " +
					"token: pass --force, or --interactive on a terminal " +
					"to be asked"))
			}
			if !confirm(streams, "Remove every token? [y/N] ") {
				return errors.New("not cleared")
			}
		}
		n, err := s.Clear(c.Context())
		if err != nil {
			return err
		}
		return report(streams, f.asJSON, map[string]any{"removed": n},
			fmt.Sprintf("removed %d token(s)", n))
	}
}

// stats prints the spending per origin and in all.
func (f *tokensFlags) stats(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, _ string) error {
		sp, err := s.Spending(c.Context())
		if err != nil || f.asJSON {
			return orJSON(err, streams, sp)
		}
		var table [][]string
		for _, r := range append(sp.Origins, tokens.OriginSpending{
			Origin: "total", Payments: sp.Payments,
			AmountSat: sp.SpentSat, FeeSat: sp.FeesSat}) {

			table = append(table, []string{r.Origin,
				fmt.Sprint(r.Payments), fmt.Sprintf("%d sat", r.AmountSat),
				fmt.Sprintf("%d sat", r.FeeSat)})
		}
		return cli.WriteTable(streams.Out, streams.OutTTY,
			[]string{"ORIGIN", "PAYMENTS", "SPENT", "FEES"}, table)
	}
}

// history prints the payments --origin and --since select.
func (f *tokensFlags) history(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, _ string) error {
		var filter tokens.HistoryFilter
		if f.origin != "" {
			o, err := tokens.ParseOrigin(f.origin)
			if err != nil {
				return cli.Usage(fmt.Errorf("--origin: %w", err))
			}
			filter.Origin = o
		}
		if f.since != "" {
			t, err := tokens.ParseSince(f.since, time.Now())
			if err != nil {
				return cli.Usage(fmt.Errorf("--since: %w", err))
			}
			filter.Since = t
		}
		entries, err := s.History(c.Context(), filter)
		if err != nil || f.asJSON {
			if entries == nil {
				entries = []tokens.Entry{}
			}
			return orJSON(err, streams, entries)
		}
		rows := make([][]string, 0, len(entries))
		for _, e := range entries {
			rows = append(rows, []string{e.Time.Format(time.RFC3339),
				e.Kind, e.State, e.Scheme, e.Origin,
				fmt.Sprintf("%d sat", e.AmountSat),
				fmt.Sprintf("%d sat", e.FeeSat), e.PaymentHash})
		}
		return cli.WriteTable(streams.Out, streams.OutTTY, []string{"TIME",
			"KIND", "STATE", "SCHEME", "ORIGIN", "AMOUNT", "FEE",
			"PAYMENT HASH"}, rows)
	}
}

// export prints a token in the L402 header form.
func (f *tokensFlags) export(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, origin string) error {
		h, err := s.Export(c.Context(), origin)
		if err != nil || f.asJSON {
			return orJSON(err, streams, map[string]string{
				"origin": origin, "token": h})
		}
		_, err = fmt.Fprintln(streams.Out, h)
		return err
	}
}

// importToken stores a token read from stdin in the L402 header form.
func (f *tokensFlags) importToken(streams cli.IO) tokensRun {
	return func(c *cobra.Command, s *tokens.Store, origin string) error {
		b, err := io.ReadAll(io.LimitReader(streams.In, 1<<20))
		if err != nil {
			return err
		}
		t, err := s.Import(c.Context(), origin, string(b), time.Now())
		if errors.Is(err, tokens.ErrBadToken) {
			return cli.Usage(err)
		}
		if err != nil {
			return err
		}
		return report(streams, f.asJSON, map[string]string{
			"imported": origin, "payment_hash": t.PaymentHash.String()},
			"imported a token for "+origin)
	}
}

// orJSON returns err, or prints v as JSON when there is none.
func orJSON(err error, streams cli.IO, v any) error {
	if err != nil {
		return err
	}
	return cli.WriteJSON(streams.Out, v)
}

// openTokenStore opens the store named by --store, else the tokenstore of
// the fetch.yaml at cfgPath ("": the default one, which may be missing).
func openTokenStore(c *cobra.Command, path, cfgPath string) (*tokens.Store,
	error) {

	if path == "" {
		explicit := cfgPath != ""
		if !explicit {
			var err error
			if cfgPath, err = fetch.DefaultConfigPath(); err != nil {
				return nil, err
			}
		}
		cfg, err := fetch.LoadConfig(cfgPath, explicit)
		if err != nil {
			return nil, err
		}
		path = cfg.TokenStore
	}
	return tokens.Open(c.Context(), path)
}

// report prints a small result: JSON, or a line on stderr for humans.
func report(streams cli.IO, asJSON bool, v any, line string) error {
	if asJSON {
		return cli.WriteJSON(streams.Out, v)
	}
	_, err := fmt.Fprintf(streams.ErrOut, "l402: %s\n", line)
	return err
}

// confirm asks a yes/no question on the terminal.
func confirm(streams cli.IO, question string) bool {
	fmt.Fprint(streams.ErrOut, question)
	line, _ := bufio.NewReader(streams.In).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

// viewRows turns views into table rows.
func viewRows(views []tokens.View) (header []string, rows [][]string) {
	header = []string{"ORIGIN", "STATE", "AMOUNT", "FEE", "BOUGHT",
		"VALID UNTIL"}
	for _, v := range views {
		until := "-"
		if v.BalanceSat != nil {
			// A session: its balance, in the last column.
			until = fmt.Sprintf("balance %d sat", *v.BalanceSat)
		}
		if v.ValidUntil != nil {
			until = v.ValidUntil.Format(time.RFC3339)
			if v.Expired {
				until += " (expired)"
			}
		}
		rows = append(rows, []string{v.Origin, v.State,
			fmt.Sprintf("%d sat", v.AmountSat),
			fmt.Sprintf("%d sat", v.FeeSat),
			v.CreatedAt.Format(time.RFC3339), until})
	}
	return header, rows
}
