package bake

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/l402/l402/internal/macaroons"
)

// checkMode checks that exactly one of a Role, Custom, ListRoles and
// ListPermissions was given, and no option the mode does not use.
func (o *Options) checkMode() error {
	modes := 0
	for _, on := range []bool{o.Role != "", len(o.Custom) > 0,
		o.ListRoles, o.ListPermissions} {

		if on {
			modes++
		}
	}
	switch {
	case modes == 0:
		return fmt.Errorf("give a ROLE (%s), --custom URI, --list-roles "+
			"or --list-permissions", strings.Join(macaroons.RoleNames(),
			", "))
	case modes > 1:
		return errors.New("give only one of a ROLE, --custom, " +
			"--list-roles and --list-permissions")
	}

	if o.ListRoles || o.ListPermissions {
		if name := o.bakeOnlyGiven(); name != "" {
			return fmt.Errorf("--%s is for baking; --list-roles and "+
				"--list-permissions take no such flag", name)
		}
	}
	if given := o.Lnd.Given(); o.ListRoles && len(given) > 0 {
		return fmt.Errorf("--list-roles needs no lnd: drop --%s", given[0])
	}
	if len(o.Custom) == 0 && o.Name != "" {
		return errors.New("--name names the file of a --custom " +
			"macaroon; a ROLE's file is ROLE.macaroon (or --save-to)")
	}
	return nil
}

// bakeOnlyGiven returns the first option given that only baking uses, by
// its flag's name, or "".
func (o *Options) bakeOnlyGiven() string {
	for _, f := range []struct {
		name  string
		given bool
	}{
		{"custom", len(o.Custom) > 0}, {"name", o.Name != ""},
		{"root-key-id", o.RootKeyID != nil}, {"save-to", o.SaveTo != ""},
		{"force", o.Force}, {"print-hex", o.PrintHex},
		{"timeout", o.Caveats.Timeout != nil}, {"ip", o.Caveats.IP != ""},
		{"ip-range", o.Caveats.IPRange != ""},
	} {
		if f.given {
			return f.name
		}
	}
	return ""
}

// role returns the role to bake: the named one, or one made of the
// Custom methods.
func (o *Options) role() (macaroons.Role, error) {
	if o.Role != "" {
		return macaroons.LookupRole(o.Role)
	}

	name, err := customName(o.Name)
	if err != nil {
		return macaroons.Role{}, err
	}
	methods, err := customMethods(o.Custom)
	if err != nil {
		return macaroons.Role{}, err
	}
	return macaroons.Role{Name: name, RootKeyID: macaroons.CustomRootKeyID,
		Methods: methods}, nil
}

// checkBake checks the options of baking that need no node.
func (o *Options) checkBake() error {
	if o.PrintHex && o.SaveTo != "" {
		return errors.New("--print-hex prints the macaroon instead of " +
			"writing it: drop --save-to or --print-hex")
	}
	if o.RootKeyID != nil && *o.RootKeyID == 0 {
		return errors.New("--root-key-id 0 is lnd's own root key (admin, " +
			"readonly and invoice.macaroon): a macaroon baked under it " +
			"cannot be revoked alone; choose another ID or leave the " +
			"role's own")
	}
	return nil
}

// lndMacaroonNames are the macaroon files lnd writes itself; bake never
// replaces them.
var lndMacaroonNames = []string{"admin", "readonly", "invoice", "invoices",
	"router", "signer", "walletkit", "chainnotifier"}

// fileName matches a custom macaroon's file name.
var fileName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
})

// customName checks Name and returns it without ".macaroon"; empty is
// "custom".
func customName(name string) (string, error) {
	if name == "" {
		name = "custom"
	}
	name = strings.TrimSuffix(name, ".macaroon")
	if !fileName().MatchString(name) {
		return "", fmt.Errorf("--name %q: use letters, digits, '.', '_' "+
			"and '-', such as my-monitor; --save-to takes a path", name)
	}
	for _, own := range lndMacaroonNames {
		if name == own {
			return "", fmt.Errorf("--name %s is lnd's own %s.macaroon: "+
				"choose another name", name, name)
		}
	}
	if _, err := macaroons.LookupRole(name); err == nil {
		return "", fmt.Errorf("--name %s is a role's file name: choose "+
			"another name, or bake the role with `l402 bake %s`", name,
			name)
	}
	return name, nil
}

// grpcMethod matches a full gRPC method name, /package.Service/Method.
var grpcMethod = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/[A-Za-z_][A-Za-z0-9_]*` +
		`(\.[A-Za-z_][A-Za-z0-9_]*)+/[A-Za-z_][A-Za-z0-9_]*$`)
})

// customMethods checks the Custom methods and returns them once each, in
// order. A "uri:" prefix, as lncli writes permissions, is allowed.
func customMethods(uris []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, u := range uris {
		m := strings.TrimPrefix(strings.TrimSpace(u), "uri:")
		if !grpcMethod().MatchString(m) {
			return nil, fmt.Errorf("--custom %q is not a full gRPC "+
				"method such as /lnrpc.Lightning/GetInfo (`l402 bake "+
				"--list-permissions` lists the node's)", u)
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out, nil
}
