package lnddetect

import (
	"fmt"
	"strings"
)

// Networks are the networks lnd runs on, by the names of its directories
// under data/chain/bitcoin (lncfg.NormalizeNetwork) and of GetInfo's
// chains[].network.
var Networks = []string{
	"mainnet", "testnet", "testnet4", "signet", "regtest", "simnet",
}

// NormalizeNetwork returns lnd's directory name for a network name given
// by a user: "testnet3" is lnd's "testnet". It fails on names lnd does not
// know.
func NormalizeNetwork(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "testnet3" {
		n = "testnet"
	}
	for _, known := range Networks {
		if n == known {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown network %q: use one of %s", name,
		strings.Join(Networks, ", "))
}

// sprintf is fmt.Sprintf, named short for notes.
func sprintf(format string, args ...any) string {
	return fmt.Sprintf(format, args...)
}
