package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons"
	"github.com/spf13/cobra"
)

// The conditions bake ends in beyond lnd's own (lnddetect.Problem).
var (
	errFileExists    = fault.New("file_exists", "file exists")
	errNotWritable   = fault.New("file_not_writable", "file not writable")
	errUnknownMethod = fault.New("unknown_method", "unknown method")
)

// bakeOptions are the flags of `l402 bake`.
type bakeOptions struct {
	lnd lndFlags

	custom    []string
	name      string
	rootKeyID uint64

	listRoles       bool
	listPermissions bool

	saveTo   string
	force    bool
	printHex bool
	asJSON   bool

	caveats caveatFlags

	// changed reports whether a flag was given on the command line.
	changed func(name string) bool
}

// newBakeCmd builds `l402 bake` and its subcommands.
func newBakeCmd(streams cli.IO) *cobra.Command {
	var o bakeOptions
	cmd := &cobra.Command{
		Use:   "bake [ROLE]",
		Short: "Bake least-privilege lnd macaroons; attenuate and inspect them",
		Long: "Bake an lnd macaroon that grants one role's gRPC methods " +
			"(uri: permissions)\nthrough lnd's BakeMacaroon, under the " +
			"role's own root key ID, and write it\n0600 to lnd's macaroon " +
			"directory as ROLE.macaroon (--save-to elsewhere); an\n" +
			"existing file is never replaced without --force. lnd is " +
			"found as `l402 setup`\nfinds it, else from serve.yaml or " +
			"fetch.yaml; baking needs admin.macaroon\n(--macaroon).\n\n" +
			"Roles: " + strings.Join(macaroons.RoleNames(), ", ") +
			" (--list-roles).\n\nExit codes: 0 ok, 1 general error, 2 bad " +
			"arguments (an unknown role or\nmethod, a bad flag), 3 lnd not " +
			"found or not usable (the code names the\ncause). docs/bake.md " +
			"has the details.",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cli.Usage(fmt.Errorf("%s takes one ROLE, got %q",
					c.CommandPath(), args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.changed = c.Flags().Changed
			return runBake(c.Context(), streams, o, args)
		},
	}
	f := cmd.Flags()
	o.lnd.add(f)
	f.StringArrayVar(&o.custom, "custom", nil, "bake a macaroon for this "+
		"full gRPC method, such as /lnrpc.Lightning/GetInfo (repeatable)")
	f.StringVar(&o.name, "name", "custom", "with --custom: the file name, "+
		"NAME.macaroon")
	f.Uint64Var(&o.rootKeyID, "root-key-id", 0, "bake under this root key "+
		"ID (default: the role's own; --custom: 4020)")
	f.BoolVar(&o.listRoles, "list-roles", false, "list the roles and their "+
		"methods (no lnd needed)")
	f.BoolVar(&o.listPermissions, "list-permissions", false, "list the "+
		"methods the node serves and the permissions each needs")
	f.StringVar(&o.saveTo, "save-to", "", "write the macaroon to this "+
		"file (default: lnd's macaroon directory, ROLE.macaroon)")
	f.BoolVar(&o.force, "force", false, "replace an existing file")
	f.BoolVar(&o.printHex, "print-hex", false, "print the macaroon as hex "+
		"on stdout instead of writing a file (it is a secret)")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON on "+
		"stdout")
	o.caveats.add(f)

	cmd.AddCommand(newBakeAttenuateCmd(streams))
	cmd.AddCommand(newBakeInspectCmd(streams))
	return cmd
}

// runBake does what the flags ask: list roles, list the node's
// permissions, or bake.
func runBake(ctx context.Context, streams cli.IO, o bakeOptions,
	args []string) error {

	if err := o.checkMode(args); err != nil {
		return cli.Usage(err)
	}
	if o.listRoles {
		return writeRoles(streams, o.asJSON)
	}
	if err := o.lnd.check(); err != nil {
		return cli.Usage(err)
	}
	if o.listPermissions {
		return listPermissions(ctx, streams, o)
	}

	role, err := o.role(args)
	if err != nil {
		return cli.Usage(err)
	}
	caveats, _, err := o.caveats.options(o.changed("timeout"))
	if err != nil {
		return cli.Usage(err)
	}
	if err := o.checkBake(); err != nil {
		return cli.Usage(err)
	}
	return bake(ctx, streams, o, role, caveats)
}

