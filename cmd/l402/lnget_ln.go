package main

import (
	"context"
	"fmt"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/spf13/cobra"
)

// lngetBackendStatus is lnget v1.1.0's `ln status` JSON. l402's node
// interface has no wallet balance: balance_sat is never set.
type lngetBackendStatus struct {
	Type          string `json:"type"`
	Connected     bool   `json:"connected"`
	NodePubKey    string `json:"node_pubkey,omitempty"`
	Alias         string `json:"alias,omitempty"`
	Network       string `json:"network,omitempty"`
	SyncedToChain bool   `json:"synced_to_chain,omitempty"`
	BlockHeight   uint32 `json:"block_height,omitempty"`
	Version       string `json:"version,omitempty"`
	Error         string `json:"error,omitempty"`
}

// newLngetLNCmd builds lnget's `ln` with `ln status`: the node of
// lnget's config, asked for its info (GetInfo) the way fetch reaches it.
// A node that cannot be reached is a status, not an error, as in lnget.
func newLngetLNCmd(streams cli.IO) *cobra.Command {
	cmd := &cobra.Command{Use: "ln", Short: "The Lightning backend"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Ask the paying node for its alias, network and sync",
		Args:  cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			lc, err := lngetConfig(c)
			if err != nil {
				return err
			}
			cfg, _, err := lc.Fetch()
			if err != nil {
				return err
			}
			st := lngetBackendStatus{Type: lc.LN.Mode}
			ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
			defer cancel()
			node, err := fetchNode(cfg, nil)
			switch {
			case err != nil:
				st.Error = err.Error()
			case node == nil:
				st.Error = "no Lightning backend configured (ln.mode " +
					lc.LN.Mode + ")"
			default:
				defer node.Close()
				info, err := node.Info(ctx)
				if err != nil {
					st.Error = err.Error()
					break
				}
				st.Connected = true
				st.NodePubKey, st.Alias, st.Network = info.Pubkey,
					info.Alias, info.Network
				st.SyncedToChain, st.BlockHeight, st.Version = info.Synced,
					info.BlockHeight, info.Version
			}
			if lngetJSON(c, streams) {
				return writeIndented(streams, st)
			}
			fmt.Fprintf(streams.Out, "Backend: %s\n", st.Type)
			if !st.Connected {
				fmt.Fprintln(streams.Out, "Status: disconnected")
				if st.Error != "" {
					fmt.Fprintf(streams.Out, "Error: %s\n", st.Error)
				}
				return nil
			}
			fmt.Fprintf(streams.Out, "Status: connected\nNode: %s\n"+
				"Alias: %s\nNetwork: %s\nSynced: %v\n", st.NodePubKey,
				st.Alias, st.Network, st.SyncedToChain)
			return nil
		},
	})
	return cmd
}
