package bake

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/internal/macaroons"
)

// lndOptions are lnd options with an empty home and environment.
func lndOptions(t *testing.T) lndconn.Options {
	return lndconn.Options{Home: t.TempDir(),
		Getenv: func(string) string { return "" }}
}

func TestListRoles(t *testing.T) {
	rep, err := Run(context.Background(), Options{ListRoles: true})
	if err != nil || rep.Baked != nil || rep.Methods != nil {
		t.Fatalf("ListRoles: %+v %v", rep, err)
	}
	roles := rep.Roles
	byName := map[string]RoleInfo{}
	for _, r := range roles {
		byName[r.Name] = r
	}
	if len(roles) != len(macaroons.Roles) ||
		byName["channel-admin"].RootKeyID != 4025 ||
		byName["signer-only"].RootKeyID != 4026 ||
		!strings.Contains(byName["channel-admin"].Description,
			"NOT funds-safe") ||
		len(byName["invoice-only"].Methods) != 6 ||
		byName["invoice-only"].Methods[0] != "/lnrpc.Lightning/AddInvoice" {
		t.Fatalf("roles: %+v", roles)
	}
	for i, r := range macaroons.Roles {
		if roles[i].Name != r.Name {
			t.Errorf("role %d is %s, want %s", i, roles[i].Name, r.Name)
		}
	}
}

// TestRunBadOptions: the mistakes Run refuses before looking for lnd are
// ErrBadOptions and say what to do.
func TestRunBadOptions(t *testing.T) {
	roles := strings.Join(macaroons.RoleNames(), ", ")
	info := []string{"/lnrpc.Lightning/GetInfo"}
	tests := []struct {
		name string
		opts func(*Options)
		want string
	}{
		{"no mode", func(o *Options) {}, roles},
		{"unknown role", func(o *Options) { o.Role = "admin" },
			`unknown role "admin": choose one of ` + roles},
		{"role and custom", func(o *Options) {
			o.Role, o.Custom = "pay-only", info
		}, "only one of"},
		{"list with save-to", func(o *Options) {
			o.ListRoles, o.SaveTo = true, "x"
		}, "--save-to is for"},
		{"two lists", func(o *Options) {
			o.ListPermissions, o.ListRoles = true, true
		}, "only one of"},
		{"list-roles with lnd", func(o *Options) {
			o.ListRoles, o.Lnd.Network = true, "regtest"
		}, "needs no lnd: drop --network"},
		{"name for a role", func(o *Options) {
			o.Role, o.Name = "pay-only", "x"
		}, "--name names the file"},
		{"short method", func(o *Options) { o.Custom = []string{"GetInfo"} },
			"not a full gRPC method"},
		{"lnd's name", func(o *Options) { o.Custom, o.Name = info, "admin" },
			"lnd's own admin.macaroon"},
		{"path as name", func(o *Options) { o.Custom, o.Name = info, "../x" },
			"--name"},
		{"hex and save-to", func(o *Options) {
			o.Role, o.PrintHex, o.SaveTo = "pay-only", true, "x"
		}, "drop --save-to"},
		{"root key 0", func(o *Options) {
			o.Role, o.RootKeyID = "pay-only", new(uint64)
		}, "lnd's own root key"},
		{"timeout 0", func(o *Options) {
			o.Role, o.Caveats.Timeout = "pay-only", duration(0)
		}, "positive"},
		{"bad ip", func(o *Options) {
			o.Role, o.Caveats.IP = "pay-only", "nope"
		}, "not an IP address"},
		{"bad network", func(o *Options) {
			o.Role, o.Lnd.Network = "pay-only", "moonnet"
		}, "--network"},
	}
	for _, tc := range tests {
		o := isolated(t)
		tc.opts(&o)
		rep, err := Run(context.Background(), o)
		if !errors.Is(err, ErrBadOptions) ||
			fault.Code(err) != "bad_arguments" ||
			!strings.Contains(err.Error(), tc.want) || rep.Baked != nil {
			t.Errorf("%s: %v, want bad options with %q", tc.name, err,
				tc.want)
		}
	}
}

// TestRunLndNotFound: no lnd and no config is lnd_not_found, naming
// --lnddir.
func TestRunLndNotFound(t *testing.T) {
	for name, opts := range map[string]func(*Options){
		"role":             func(o *Options) { o.Role = "invoice-only" },
		"list-permissions": func(o *Options) { o.ListPermissions = true },
		"bad lnddir": func(o *Options) {
			o.Role = "pay-only"
			o.Lnd.LndDir = filepath.Join(o.Lnd.Home, "nope")
		},
	} {
		o := isolated(t)
		o.Configured = nil
		opts(&o)
		_, err := Run(context.Background(), o)
		if fault.Code(err) != "lnd_not_found" ||
			!strings.Contains(err.Error(), "--lnddir") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHelpers(t *testing.T) {
	known := map[string][]lightning.Permission{
		"/lnrpc.Lightning/GetInfo":     nil,
		"/signrpc.Signer/SignMessage":  nil,
		"/lnrpc.Lightning/SignMessage": nil,
	}
	for in, want := range map[string]string{
		"/lnrpc.lightning/getinfo":    "/lnrpc.Lightning/GetInfo",
		"/lnrpc.Signer/SignMessage":   "/lnrpc.Lightning/SignMessage",
		"/lnrpc.Lightning/NoSuchCall": "",
	} {
		if got := suggestMethod(in, known); got != want {
			t.Errorf("suggestMethod(%s) = %q, want %q", in, got, want)
		}
	}
	m, err := customMethods([]string{"uri:/lnrpc.Lightning/GetInfo",
		"/lnrpc.Lightning/GetInfo", "/verrpc.Versioner/GetVersion"})
	if err != nil || len(m) != 2 {
		t.Fatalf("customMethods: %v %v", m, err)
	}
	a := []lightning.Permission{{Entity: "uri", Action: "a"},
		{Entity: "uri", Action: "b"}}
	if !samePermissions(a, []lightning.Permission{a[1], a[0]}) ||
		samePermissions(a, a[:1]) {
		t.Error("samePermissions")
	}
}
