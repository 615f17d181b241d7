package lnddetect

import (
	"context"
	"fmt"
)

// NodeInfo is what GetInfo says about the node.
type NodeInfo struct {
	Alias  string
	Pubkey string

	// Chain and Network are GetInfo's chains[0]: "bitcoin", and
	// "mainnet", "testnet", "testnet4", "signet", "regtest" or "simnet".
	Chain   string
	Network string

	SyncedToChain bool
}

// String sums the node up for humans: alias, pubkey, network and whether
// it is synced to the chain.
func (i NodeInfo) String() string {
	synced := "synced to chain"
	if !i.SyncedToChain {
		synced = "not yet synced to chain (lnd is catching up; " +
			"invoices and payments may fail until it is)"
	}
	return fmt.Sprintf("%s (%s) on %s %s, %s", i.Alias, i.Pubkey,
		i.Chain, i.Network, synced)
}

// Prober calls lnd's GetInfo at host with the TLS certificate and the
// macaroon at the given paths. It is the only network call of this
// package, and the caller supplies it.
type Prober interface {
	Probe(ctx context.Context, host, tlsCertPath,
		macaroonPath string) (NodeInfo, error)
}

// NetworkError says that lnd runs on another chain or network than the
// one l402 was told.
type NetworkError struct {
	Want       string
	GotChain   string
	GotNetwork string
}

// Error implements error.
func (e *NetworkError) Error() string {
	if e.GotChain != "bitcoin" {
		return fmt.Sprintf("lnd runs on chain %q, but l402 works with "+
			"bitcoin only: point --lnddir or --lnd-host at a "+
			"bitcoin node", e.GotChain)
	}
	return fmt.Sprintf("lnd runs on %s, not %s: pass --network %s, or "+
		"point --lnddir or --lnd-host at your %s node", e.GotNetwork,
		e.Want, e.GotNetwork, e.Want)
}

// VerifyNetwork checks that the node is on bitcoin and on the network
// want ("testnet3" is "testnet"). It returns a *NetworkError if not.
func VerifyNetwork(want string, info NodeInfo) error {
	norm, err := NormalizeNetwork(want)
	if err != nil {
		return err
	}
	if info.Chain != "" && info.Chain != "bitcoin" {
		return &NetworkError{Want: norm, GotChain: info.Chain,
			GotNetwork: info.Network}
	}
	got, err := NormalizeNetwork(info.Network)
	if err != nil || got != norm {
		return &NetworkError{Want: norm, GotChain: "bitcoin",
			GotNetwork: info.Network}
	}
	return nil
}

// VerifyError says why Verify failed; its message is Diagnose's.
type VerifyError struct {
	Cause Cause
	Host  string
	Err   error
}

// Error implements error.
func (e *VerifyError) Error() string { return diagnose(e.Err, e.Host) }

// Unwrap returns the underlying error.
func (e *VerifyError) Unwrap() error { return e.Err }

// Verify calls GetInfo on the lnd r describes, with the named macaroon,
// and checks that the node is on r's network. With an empty name it uses
// readonly, else admin: GetInfo needs info:read, which invoice.macaroon
// lacks. Errors are *VerifyError.
func Verify(ctx context.Context, p Prober, r *Result,
	macaroon string) (NodeInfo, error) {

	if _, err := r.TLSCert(); err != nil {
		return NodeInfo{}, r.verifyError(err)
	}
	macPath, err := r.Macaroon(r.probeMacaroon(macaroon))
	if err != nil {
		return NodeInfo{}, r.verifyError(err)
	}
	return VerifyWith(ctx, p, r, macPath)
}

// VerifyWith is Verify with the macaroon file at macaroonPath, which may
// lie outside lnd's macaroon directory (bake's --macaroon). Errors are
// *VerifyError.
func VerifyWith(ctx context.Context, p Prober, r *Result,
	macaroonPath string) (NodeInfo, error) {

	cert, err := r.TLSCert()
	if err != nil {
		return NodeInfo{}, r.verifyError(err)
	}
	info, err := p.Probe(ctx, r.RPCHost, cert, macaroonPath)
	if err != nil {
		return NodeInfo{}, r.verifyError(err)
	}
	if r.Network != "" {
		if err := VerifyNetwork(r.Network, info); err != nil {
			return NodeInfo{}, r.verifyError(err)
		}
	}
	return info, nil
}

// verifyError is err as a *VerifyError for a call to r's host.
func (r *Result) verifyError(err error) error {
	return &VerifyError{Cause: Classify(err), Host: r.RPCHost, Err: err}
}

// probeMacaroon picks the macaroon to call GetInfo with: the named one,
// else readonly, else admin.
func (r *Result) probeMacaroon(name string) string {
	if name != "" {
		return name
	}
	for _, candidate := range []string{"readonly", "admin"} {
		if m, ok := r.Macaroons[candidate]; ok && m.Problem == "" {
			return candidate
		}
	}
	if _, ok := r.Macaroons["readonly"]; ok {
		return "readonly"
	}
	return "admin"
}
