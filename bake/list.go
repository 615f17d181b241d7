package bake

import (
	"context"
	"sort"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/internal/macaroons"
)

// RoleInfo is one role as --list-roles prints it.
type RoleInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	RootKeyID   uint64   `json:"root_key_id"`
	Methods     []string `json:"methods"`
}

// Roles returns every role l402 bakes, in macaroons.Roles' order.
func Roles() []RoleInfo {
	out := make([]RoleInfo, 0, len(macaroons.Roles))
	for _, r := range macaroons.Roles {
		out = append(out, RoleInfo{Name: r.Name,
			Description: r.Description, RootKeyID: r.RootKeyID,
			Methods: r.Methods})
	}
	return out
}

// MethodInfo is one method as --list-permissions prints it.
type MethodInfo struct {
	Method      string                 `json:"method"`
	Permissions []lightning.Permission `json:"permissions"`
}

// listPermissions returns the methods the node serves, by name, with the
// permissions each requires. readonly.macaroon is enough.
func listPermissions(ctx context.Context, o Options) ([]MethodInfo,
	error) {

	node, err := o.connect(ctx, "readonly", "admin")
	if err != nil {
		return nil, err
	}
	defer node.Close()
	known, err := node.Lnd.ListPermissions(ctx)
	if err != nil {
		return nil, lndconn.NodeError(err)
	}

	out := make([]MethodInfo, 0, len(known))
	for m, perms := range known {
		out = append(out, MethodInfo{Method: m, Permissions: perms})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Method < out[j].Method
	})
	return out, nil
}
