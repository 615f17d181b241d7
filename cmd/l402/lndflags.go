package main

import (
	"github.com/l402/l402/internal/lndconn"
	"github.com/spf13/pflag"
)

// addLndFlags registers the flags that say where lnd is, the same for
// every command that needs a node; withMacaroon adds --macaroon, for a
// command that calls lnd with a macaroon the user may name (bake).
func addLndFlags(fs *pflag.FlagSet, o *lndconn.Options, withMacaroon bool) {
	fs.StringVar(&o.LndDir, "lnddir", "", "lnd's directory (default: "+
		"found)")
	fs.StringVar(&o.Network, "network", "", "mainnet, testnet, testnet4, "+
		"signet, regtest or simnet (default: found)")
	fs.StringVar(&o.Host, "lnd-host", "", "lnd's gRPC host:port "+
		"(default: from lnd.conf, else localhost:10009)")
	fs.StringVar(&o.TLSCertPath, "lnd-tls", "", "lnd's tls.cert "+
		"(default: found)")
	fs.StringVar(&o.MacaroonDir, "lnd-macdir", "", "lnd's macaroon "+
		"directory (default: found)")
	if withMacaroon {
		fs.StringVar(&o.Macaroon, "macaroon", "", "the macaroon to call "+
			"lnd with; baking needs macaroon:generate (default: "+
			"admin.macaroon in the macaroon directory)")
	}
}
