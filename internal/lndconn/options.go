// Package lndconn is the one way a command finds the local lnd and dials
// it (setup, bake); every failure is an lnddetect.Problem.
package lndconn

import (
	"fmt"
	"path/filepath"

	"github.com/l402/l402/internal/lnddetect"
)

// Options say where lnd is and which macaroon to call it with: the lnd
// connection flags, and the user's environment for finding lnd. Empty
// fields are found (lnddetect).
type Options struct {
	// LndDir is --lnddir: lnd's base directory.
	LndDir string

	// Network is --network: mainnet, testnet, testnet4, signet, regtest
	// or simnet.
	Network string

	// Host is --lnd-host: lnd's gRPC address, host:port.
	Host string

	// TLSCertPath is --lnd-tls: lnd's tls.cert.
	TLSCertPath string

	// MacaroonDir is --lnd-macdir: the directory holding the macaroons.
	MacaroonDir string

	// Macaroon is --macaroon (bake): the macaroon file to call lnd
	// with; empty means the first usable of the names a Dial asks for.
	Macaroon string

	// Home and Getenv are the user's home directory and environment,
	// for finding lnd; empty and nil mean the process's (tests inject
	// them).
	Home   string
	Getenv func(string) string
}

// Check validates what can be checked without lnd, and writes the
// network in lnd's spelling.
func (o *Options) Check() error {
	if o.Network == "" {
		return nil
	}
	n, err := lnddetect.NormalizeNetwork(o.Network)
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	o.Network = n
	return nil
}

// Located reports whether a flag said where lnd is (--network and
// --macaroon alone do not).
func (o Options) Located() bool {
	return o.LndDir != "" || o.Host != "" || o.TLSCertPath != "" ||
		o.MacaroonDir != ""
}

// Given returns the flags that set a field, in the order they are
// registered, for commands that refuse them in a mode needing no lnd.
func (o Options) Given() []string {
	var given []string
	for _, f := range []struct{ name, value string }{
		{"lnddir", o.LndDir}, {"network", o.Network},
		{"lnd-host", o.Host}, {"lnd-tls", o.TLSCertPath},
		{"lnd-macdir", o.MacaroonDir}, {"macaroon", o.Macaroon},
	} {
		if f.value != "" {
			given = append(given, f.name)
		}
	}
	return given
}

// detect returns the options of lnddetect.Find. --lnd-host, --lnd-tls
// and --macaroon say enough for an lnd elsewhere: the macaroon's
// directory then stands for --lnd-macdir.
func (o Options) detect() lnddetect.Options {
	opts := lnddetect.Options{LndDir: o.LndDir, Network: o.Network,
		LndHost: o.Host, TLSCertPath: o.TLSCertPath,
		MacaroonDir: o.MacaroonDir, Home: o.Home, Getenv: o.Getenv}
	if opts.MacaroonDir == "" && o.Macaroon != "" && o.LndDir == "" {
		opts.MacaroonDir = filepath.Dir(o.Macaroon)
	}
	return opts
}
