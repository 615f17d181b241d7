package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/tokens"
	"github.com/spf13/cobra"
)

// lngetToken is a token as lnget v1.1.0's `tokens` prints it (domain,
// payment_hash, amount_sat, fee_sat, created, pending), with l402's
// fields (origin, state, created_at, valid_until, expired, caveats).
type lngetToken struct {
	tokens.View
	Domain  string `json:"domain"`
	Created string `json:"created"`
	Pending bool   `json:"pending"`
}

// lngetTokenOf is a view with lnget's fields; created is local time, as
// lnget writes it.
func lngetTokenOf(v tokens.View) lngetToken {
	return lngetToken{View: v, Domain: tokens.Domain(v.Origin),
		Created: v.CreatedAt.Local().Format(time.DateTime),
		Pending: v.State == "pending"}
}

// newLngetTokensCmd builds lnget's `tokens` over tokens' store: list,
// show, remove and clear, in the store of lnget's tokens.dir.
func newLngetTokensCmd(streams cli.IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List, show, remove and clear bought tokens",
	}
	var (
		fields string
		limit  int
		ndjson bool
		force  bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens and pending payments",
		Args:  cli.ExactArgs(0),
		RunE: lngetStore(func(c *cobra.Command, s *tokens.Store) error {
			views, err := s.Views(c.Context(), time.Now())
			if err != nil {
				return err
			}
			if limit > 0 && limit < len(views) {
				views = views[:limit]
			}
			if !lngetJSON(c, streams) {
				if len(views) == 0 {
					_, err := fmt.Fprintln(streams.Out, "No tokens stored.")
					return err
				}
				h, rows := viewRows(views)
				return cli.WriteTable(streams.Out, streams.OutTTY, h, rows)
			}
			items := make([]any, 0, len(views))
			for _, v := range views {
				item, err := lngetFields(lngetTokenOf(v), fields)
				if err != nil {
					return err
				}
				items = append(items, item)
			}
			if ndjson {
				for _, item := range items {
					if err := cli.WriteJSON(streams.Out, item); err != nil {
						return err
					}
				}
				return nil
			}
			return writeIndented(streams, items)
		}),
	}
	list.Flags().StringVar(&fields, "fields", "", "only these JSON "+
		"fields, comma-separated (domain,amount_sat)")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	list.Flags().BoolVar(&ndjson, "ndjson", false, "one JSON object a line")

	show := &cobra.Command{
		Use:   "show DOMAIN|ORIGIN",
		Short: "Show the token of a host[:port], an origin or a URL",
		Args:  cli.ExactArgs(1),
		RunE: lngetStore(func(c *cobra.Command, s *tokens.Store) error {
			origin, err := resolveTokenName(c, s, c.Flags().Arg(0))
			if err != nil {
				return err
			}
			v, err := s.Show(c.Context(), origin, time.Now())
			if err != nil {
				return err
			}
			if lngetJSON(c, streams) {
				return writeIndented(streams, lngetTokenOf(v))
			}
			h, rows := viewRows([]tokens.View{v})
			return cli.WriteTable(streams.Out, streams.OutTTY, h, rows)
		}),
	}
	remove := &cobra.Command{
		Use:   "remove DOMAIN|ORIGIN",
		Short: "Remove the token of a host[:port], an origin or a URL",
		Args:  cli.ExactArgs(1),
		RunE: lngetStore(func(c *cobra.Command, s *tokens.Store) error {
			origin, err := resolveTokenName(c, s, c.Flags().Arg(0))
			if err != nil {
				return err
			}
			if err := s.RemoveToken(c.Context(), origin); err != nil {
				return err
			}
			_, err = fmt.Fprintf(streams.Out, "Removed token for %s\n",
				c.Flags().Arg(0))
			return err
		}),
	}
	clear := &cobra.Command{
		Use:   "clear",
		Short: "Remove every token (pending payments and the ledger stay)",
		Args:  cli.ExactArgs(0),
		RunE: lngetStore(func(c *cobra.Command, s *tokens.Store) error {
			if !force {
				if !streams.OutTTY || !streams.InTTY {
					return cli.Usage(errors.New("--force required in " +
						"non-interactive mode"))
				}
				fmt.Fprint(streams.Out, "Remove every token? [y/N] ")
				line, _ := bufio.NewReader(streams.In).ReadString('\n')
				if a := strings.TrimSpace(line); a != "y" && a != "Y" {
					_, err := fmt.Fprintln(streams.Out, "Aborted.")
					return err
				}
			}
			n, err := s.Clear(c.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(streams.Out, "Cleared %d token(s).\n", n)
			return err
		}),
	}
	clear.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	cmd.AddCommand(list, show, remove, clear)
	return cmd
}

// lngetStore runs body with the token store the link's fetches use:
// l402's tokens.db (fetch.LngetConfig.Fetch says why).
func lngetStore(body func(*cobra.Command, *tokens.Store) error) func(
	*cobra.Command, []string) error {

	return func(c *cobra.Command, _ []string) error {
		lc, err := lngetConfig(c)
		if err != nil {
			return err
		}
		fc, _, err := lc.Fetch()
		if err != nil {
			return err
		}
		s, err := tokens.Open(c.Context(), fc.TokenStore)
		if err != nil {
			return err
		}
		defer s.Close()
		return body(c, s)
	}
}

// lngetFields keeps only the named JSON fields of v (lnget's --fields);
// none named keeps them all. An unknown field is bad arguments.
func lngetFields(v any, fields string) (any, error) {
	if fields == "" {
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		val, ok := all[f]
		if !ok {
			return nil, cli.Usage(fmt.Errorf("--fields: no field %q", f))
		}
		out[f] = val
	}
	return out, nil
}

// writeIndented prints v as JSON indented by two spaces, as lnget does.
func writeIndented(streams cli.IO, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(streams.Out, "%s\n", b)
	return err
}
