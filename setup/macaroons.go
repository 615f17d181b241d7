package setup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/internal/macaroons"
)

// Why setup chose a macaroon, as the report says it.
const (
	reasonBaked   = "baked now with lnd's admin.macaroon"
	reasonEarlier = "baked by an earlier l402 setup"
	reasonLndDir  = "found in lnd's macaroon directory"
)

// invoiceMacDir returns the directory holding the invoice.macaroon serve
// will use, and records the choice: setup's own invoice-only one (found,
// or baked now with the admin macaroon), else lnd's invoice.macaroon,
// which may also make on-chain addresses, with a warning. --no-bake
// keeps the order of before: lnd's, then setup's, and never bakes.
func (o *Options) invoiceMacDir(ctx context.Context, node *found,
	rep *Report) (string, error) {

	lndPath, lndErr := node.res.Macaroon("invoice")
	dir := o.bakedDir(node.res.Network)
	path := filepath.Join(dir, "invoice.macaroon")
	use := func(p, kind, reason string, baked bool) {
		rep.Macaroons = append(rep.Macaroons, MacaroonUse{
			Config: "serve.yaml", Path: p, Kind: kind,
			LeastPrivilege: kind == "invoice-only", Baked: baked,
			Reason: reason})
	}

	if o.NoBake {
		if lndErr == nil {
			use(lndPath, "invoice", "--no-bake: lnd's own", false)
			return node.res.MacaroonDir, nil
		}
		if exists(path) {
			use(path, "invoice-only", "--no-bake: "+reasonEarlier, false)
			return dir, nil
		}
		return "", fmt.Errorf("serve needs an invoice macaroon: %w; run "+
			"l402 setup without --no-bake to bake an invoice-only one "+
			"with the admin macaroon", lndErr)
	}

	if exists(path) {
		use(path, "invoice-only", reasonEarlier, false)
		return dir, nil
	}
	why, err := o.tryBake(ctx, node, "invoice-only", path, rep)
	if err != nil {
		return "", err
	}
	if why == "" {
		use(path, "invoice-only", reasonBaked, true)
		return dir, nil
	}
	why = "cannot bake an invoice-only macaroon: " + why
	if lndErr != nil {
		return "", fmt.Errorf("serve needs an invoice macaroon: %w; and "+
			"%s", lndErr, why)
	}
	rep.Warnings = append(rep.Warnings, why+"; serve.yaml uses lnd's "+
		"invoice.macaroon, which may also make on-chain addresses: fix "+
		"that and run l402 setup --role seller --force for an "+
		"invoice-only one")
	use(lndPath, "invoice", why, false)
	return node.res.MacaroonDir, nil
}

// payMacaroon returns a macaroon that may pay, and records the choice: a
// pay-only (or l402-both) one in lnd's directory or setup's, else one
// baked now with the admin macaroon, else lnd's admin macaroon with a
// warning. --no-bake never bakes.
func (o *Options) payMacaroon(ctx context.Context, node *found,
	rep *Report) (string, error) {

	use := func(p, kind, reason string, baked bool) {
		rep.Macaroons = append(rep.Macaroons, MacaroonUse{
			Config: "fetch.yaml", Path: p, Kind: kind,
			LeastPrivilege: kind == "pay-only", Baked: baked,
			Reason: reason})
	}
	for _, name := range []string{"pay-only", "l402-both"} {
		if p, err := node.res.Macaroon(name); err == nil {
			use(p, name, reasonLndDir, false)
			return p, nil
		}
	}
	path := filepath.Join(o.bakedDir(node.res.Network), "pay-only.macaroon")
	if exists(path) {
		use(path, "pay-only", reasonEarlier, false)
		return path, nil
	}

	why := "--no-bake"
	fix := "run l402 setup --role buyer --force without --no-bake to " +
		"bake a pay-only one"
	if !o.NoBake {
		var err error
		if why, err = o.tryBake(ctx, node, "pay-only", path,
			rep); err != nil {
			return "", err
		}
		if why == "" {
			use(path, "pay-only", reasonBaked, true)
			return path, nil
		}
		why = "cannot bake a pay-only macaroon: " + why
		fix = "fix that and run l402 setup --role buyer --force, or bake " +
			"one with l402 bake pay-only where baking works"
	}
	admin, err := node.res.Macaroon("admin")
	if err != nil {
		return "", fmt.Errorf("fetch needs a macaroon that may pay: no "+
			"pay-only macaroon, and %w; bake one with l402 bake pay-only "+
			"(or l402 setup) where the admin macaroon is readable", err)
	}
	rep.Warnings = append(rep.Warnings, why+"; fetch.yaml uses "+
		"admin.macaroon, which can do anything on this node: "+fix)
	use(admin, "admin", why, false)
	return admin, nil
}

// tryBake bakes the role with lnd's admin macaroon and writes it to path
// (0600, never over an existing file). It returns "" when it baked, else
// why it could not: with --bake that is an error instead, and so is a
// file that cannot be written.
func (o *Options) tryBake(ctx context.Context, node *found, role,
	path string, rep *Report) (string, error) {

	admin, err := node.res.Macaroon("admin")
	if err != nil {
		if o.Bake {
			return "", fmt.Errorf("--bake needs lnd's admin macaroon: %w",
				err)
		}
		return "lnd's admin.macaroon cannot be used: " + err.Error(), nil
	}
	mac, err := bake(ctx, node, admin, role)
	if err != nil {
		if o.Bake {
			return "", err
		}
		return err.Error(), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := macaroons.WriteSecretFile(path, mac, false); err != nil {
		return "", err
	}
	rep.Baked = append(rep.Baked, path)
	return "", nil
}

// bake dials lnd with the admin macaroon and bakes the role.
func bake(ctx context.Context, node *found, admin,
	role string) ([]byte, error) {

	conn, err := lndconn.Dial(ctx, node.res, lndconn.Macaroon{File: admin})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return macaroons.Bake(ctx, conn.Lnd, role)
}

// exists reports whether path is there.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// bakedDir is where setup keeps the macaroons it bakes, per network.
func (o *Options) bakedDir(network string) string {
	return filepath.Join(o.Home, "macaroons", network)
}
