// Package bake is `l402 bake`: least-privilege lnd macaroons baked by
// role or method, offline attenuation, and inspection of any macaroon.
package bake

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/internal/lnddetect"
	"github.com/l402/l402/internal/macaroons"
)

// Options are what `l402 bake` is asked: exactly one of Role, Custom,
// ListRoles and ListPermissions, and the options of that mode.
type Options struct {
	// Lnd says where lnd is and which macaroon to call it with.
	Lnd lndconn.Options

	// Configured returns where a config names lnd and the config's
	// path ("" when none does); it is asked when no flag says where lnd
	// is and none is found. cmd reads serve.yaml, else fetch.yaml.
	Configured func() (lnddetect.Options, string)

	// Role is the role to bake (the ROLE argument).
	Role string

	// Custom are the full gRPC methods of a custom macaroon; Name is
	// its file name without ".macaroon" ("" means "custom").
	Custom []string
	Name   string

	// RootKeyID, when set, replaces the role's own root key ID.
	RootKeyID *uint64

	ListRoles       bool
	ListPermissions bool

	// SaveTo is the file to write (default: NAME.macaroon in lnd's
	// macaroon directory); Force replaces an existing one.
	SaveTo string
	Force  bool

	// PrintHex returns the macaroon as hex instead of writing it.
	PrintHex bool

	// Caveats are added to the macaroon before it is saved.
	Caveats Caveats
}

// Report is what Run did: the part of its mode is set.
type Report struct {
	// Roles are the roles, for ListRoles.
	Roles []RoleInfo

	// Methods are the methods the node serves, for ListPermissions.
	Methods []MethodInfo

	// Baked is the macaroon baked, for a Role or Custom.
	Baked *Baked
}

// Baked is the macaroon baked; `l402 bake --json` prints it.
type Baked struct {
	Role        string                 `json:"role"`
	Path        string                 `json:"path,omitempty"`
	RootKeyID   uint64                 `json:"root_key_id"`
	Permissions []lightning.Permission `json:"permissions"`
	Caveats     []string               `json:"caveats"`
	ExpiresAt   *time.Time             `json:"expires_at,omitempty"`
	Revoke      string                 `json:"revoke"`
	Network     string                 `json:"network"`
	LndHost     string                 `json:"lnd_host"`

	// MacaroonHex is the macaroon itself, only with PrintHex.
	MacaroonHex string `json:"macaroon_hex,omitempty"`

	// Name is the role's name, or the custom macaroon's Name.
	Name string `json:"-"`
}

// Run does what the options ask: list the roles, list the node's
// permissions, or bake. Bad options are ErrBadOptions, lnd's failures
// *lnddetect.Problem.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.checkMode(); err != nil {
		return Report{}, ErrBadOptions.Mark(err)
	}
	if o.ListRoles {
		return Report{Roles: Roles()}, nil
	}
	if err := o.Lnd.Check(); err != nil {
		return Report{}, ErrBadOptions.Mark(err)
	}
	if o.ListPermissions {
		methods, err := listPermissions(ctx, o)
		return Report{Methods: methods}, err
	}

	role, err := o.role()
	if err != nil {
		return Report{}, ErrBadOptions.Mark(err)
	}
	caveats, err := o.Caveats.options()
	if err != nil {
		return Report{}, ErrBadOptions.Mark(err)
	}
	if err := o.checkBake(); err != nil {
		return Report{}, ErrBadOptions.Mark(err)
	}
	baked, err := bake(ctx, o, role, caveats)
	return Report{Baked: baked}, err
}

// connect finds lnd, else the lnd of the configs, and dials it with
// --macaroon or the first usable of names.
func (o Options) connect(ctx context.Context,
	names ...string) (*lndconn.Node, error) {

	return lndconn.Connect(ctx, o.Lnd, lndconn.Hooks{
		Fallback: o.Configured}, names...)
}

// bake bakes the role on the node, adds the caveats, and writes the
// macaroon to its file or returns it as hex.
func bake(ctx context.Context, o Options, role macaroons.Role,
	caveats *macaroons.AttenuateOptions) (*Baked, error) {

	node, err := o.connect(ctx, "admin")
	if err != nil {
		return nil, err
	}
	defer node.Close()

	path := ""
	if !o.PrintHex {
		if path, err = savePath(o, node, role.Name); err != nil {
			return nil, err
		}
	}
	id := role.RootKeyID
	if o.RootKeyID != nil {
		id = *o.RootKeyID
	}

	mac, err := bakeOn(ctx, node.Lnd, role, len(o.Custom) > 0, id)
	if err != nil {
		return nil, err
	}
	if caveats != nil {
		if mac, err = macaroons.Attenuate(mac, *caveats); err != nil {
			return nil, err
		}
	}
	info, err := macaroons.Inspect(mac)
	if err != nil {
		return nil, err
	}

	res := &Baked{Role: role.Name, Name: role.Name, Path: path,
		RootKeyID: id, Permissions: info.Permissions,
		Caveats: info.Caveats, ExpiresAt: info.ExpiresAt,
		Revoke:  "lncli deletemacaroonid " + strconv.FormatUint(id, 10),
		Network: node.Info.Network, LndHost: node.Result.RPCHost}
	if len(o.Custom) > 0 {
		res.Role = "custom"
	}
	if o.PrintHex {
		res.MacaroonHex = hex.EncodeToString(mac)
	} else if err := writeMacaroon(path, mac, o.Force); err != nil {
		return nil, err
	}
	return res, nil
}

// savePath returns the file the macaroon goes to: SaveTo, else
// NAME.macaroon in lnd's macaroon directory. It refuses, before anything
// is baked, a file that exists (without Force) and lnd's own macaroons
// (always).
func savePath(o Options, node *lndconn.Node, name string) (string, error) {
	path := o.SaveTo
	switch {
	case path != "":
		var err error
		if path, err = config.ExpandHome(path); err != nil {
			return "", ErrBadOptions.Mark(err)
		}
	case node.Result.MacaroonDir == "":
		return "", ErrBadOptions.Mark(errors.New("lnd's macaroon " +
			"directory is not known: pass --save-to with the file to " +
			"write"))
	default:
		path = filepath.Join(node.Result.MacaroonDir, name+".macaroon")
	}

	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return "", ErrBadOptions.Mark(fmt.Errorf("--save-to %s is a "+
				"directory: give the file to write", path))
		}
		if isLndMacaroon(path, node) {
			return "", ErrBadOptions.Mark(fmt.Errorf("%s is lnd's own "+
				"macaroon (or the one bake calls lnd with): bake never "+
				"replaces it; choose another file", path))
		}
		if !o.Force {
			return "", ErrFileExists.Mark(fmt.Errorf("%s already "+
				"exists: choose another file with --save-to, or "+
				"replace it with --force", path))
		}
	}
	return path, nil
}

// isLndMacaroon reports whether path is one of lnd's own macaroon files or
// the one the node is called with.
func isLndMacaroon(path string, node *lndconn.Node) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	res := node.Result
	own := []string{node.MacaroonPath}
	for _, name := range lndMacaroonNames {
		if m, ok := res.Macaroons[name]; ok {
			own = append(own, m.Path)
		}
		if res.MacaroonDir != "" {
			own = append(own, filepath.Join(res.MacaroonDir,
				name+".macaroon"))
		}
	}
	for _, p := range own {
		if other, err := os.Stat(p); err == nil && os.SameFile(fi, other) {
			return true
		}
	}
	return false
}
