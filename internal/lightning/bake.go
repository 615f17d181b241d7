package lightning

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/l402/l402/internal/lightning/lndrpc"
)

// The lnd methods that bake macaroons, by their full gRPC names.
const (
	methodBakeMacaroon    = "/lnrpc.Lightning/BakeMacaroon"
	methodListPermissions = "/lnrpc.Lightning/ListPermissions"
)

// PermissionEntityURI is the entity of a permission that grants one gRPC
// method, named by its full URI in Action ("/lnrpc.Lightning/AddInvoice").
// It is lnd's macaroons.PermissionEntityCustomURI.
const PermissionEntityURI = "uri"

// Permission is one entity:action pair of an lnd macaroon, such as
// invoices:write or uri:/lnrpc.Lightning/AddInvoice.
type Permission struct {
	Entity string `json:"entity"`
	Action string `json:"action"`
}

// String returns the permission as lncli prints it, entity:action.
func (p Permission) String() string { return p.Entity + ":" + p.Action }

// URIPermission returns the permission that grants the one gRPC method
// with the given full name.
func URIPermission(fullMethod string) Permission {
	return Permission{Entity: PermissionEntityURI, Action: fullMethod}
}

// BakeMacaroon asks lnd to bake a new macaroon that grants exactly perms,
// under the root key with the given ID, and returns it in lnd's binary
// form. lnd refuses permissions it does not know (it checks uri:
// permissions against its own methods) and answers only to a macaroon
// with the macaroon:generate permission, such as admin.macaroon; that
// refusal wraps ErrPermissionDenied.
func (l *Lnd) BakeMacaroon(ctx context.Context, perms []Permission,
	rootKeyID uint64) ([]byte, error) {

	if len(perms) == 0 {
		return nil, l.callError("BakeMacaroon", errors.New(
			"no permissions given: a macaroon must grant at least one"))
	}

	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	req := &lndrpc.BakeMacaroonRequest{RootKeyId: rootKeyID}
	for _, p := range perms {
		req.Permissions = append(req.Permissions,
			&lndrpc.MacaroonPermission{Entity: p.Entity,
				Action: p.Action})
	}
	resp := &lndrpc.BakeMacaroonResponse{}
	if err := l.conn.Invoke(ctx, methodBakeMacaroon, req, resp); err != nil {
		return nil, l.callError("BakeMacaroon", err)
	}

	mac, err := hex.DecodeString(resp.Macaroon)
	if err != nil || len(mac) == 0 {
		// The answer is a secret: say what is wrong, never what it is.
		return nil, l.callError("BakeMacaroon", fmt.Errorf(
			"lnd returned a %d-character macaroon that is not hex",
			len(resp.Macaroon)))
	}
	return mac, nil
}

// ListPermissions returns every gRPC method the node serves, by full name,
// with the permissions each one requires. It needs the info:read
// permission.
func (l *Lnd) ListPermissions(ctx context.Context) (map[string][]Permission,
	error) {

	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	resp := &lndrpc.ListPermissionsResponse{}
	err := l.conn.Invoke(ctx, methodListPermissions,
		&lndrpc.ListPermissionsRequest{}, resp)
	if err != nil {
		return nil, l.callError("ListPermissions", err)
	}

	out := make(map[string][]Permission, len(resp.MethodPermissions))
	for method, list := range resp.MethodPermissions {
		perms := make([]Permission, 0, len(list.GetPermissions()))
		for _, p := range list.GetPermissions() {
			perms = append(perms, Permission{Entity: p.Entity,
				Action: p.Action})
		}
		sort.Slice(perms, func(i, j int) bool {
			return perms[i].String() < perms[j].String()
		})
		out[method] = perms
	}
	return out, nil
}