// bakeOnlyFlags are the flags that only baking uses.
var bakeOnlyFlags = []string{"custom", "name", "root-key-id", "save-to",
	"force", "print-hex", "timeout", "ip", "ip-range"}

// lndFlagNames are the flags that say where lnd is and how to call it.
var lndFlagNames = []string{"lnddir", "network", "lnd-host", "lnd-tls",
	"lnd-macdir", "macaroon"}

// checkMode checks that exactly one of a ROLE, --custom, --list-roles and
// --list-permissions was given, and no flag the mode does not use.
func (o *bakeOptions) checkMode(args []string) error {
	modes := 0
	for _, on := range []bool{len(args) == 1, len(o.custom) > 0,
		o.listRoles, o.listPermissions} {

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

	if o.listRoles || o.listPermissions {
		for _, name := range bakeOnlyFlags {
			if o.changed(name) {
				return fmt.Errorf("--%s is for baking; --list-roles and "+
					"--list-permissions take no such flag", name)
			}
		}
	}
	if o.listRoles {
		for _, name := range lndFlagNames {
			if o.changed(name) {
				return fmt.Errorf("--list-roles needs no lnd: drop "+
					"--%s", name)
			}
		}
	}
	if len(o.custom) == 0 && o.changed("name") {
		return errors.New("--name names the file of a --custom " +
			"macaroon; a ROLE's file is ROLE.macaroon (or --save-to)")
	}
	return nil
}

// role returns the role to bake: the named one, or one made of the
// --custom methods.
func (o *bakeOptions) role(args []string) (macaroons.Role, error) {
	if len(args) == 1 {
		return macaroons.LookupRole(args[0])
	}

	name, err := customName(o.name)
	if err != nil {
		return macaroons.Role{}, err
	}
	methods, err := customMethods(o.custom)
	if err != nil {
		return macaroons.Role{}, err
	}
	return macaroons.Role{Name: name, RootKeyID: macaroons.CustomRootKeyID,
		Methods: methods}, nil
}

// checkBake checks the flags of baking that need no node.
func (o *bakeOptions) checkBake() error {
	if o.printHex && o.changed("save-to") {
		return errors.New("--print-hex prints the macaroon instead of " +
			"writing it: drop --save-to or --print-hex")
	}
	if o.changed("root-key-id") && o.rootKeyID == 0 {
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

// customName checks --name and returns it without ".macaroon".
func customName(name string) (string, error) {
	name = strings.TrimSuffix(name, ".macaroon")
	if !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`).MatchString(
		name) {

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
var grpcMethod = regexp.MustCompile(
	`^/[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+/[A-Za-z_][A-Za-z0-9_]*$`)

// customMethods checks the --custom methods and returns them once each,
// in order. A "uri:" prefix, as lncli writes permissions, is allowed.
func customMethods(uris []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, u := range uris {
		m := strings.TrimPrefix(strings.TrimSpace(u), "uri:")
		if !grpcMethod.MatchString(m) {
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

// bakeResult is what `l402 bake --json` prints.
type bakeResult struct {
	Role        string                 `json:"role"`
	Path        string                 `json:"path,omitempty"`
	RootKeyID   uint64                 `json:"root_key_id"`
	Permissions []lightning.Permission `json:"permissions"`
	Caveats     []string               `json:"caveats"`
	ExpiresAt   *time.Time             `json:"expires_at,omitempty"`
	Revoke      string                 `json:"revoke"`
	Network     string                 `json:"network"`
	LndHost     string                 `json:"lnd_host"`

	// MacaroonHex is the macaroon itself, only with --print-hex.
	MacaroonHex string `json:"macaroon_hex,omitempty"`
}

// bake bakes the role on the node, adds the caveats, and writes the
// macaroon to its file or prints it.
func bake(ctx context.Context, streams cli.IO, o bakeOptions,
	role macaroons.Role, caveats *macaroons.AttenuateOptions) error {

	node, err := connectLnd(ctx, o.lnd, "admin")
	if err != nil {
		return err
	}
	defer node.lnd.Close()

	path := ""
	if !o.printHex {
		if path, err = savePath(o, node, role.Name); err != nil {
			return err
		}
	}
	id := role.RootKeyID
	if o.changed("root-key-id") {
		id = o.rootKeyID
	}

	mac, err := bakeOn(ctx, node.lnd, role, len(o.custom) > 0, id)
	if err != nil {
		return err
	}
	if caveats != nil {
		if mac, err = macaroons.Attenuate(mac, *caveats); err != nil {
			return err
		}
	}
	info, err := macaroons.Inspect(mac)
	if err != nil {
		return err
	}

	res := bakeResult{Role: role.Name, Path: path, RootKeyID: id,
		Permissions: info.Permissions, Caveats: info.Caveats,
		ExpiresAt: info.ExpiresAt,
		Revoke:    "lncli deletemacaroonid " + strconv.FormatUint(id, 10),
		Network:   node.info.Network, LndHost: node.res.RPCHost}
	if len(o.custom) > 0 {
		res.Role = "custom"
	}
	if o.printHex {
		res.MacaroonHex = hex.EncodeToString(mac)
	} else if err := writeMacaroon(path, mac, o.force); err != nil {
		return err
	}
	return writeBakeResult(streams, o.asJSON, role.Name, res)
}

// savePath returns the file the macaroon goes to: --save-to, else
// NAME.macaroon in lnd's macaroon directory. It refuses, before anything
// is baked, a file that exists (without --force) and lnd's own macaroons
// (always).
func savePath(o bakeOptions, node *bakeNode, name string) (string, error) {
	path := o.saveTo
	switch {
	case path != "":
		var err error
		if path, err = config.ExpandHome(path); err != nil {
			return "", cli.Usage(err)
		}
	case node.res.MacaroonDir == "":
		return "", cli.Usage(errors.New("lnd's macaroon directory is " +
			"not known: pass --save-to with the file to write"))
	default:
		path = filepath.Join(node.res.MacaroonDir, name+".macaroon")
	}

	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return "", cli.Usage(fmt.Errorf("--save-to %s is a "+
				"directory: give the file to write", path))
		}
		if isLndMacaroon(path, node) {
			return "", cli.Usage(fmt.Errorf("%s is lnd's own macaroon "+
				"(or the one bake calls lnd with): bake never replaces "+
				"it; choose another file", path))
		}
		if !o.force {
			return "", errFileExists.Mark(fmt.Errorf("%s already "+
				"exists: choose another file with --save-to, or "+
				"replace it with --force", path))
		}
	}
	return path, nil
}

// isLndMacaroon reports whether path is one of lnd's own macaroon files or
// the one the node is called with.
func isLndMacaroon(path string, node *bakeNode) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	own := []string{node.macaroon}
	for _, name := range lndMacaroonNames {
		if m, ok := node.res.Macaroons[name]; ok {
			own = append(own, m.Path)
		}
		if node.res.MacaroonDir != "" {
			own = append(own, filepath.Join(node.res.MacaroonDir,
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

// bakeOn bakes the role on the node under the root key ID. A custom role
// is checked against the methods the node serves first, and what lnd
// baked against what was asked after.
func bakeOn(ctx context.Context, l *lightning.Lnd, role macaroons.Role,
	custom bool, id uint64) ([]byte, error) {

	if !custom {
		mac, err := macaroons.BakeWithRootKeyID(ctx, l, role.Name, id)
		if err != nil {
			return nil, nodeError(err)
		}
		return mac, nil
	}

	if err := checkServed(ctx, l, role.Methods); err != nil {
		return nil, err
	}
	mac, err := l.BakeMacaroon(ctx, role.Permissions(), id)
	if err != nil {
		return nil, nodeError(fmt.Errorf("unable to bake: %w", err))
	}
	info, err := macaroons.Inspect(mac)
	if err != nil {
		return nil, fmt.Errorf("lnd baked a macaroon l402 cannot read: %w",
			err)
	}
	if info.PermissionsError == "" &&
		!samePermissions(info.Permissions, role.Permissions()) {
		return nil, fmt.Errorf("lnd baked a macaroon that grants other " +
			"permissions than the --custom methods")
	}
	return mac, nil
}

// checkServed refuses, by name, the methods the node does not serve.
func checkServed(ctx context.Context, l *lightning.Lnd,
	methods []string) error {

	known, err := l.ListPermissions(ctx)
	if err != nil {
		return nodeError(fmt.Errorf("unable to list the node's methods: "+
			"%w", err))
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
	return errUnknownMethod.Mark(fmt.Errorf("the node does not serve %s: "+
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

// writeMacaroon writes the macaroon 0600, making its directory (0700)
// when needed.
func writeMacaroon(path string, mac []byte, force bool) error {
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	if err == nil {
		err = macaroons.WriteSecretFile(path, mac, force)
	}
	if errors.Is(err, fs.ErrPermission) {
		return errNotWritable.Mark(fmt.Errorf("%w: pass --save-to with a "+
			"file of yours, or run as the user that owns lnd's "+
			"directory", err))
	}
	return err
}

// writeBakeResult prints the result: JSON on stdout, or the hex on stdout
// (--print-hex) and a summary on stderr.
func writeBakeResult(streams cli.IO, asJSON bool, name string,
	res bakeResult) error {

	if asJSON {
		return cli.WriteJSON(streams.Out, res)
	}
	if res.MacaroonHex != "" {
		if _, err := fmt.Fprintln(streams.Out, res.MacaroonHex); err != nil {
			return err
		}
	}

	w := streams.ErrOut
	fmt.Fprintf(w, "l402: baked %s on %s lnd at %s (root key id %d)\n",
		name, res.Network, res.LndHost, res.RootKeyID)
	if res.Path != "" {
		fmt.Fprintf(w, "l402: wrote %s (mode 0600)\n", res.Path)
	}
	if res.ExpiresAt != nil {
		fmt.Fprintf(w, "l402: expires %s\n",
			res.ExpiresAt.Format(time.RFC3339))
	}
	_, err := fmt.Fprintf(w, "l402: revoke it, with every macaroon of "+
		"root key id %d: %s\n", res.RootKeyID, res.Revoke)
	return err
}

// roleView is one role as --list-roles prints it.
type roleView struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	RootKeyID   uint64   `json:"root_key_id"`
	Methods     []string `json:"methods"`
}

// writeRoles prints the roles: JSON, or a table whose methods are
// shortened to Service/Method.
func writeRoles(streams cli.IO, asJSON bool) error {
	views := make([]roleView, 0, len(macaroons.Roles))
	rows := make([][]string, 0, len(macaroons.Roles))
	for _, r := range macaroons.Roles {
		views = append(views, roleView{Name: r.Name,
			Description: r.Description, RootKeyID: r.RootKeyID,
			Methods: r.Methods})
		short := make([]string, 0, len(r.Methods))
		for _, m := range r.Methods {
			short = append(short, shortMethod(m))
		}
		rows = append(rows, []string{r.Name,
			strconv.FormatUint(r.RootKeyID, 10),
			strings.Join(short, ", "), r.Description})
	}
	if asJSON {
		return cli.WriteJSON(streams.Out, views)
	}
	return cli.WriteTable(streams.Out, streams.OutTTY,
		[]string{"ROLE", "ROOT KEY ID", "METHODS", "DESCRIPTION"}, rows)
}

// shortMethod returns /pkg.Service/Method as Service/Method.
func shortMethod(m string) string {
	svc, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	if !ok {
		return m
	}
	return svc[strings.LastIndex(svc, ".")+1:] + "/" + method
}

// methodView is one method as --list-permissions prints it.
type methodView struct {
	Method      string                 `json:"method"`
	Permissions []lightning.Permission `json:"permissions"`
}

// listPermissions prints the methods the node serves, by name, with the
// permissions each requires. readonly.macaroon is enough.
func listPermissions(ctx context.Context, streams cli.IO,
	o bakeOptions) error {

	node, err := connectLnd(ctx, o.lnd, "readonly", "admin")
	if err != nil {
		return err
	}
	defer node.lnd.Close()
	known, err := node.lnd.ListPermissions(ctx)
	if err != nil {
		return nodeError(err)
	}

	views := make([]methodView, 0, len(known))
	for m, perms := range known {
		views = append(views, methodView{Method: m, Permissions: perms})
	}
	sort.Slice(views, func(i, j int) bool {
		return views[i].Method < views[j].Method
	})
	if o.asJSON {
		return cli.WriteJSON(streams.Out, views)
	}
	rows := make([][]string, 0, len(views))
	for _, v := range views {
		perms := make([]string, 0, len(v.Permissions))
		for _, p := range v.Permissions {
			perms = append(perms, p.String())
		}
		rows = append(rows, []string{v.Method, strings.Join(perms, " ")})
	}
	return cli.WriteTable(streams.Out, streams.OutTTY,
		[]string{"METHOD", "PERMISSIONS"}, rows)
}
