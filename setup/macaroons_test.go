package setup

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/lnctest"
	"github.com/l402/l402/internal/macaroons"
	"github.com/l402/l402/serve"
)

// fakeNode starts a fake lnd (GetInfo and BakeMacaroon) and an lnd
// directory for it whose regtest macaroon directory holds the named
// macaroons, each one the fake's own (so that each may call it), and
// returns setup's options for role on it.
func fakeNode(t *testing.T, role string, refuseBake bool,
	macs ...string) (Options, *lnctest.FakeLnd) {

	t.Helper()
	f := lnctest.StartFakeLnd(t, "fake", "regtest")
	f.RefuseBake = refuseBake
	dir := t.TempDir()
	cert, err := os.ReadFile(f.CertPath)
	if err != nil {
		t.Fatal(err)
	}
	mac, err := os.ReadFile(f.MacaroonPath)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tls.cert"), cert, 0o600)
	macDir := filepath.Join(dir, "data", "chain", "bitcoin", "regtest")
	os.MkdirAll(macDir, 0o700)
	for _, name := range macs {
		os.WriteFile(filepath.Join(macDir, name+".macaroon"), mac, 0o600)
	}
	o := options(t)
	o.Role, o.NoAuth = role, false
	o.Lnd.LndDir, o.Lnd.Host = dir, f.Host
	return o, f
}

// lndMacDir is the macaroon directory of fakeNode's lnd.
func lndMacDir(o Options) string {
	return filepath.Join(o.Lnd.LndDir, "data", "chain", "bitcoin", "regtest")
}

// fetchMacaroon is the macaroon the fetch.yaml setup wrote names.
func fetchMacaroon(t *testing.T, o Options) string {
	t.Helper()
	cfg, err := fetch.LoadConfig(filepath.Join(o.Home, "fetch.yaml"), true)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Lnd.MacaroonPath
}

