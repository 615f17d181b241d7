package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/atomicfile"
	"github.com/l402/l402/internal/cli"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// newLngetConfigCmd builds lnget's `config`: init, show and path, of
// ~/.lnget/config.yaml (or --config).
func newLngetConfigCmd(streams cli.IO) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "lnget's config file"}
	path := func(c *cobra.Command) (string, error) {
		if p, _ := c.Flags().GetString("config"); p != "" {
			return p, nil
		}
		return fetch.LngetConfigPath()
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "path",
		Short: "Print the config file's path",
		Args:  cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			p, err := path(c)
			if err != nil {
				return err
			}
			if lngetJSON(c, streams) {
				return writeIndented(streams, map[string]string{"path": p})
			}
			_, err = fmt.Fprintln(streams.Out, p)
			return err
		},
	}, &cobra.Command{
		Use:   "show",
		Short: "Print the config in force: the file, LNGET_* and defaults",
		Args:  cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			lc, err := lngetConfig(c)
			if err != nil {
				return err
			}
			if lngetJSON(c, streams) {
				return writeIndented(streams, lc)
			}
			lc.LN.LNC.PairingPhrase = ""
			b, err := yaml.Marshal(lc)
			if err != nil {
				return err
			}
			_, err = streams.Out.Write(b)
			return err
		},
	}, &cobra.Command{
		Use:   "init",
		Short: "Write the default config file (never over one)",
		Args:  cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			p, err := path(c)
			if err != nil {
				return err
			}
			lc, err := fetch.DefaultLngetConfig()
			if err != nil {
				return err
			}
			b, err := yaml.Marshal(lc)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			err = atomicfile.WriteNew(p, b, 0o600)
			if errors.Is(err, atomicfile.ErrExists) {
				return fmt.Errorf("config file already exists: %s", p)
			}
			if err != nil {
				return err
			}
			if lngetJSON(c, streams) {
				return writeIndented(streams, map[string]any{
					"created": true, "path": p})
			}
			_, err = fmt.Fprintf(streams.Out, "Created config file: %s\n", p)
			return err
		},
	})
	return cmd
}
