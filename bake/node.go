package bake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/internal/macaroons"
)

// bakeOn bakes the role on the node under the root key ID. A custom role
// is checked against the methods the node serves first, and what lnd
// baked against what was asked after.
func bakeOn(ctx context.Context, l *lightning.Lnd, role macaroons.Role,
	custom bool, id uint64) ([]byte, error) {

	if !custom {
		mac, err := macaroons.BakeWithRootKeyID(ctx, l, role.Name, id)
		if err != nil {
			return nil, lndconn.NodeError(err)
		}
		return mac, nil
	}

	if err := checkServed(ctx, l, role.Methods); err != nil {
		return nil, err
	}
	mac, err := l.BakeMacaroon(ctx, role.Permissions(), id)
	if err != nil {
		return nil, lndconn.NodeError(fmt.Errorf("unable to bake: %w",
			err))
	}
	info, err := macaroons.Inspect(mac)
	if err != nil {
		return nil, fmt.Errorf("lnd baked a macaroon l402 cannot read: %w",
			err)
	}
	if info.PermissionsError == "" &&
		!samePermissions(info.Permissions, role.Permissions()) {
		return nil, errors.New("lnd baked a macaroon that grants other " +
			"permissions than the --custom methods")
	}
	return mac, nil
}

// checkServed refuses, by name, the methods the node does not serve.
func checkServed(ctx context.Context, l *lightning.Lnd,
	methods []string) error {

	known, err := l.ListPermissions(ctx)
	if err != nil {
		return lndconn.NodeError(fmt.Errorf("unable to list the node's "+
			"methods: %w", err))
	}
	var missing []string
	for _, m := range methods {
		if _, ok := known[m]; ok {
			continue
		}
		if s := suggestMethod(m, known); s != "" {
			m += " (did you mean " + s + "?)"
		}
		missing = append(missing, m)
	}
	if len(missing) == 0 {
		return nil
	}
	return ErrUnknownMethod.Mark(fmt.Errorf("the node does not serve %s: "+
		"`l402 bake --list-permissions` lists the methods it serves (a "+
		"sub-server's need lnd built with its tag)",
		strings.Join(missing, ", ")))
}

// suggestMethod returns a method the node serves that m may have meant:
// the same name in other case, or the same method in another service.
func suggestMethod(m string, known map[string][]lightning.Permission) string {
	var same []string
	for k := range known {
		if strings.EqualFold(k, m) {
			return k
		}
		if strings.EqualFold(pathBase(k), pathBase(m)) {
			same = append(same, k)
		}
	}
	sort.Strings(same)
	if len(same) > 0 {
		return same[0]
	}
	return ""
}

// pathBase returns what follows the last '/' of a method name.
func pathBase(m string) string {
	return m[strings.LastIndex(m, "/")+1:]
}

// samePermissions reports whether a and b hold the same permissions.
func samePermissions(a, b []lightning.Permission) bool {
	set := map[lightning.Permission]int{}
	for _, p := range a {
		set[p]++
	}
	for _, p := range b {
		set[p]--
	}
	for _, n := range set {
		if n != 0 {
			return false
		}
	}
	return true
}
