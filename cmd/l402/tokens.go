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
	"github.com/l402/l402/tokens"
	"github.com/spf13/cobra"
)

// tokensFlags are shared by the tokens subcommands.
type tokensFlags struct {
	store       string
	asJSON      bool
	force       bool
	interactive bool
}

// tokensRun is the body of one tokens subcommand, given the open store.
type tokensRun func(*tokens.Store, *cobra.Command, []string) error

// newTokensCmd builds `l402 tokens` and its subcommands.
func newTokensCmd(streams cli.IO) *cobra.Command {
	f := &tokensFlags{}
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List, show, remove, clear, export and import bought tokens",
	}
	cmd.PersistentFlags().StringVar(&f.store, "store", "", "token store "+
		"(default: tokenstore of fetch.yaml, else ~/.l402/tokens.db)")
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print JSON")

	cmd.AddCommand(
		f.sub("list", "List tokens and pending payments", 0,
			f.list(streams)),
		f.sub("show ORIGIN", "Show one origin's token and its caveats",
			1, f.show(streams)),
		f.sub("remove ORIGIN", "Remove one origin's token", 1,
			f.remove(streams)),
		f.clearCmd(streams),
		f.sub("stats", "Spending per origin, from the ledger", 0,
			f.stats(streams)),
		f.sub("export ORIGIN", "Print a token in the L402 header form "+
			"(a secret)", 1, f.export(streams)),
		f.sub("import ORIGIN", "Store a token read from stdin in the "+
			"L402 header form", 1, f.importToken(streams)),
	)
	return cmd
}

// sub builds one subcommand that takes nargs arguments and runs with the
// open store.
func (f *tokensFlags) sub(use, short string, nargs int,
	run tokensRun) *cobra.Command {

	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != nargs {
				return cli.Usage(fmt.Errorf("%s takes %d argument(s), "+
					"got %d", c.CommandPath(), nargs, len(args)))
			}
			s, err := openTokenStore(c, f.store)
			if err != nil {
				return err
			}
			defer s.Close()
			return run(s, c, args)
		},
	}
}

// list prints every token and pending payment.
func (f *tokensFlags) list(streams cli.IO) tokensRun {
	return func(s *tokens.Store, c *cobra.Command, _ []string) error {
		views, err := s.Views(c.Context(), time.Now())
		if err != nil {
			return err
		}
		if f.asJSON {
			if views == nil {
				views = []tokens.View{}
			}
			return cli.WriteJSON(streams.Out, views)
		}
		h, rows := viewRows(views)
		return cli.WriteTable(streams.Out, streams.OutTTY, h, rows)
	}
}

// show prints one origin's token with its caveats.
func (f *tokensFlags) show(streams cli.IO) tokensRun {
	return func(s *tokens.Store, c *cobra.Command, args []string) error {
		origin, err := originArg(args[0])
		if err != nil {
			return err
		}
		v, err := s.Show(c.Context(), origin, time.Now())
		if err != nil {
			return err
		}
		if f.asJSON {
			return cli.WriteJSON(streams.Out, v)
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
	return func(s *tokens.Store, c *cobra.Command, args []string) error {
		origin, err := originArg(args[0])
		if err != nil {
			return err
		}
		if err := s.RemoveToken(c.Context(), origin); err != nil {
			return err
		}
		return report(streams, f.asJSON, map[string]any{
			"removed": origin}, "removed the token for "+origin)
	}
}

// clearCmd builds `tokens clear`, which removes every token after
// --force or a yes on the terminal.
func (f *tokensFlags) clearCmd(streams cli.IO) *cobra.Command {
	clear := f.sub("clear", "Remove every token (pending payments and "+
		"the ledger stay)", 0, func(s *tokens.Store, c *cobra.Command,
		_ []string) error {

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
	})
	clear.Flags().BoolVar(&f.force, "force", false, "clear without asking")
	clear.Flags().BoolVarP(&f.interactive, "interactive", "i", false,
		"ask before clearing (needs a terminal)")
	return clear
}

// stats prints the spending per origin and in all.
func (f *tokensFlags) stats(streams cli.IO) tokensRun {
	return func(s *tokens.Store, c *cobra.Command, _ []string) error {
		sp, err := s.Spending(c.Context())
		if err != nil {
			return err
		}
		if f.asJSON {
			return cli.WriteJSON(streams.Out, sp)
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

// export prints a token in the L402 header form.
func (f *tokensFlags) export(streams cli.IO) tokensRun {
	return func(s *tokens.Store, c *cobra.Command, args []string) error {
		origin, err := originArg(args[0])
		if err != nil {
			return err
		}
		h, err := s.Export(c.Context(), origin)
		if err != nil {
			return err
		}
		if f.asJSON {
			return cli.WriteJSON(streams.Out, map[string]string{
				"origin": origin, "token": h})
		}
		_, err = fmt.Fprintln(streams.Out, h)
		return err
	}
}

// importToken stores a token read from stdin in the L402 header form.
func (f *tokensFlags) importToken(streams cli.IO) tokensRun {
	return func(s *tokens.Store, c *cobra.Command, args []string) error {
		origin, err := originArg(args[0])
		if err != nil {
			return err
		}
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

// openTokenStore opens the store named by --store, else fetch.yaml's.
func openTokenStore(c *cobra.Command, path string) (*tokens.Store, error) {
	if path == "" {
		cfgPath, err := fetch.DefaultConfigPath()
		if err != nil {
			return nil, err
		}
		cfg, err := fetch.LoadConfig(cfgPath, false)
		if err != nil {
			return nil, err
		}
		path = cfg.TokenStore
	}
	return tokens.Open(c.Context(), path)
}

// originArg parses an ORIGIN argument as bad arguments when wrong.
func originArg(s string) (string, error) {
	o, err := tokens.ParseOrigin(s)
	if err != nil {
		return "", cli.Usage(err)
	}
	return o, nil
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