// serveMacDir is the macaroon directory of the serve.yaml setup wrote.
func serveMacDir(t *testing.T, o Options) string {
	t.Helper()
	cfg, err := serve.LoadConfig(filepath.Join(o.Home, "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Authenticator.MacDir
}

// wantRole fails unless path is a 0600 macaroon of the l402 role.
func wantRole(t *testing.T, path, role string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want a 0600 file", path, fi, err)
	}
	b, _ := os.ReadFile(path)
	info, err := macaroons.Inspect(b)
	if err != nil || info.Role != role {
		t.Fatalf("%s: role %q %v, want %s", path, info.Role, err, role)
	}
}

// warned reports whether a warning holds each of the strings.
func warned(rep *Report, want ...string) bool {
	return slices.ContainsFunc(rep.Warnings, func(w string) bool {
		for _, s := range want {
			if !strings.Contains(w, s) {
				return false
			}
		}
		return true
	})
}

// TestSetupBakesTheRolesMacaroonByDefault: least privilege by default.
// With lnd's admin macaroon at hand and no flag, a buyer's fetch.yaml
// gets a pay-only macaroon baked for it, and a seller's serve.yaml an
// invoice-only one even where lnd has its own invoice.macaroon (which
// also makes on-chain addresses); the report says which and why. Run
// again, setup bakes nothing more and the files are unchanged.
func TestSetupBakesTheRolesMacaroonByDefault(t *testing.T) {
	ctx := context.Background()
	o, f := fakeNode(t, RoleBuyer, false, "admin")
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	pay := filepath.Join(o.Home, "macaroons", "regtest", "pay-only.macaroon")
	wantRole(t, pay, "pay-only")
	if got := fetchMacaroon(t, o); got != pay {
		t.Fatalf("fetch.yaml's macaroon %s, want %s", got, pay)
	}
	want := MacaroonUse{Config: "fetch.yaml", Path: pay, Kind: "pay-only",
		LeastPrivilege: true, Baked: true,
		Reason: "baked now with lnd's admin.macaroon"}
	if len(rep.Macaroons) != 1 || rep.Macaroons[0] != want ||
		!slices.Equal(rep.Baked, []string{pay}) || warned(rep, "admin") ||
		!slices.Equal(f.Baked(), []uint64{4022}) {
		t.Fatalf("report %+v, baked %v", rep, f.Baked())
	}
	b, _ := json.Marshal(rep)
	if !strings.Contains(string(b), `"macaroons":[{"config":"fetch.yaml",`+
		`"path":`) || !strings.Contains(string(b),
		`"kind":"pay-only","least_privilege":true,"baked":true,`) {
		t.Fatalf("JSON: %s", b)
	}

	var human strings.Builder
	rep.WriteHuman(&human)
	if !strings.Contains(human.String(), "fetch.yaml uses "+pay+
		" (pay-only): baked now with lnd's admin.macaroon\n") {
		t.Fatalf("human report:\n%s", human.String())
	}

	rep, err = Run(ctx, o)
	if err != nil || rep.Files[0].Status != "unchanged" ||
		len(f.Baked()) != 1 || rep.Macaroons[0].Baked ||
		rep.Macaroons[0].Reason != "baked by an earlier l402 setup" {
		t.Fatalf("again: %+v %v", rep, err)
	}

	o, f = fakeNode(t, RoleSeller, false, "admin", "invoice")
	rep, err = Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(o.Home, "macaroons", "regtest")
	wantRole(t, filepath.Join(dir, "invoice.macaroon"), "invoice-only")
	if got := serveMacDir(t, o); got != dir {
		t.Fatalf("serve.yaml's macdir %s, want %s", got, dir)
	}
	if len(rep.Macaroons) != 1 || rep.Macaroons[0] != (MacaroonUse{
		Config: "serve.yaml", Path: filepath.Join(dir, "invoice.macaroon"),
		Kind: "invoice-only", LeastPrivilege: true, Baked: true,
		Reason: "baked now with lnd's admin.macaroon"}) ||
		!slices.Equal(f.Baked(), []uint64{4021}) {
		t.Fatalf("seller report %+v, baked %v", rep, f.Baked())
	}

	// Explicit --bake is the same, on a node where nothing is baked yet.
	o, f = fakeNode(t, RoleBoth, false, "admin")
	o.Bake = true
	if rep, err = Run(ctx, o); err != nil || len(rep.Macaroons) != 2 ||
		!slices.Equal(f.Baked(), []uint64{4021, 4022}) {
		t.Fatalf("--bake: %+v %v %v", rep, err, f.Baked())
	}
}

// TestSetupNoBakeKeepsLndsMacaroons: --no-bake is setup as it was: lnd's
// invoice.macaroon for serve, admin.macaroon for fetch with a warning,
// and nothing baked.
func TestSetupNoBakeKeepsLndsMacaroons(t *testing.T) {
	ctx := context.Background()
	o, f := fakeNode(t, RoleBuyer, false, "admin")
	o.NoBake = true
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(lndMacDir(o), "admin.macaroon")
	if got := fetchMacaroon(t, o); got != admin {
		t.Fatalf("fetch.yaml's macaroon %s, want %s", got, admin)
	}
	if len(rep.Macaroons) != 1 || rep.Macaroons[0].Kind != "admin" ||
		rep.Macaroons[0].LeastPrivilege || rep.Macaroons[0].Baked ||
		!strings.Contains(rep.Macaroons[0].Reason, "--no-bake") ||
		!warned(rep, "admin.macaroon", "can do anything") ||
		len(rep.Baked) != 0 || len(f.Baked()) != 0 {
		t.Fatalf("report %+v, baked %v", rep, f.Baked())
	}

	o, f = fakeNode(t, RoleSeller, false, "admin", "invoice")
	o.NoBake = true
	if rep, err = Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if got := serveMacDir(t, o); got != lndMacDir(o) {
		t.Fatalf("serve.yaml's macdir %s, want lnd's", got)
	}
	if len(rep.Macaroons) != 1 || rep.Macaroons[0].Kind != "invoice" ||
		rep.Macaroons[0].LeastPrivilege || len(f.Baked()) != 0 {
		t.Fatalf("seller report %+v, baked %v", rep, f.Baked())
	}

	// A seller with no invoice macaroon is told how to get one.
	o, _ = fakeNode(t, RoleSeller, false, "admin")
	o.NoBake = true
	if _, err = Run(ctx, o); err == nil || !strings.Contains(err.Error(),
		"without --no-bake") {
		t.Fatalf("no invoice macaroon: %v", err)
	}

	o.Bake = true
	if _, err = Run(ctx, o); !errors.Is(err, ErrBadOptions) ||
		!strings.Contains(err.Error(), "--no-bake") {
		t.Fatalf("--bake --no-bake: %v", err)
	}
}

// TestSetupFallsBackWhenItCannotBake: when lnd refuses to bake, setup
// falls back to lnd's own macaroons with a warning and a reason in the
// report, unless --bake was given: then it fails and writes nothing.
func TestSetupFallsBackWhenItCannotBake(t *testing.T) {
	ctx := context.Background()
	o, _ := fakeNode(t, RoleBuyer, true, "admin")
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(lndMacDir(o), "admin.macaroon")
	if got := fetchMacaroon(t, o); got != admin {
		t.Fatalf("fetch.yaml's macaroon %s, want %s", got, admin)
	}
	if len(rep.Macaroons) != 1 || rep.Macaroons[0].Kind != "admin" ||
		!strings.Contains(rep.Macaroons[0].Reason,
			"cannot bake a pay-only macaroon") ||
		!strings.Contains(rep.Macaroons[0].Reason, "permission denied") ||
		!warned(rep, "cannot bake a pay-only macaroon", "admin.macaroon") ||
		len(rep.Baked) != 0 {
		t.Fatalf("report %+v", rep)
	}

	o, _ = fakeNode(t, RoleSeller, true, "admin", "invoice")
	if rep, err = Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if got := serveMacDir(t, o); got != lndMacDir(o) {
		t.Fatalf("serve.yaml's macdir %s, want lnd's", got)
	}
	if len(rep.Macaroons) != 1 || rep.Macaroons[0].Kind != "invoice" ||
		!warned(rep, "cannot bake an invoice-only macaroon",
			"invoice.macaroon") {
		t.Fatalf("seller report %+v", rep)
	}

	// --bake: baking is required.
	for _, role := range []string{RoleBuyer, RoleSeller} {
		o, _ = fakeNode(t, role, true, "admin", "invoice")
		o.Bake = true
		rep, err = Run(ctx, o)
		if err == nil || !strings.Contains(err.Error(), "permission") ||
			len(rep.Files) != 0 {
			t.Fatalf("%s --bake: %+v %v", role, rep, err)
		}
	}
}
