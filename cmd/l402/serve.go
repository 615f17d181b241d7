package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

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
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := config.Home()
			if err != nil {
				return err
			}
			if configPath == "" {
				configPath = filepath.Join(dir, "serve.yaml")
			}

			// SIGTERM and SIGINT end the context: serve drains.
			ctx, stop := signal.NotifyContext(context.Background(),
				syscall.SIGTERM, os.Interrupt)
			defer stop()
			reload, stopReload := reloadOnHangup()
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
	return cmd
}

// reloadOnHangup turns each SIGHUP into a value on the returned channel
// until stop is called (after serve.Run returned: a SIGHUP while serve
// drains must not kill it). SIGHUPs that arrive while a reload is still
// pending are folded into it: the config is read once, after the last
// edit.
func reloadOnHangup() (reload <-chan struct{}, stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, func() {
		signal.Stop(hup)
		close(done)
	}
}
