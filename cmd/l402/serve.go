package main

import (
	"path/filepath"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/serve"
	"github.com/spf13/cobra"
)

// newServeCmd builds `l402 serve`.
func newServeCmd(streams cli.IO) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Sell HTTP APIs for Lightning payments (an L402 reverse proxy)",
		Long: "Serve the services of serve.yaml (Aperture's keys) behind L402: " +
			"requests\nwithout a paid token get a 402 challenge with an " +
			"invoice from lnd. SIGHUP\nreloads the config; SIGTERM drains " +
			"and stops. docs/serve-config.md lists\nthe keys and which are " +
			"not supported yet.",
		Args: cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := config.Home()
			if err != nil {
				return err
			}
			if configPath == "" {
				configPath = filepath.Join(dir, "serve.yaml")
			}

			// SIGTERM and SIGINT end the context: serve drains.
			ctx, stop := cli.Interruptible()
			defer stop()
			reload, stopReload := cli.Hangups()
			defer stopReload()
			return serve.Run(ctx, serve.RunOptions{
				ConfigPath: configPath,
				Dir:        dir,
				Log:        streams.ErrOut,
				Styled:     streams.ErrTTY,
				Reload:     reload,
			})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "serve config (default "+
		"~/.l402/serve.yaml)")
	cmd.Flags().StringVar(&configPath, "configfile", "", "Aperture's name "+
		"for --config, so that aperture's command line works")
	return cmd
}
