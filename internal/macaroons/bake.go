package macaroons

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/l402/l402/internal/lightning"
)

// Bake asks the node to bake a macaroon for the named role, under the
// role's own root key ID, and returns it in lnd's binary form (what lnd's
// .macaroon files hold). The node's connection must use a macaroon that
// may bake, such as admin.macaroon.
func Bake(ctx context.Context, l *lightning.Lnd, role string) ([]byte,
	error) {

	r, err := LookupRole(role)
	if err != nil {
		return nil, err
	}
	return bakeRole(ctx, l, r, r.RootKeyID)
}

// BakeWithRootKeyID is Bake under a root key ID of the caller's choosing,
// for revoking one macaroon without the others of its role.
func BakeWithRootKeyID(ctx context.Context, l *lightning.Lnd, role string,
	rootKeyID uint64) ([]byte, error) {

	r, err := LookupRole(role)
	if err != nil {
		return nil, err
	}
	return bakeRole(ctx, l, r, rootKeyID)
}

// bakeRole bakes the role's permissions and checks that lnd baked them.
func bakeRole(ctx context.Context, l *lightning.Lnd, r Role,
	rootKeyID uint64) ([]byte, error) {

	mac, err := l.BakeMacaroon(ctx, r.Permissions(), rootKeyID)
	if err != nil {
		return nil, explainBakeError(ctx, l, r, err)
	}

	// lnd writes the permissions into the macaroon's id: check that it
	// baked what was asked. An id l402 cannot read is no reason to fail.
	info, err := Inspect(mac)
	if err != nil {
		return nil, fmt.Errorf("lnd baked a macaroon l402 cannot "+
			"read: %w", err)
	}
	if info.PermissionsError == "" && info.Role != r.Name {
		return nil, fmt.Errorf("lnd baked a macaroon that grants %s, "+
			"not the %s role's permissions", permList(info.Permissions),
			r.Name)
	}
	return mac, nil
}

// explainBakeError adds to a failed BakeMacaroon what to do about it: use
// a macaroon that may bake, or which methods this lnd does not know.
func explainBakeError(ctx context.Context, l *lightning.Lnd, r Role,
	err error) error {

	if errors.Is(err, lightning.ErrPermissionDenied) {
		return fmt.Errorf("unable to bake %s: baking needs a macaroon "+
			"with the macaroon:generate permission, such as lnd's "+
			"admin.macaroon: %w", r.Name, err)
	}
	if !strings.Contains(err.Error(), "invalid permission action") {
		return fmt.Errorf("unable to bake %s: %w", r.Name, err)
	}

	// lnd does not say which method it does not know: ask it for the
	// methods it serves.
	known, lerr := l.ListPermissions(ctx)
	if lerr != nil {
		return fmt.Errorf("unable to bake %s: the node does not know "+
			"one of its methods (%s): %w", r.Name,
			strings.Join(r.Methods, ", "), err)
	}
	var missing []string
	for _, m := range r.Methods {
		if _, ok := known[m]; !ok {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	return fmt.Errorf("unable to bake %s: the node does not serve %s; "+
		"upgrade lnd or enable the sub-server: %w", r.Name,
		strings.Join(missing, ", "), err)
}

// permList returns permissions as one comma-separated string.
func permList(perms []lightning.Permission) string {
	s := make([]string, 0, len(perms))
	for _, p := range perms {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}
