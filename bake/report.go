package bake

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/macaroons"
)

// JSON returns what `l402 bake --json` prints for the report: the roles,
// the node's methods, or the macaroon baked.
func (r Report) JSON() any {
	switch {
	case r.Roles != nil:
		return r.Roles
	case r.Methods != nil:
		return r.Methods
	}
	return r.Baked
}

// WriteHuman prints the report for people: the roles or the node's
// methods as a table on out (drawn for a terminal when tty), or the macaroon baked as
// a summary on errOut, with its hex on out when it was asked for.
func (r Report) WriteHuman(out, errOut io.Writer, tty bool) error {
	switch {
	case r.Roles != nil:
		return writeRoles(out, tty, r.Roles)
	case r.Methods != nil:
		return writeMethods(out, tty, r.Methods)
	case r.Baked == nil:
		return nil
	}
	b := r.Baked
	if b.MacaroonHex != "" {
		if _, err := fmt.Fprintln(out, b.MacaroonHex); err != nil {
			return err
		}
	}
	fmt.Fprintf(errOut, "l402: baked %s on %s lnd at %s (root key id %d)\n",
		b.Name, b.Network, b.LndHost, b.RootKeyID)
	if b.Path != "" {
		fmt.Fprintf(errOut, "l402: wrote %s (mode 0600)\n", b.Path)
	}
	if b.ExpiresAt != nil {
		fmt.Fprintf(errOut, "l402: expires %s\n",
			b.ExpiresAt.Format(time.RFC3339))
	}
	_, err := fmt.Fprintf(errOut, "l402: revoke it, with every macaroon of "+
		"root key id %d: %s\n", b.RootKeyID, b.Revoke)
	return err
}

// writeRoles prints the roles as a table whose methods are shortened to
// Service/Method.
func writeRoles(w io.Writer, tty bool, roles []RoleInfo) error {
	rows := make([][]string, 0, len(roles))
	for _, r := range roles {
		short := make([]string, 0, len(r.Methods))
		for _, m := range r.Methods {
			short = append(short, shortMethod(m))
		}
		rows = append(rows, []string{r.Name,
			strconv.FormatUint(r.RootKeyID, 10),
			strings.Join(short, ", "), r.Description})
	}
	return cli.WriteTable(w, tty,
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

// writeMethods prints the methods the node serves as a table of each
// method and the permissions it requires.
func writeMethods(w io.Writer, tty bool, methods []MethodInfo) error {
	rows := make([][]string, 0, len(methods))
	for _, v := range methods {
		perms := make([]string, 0, len(v.Permissions))
		for _, p := range v.Permissions {
			perms = append(perms, p.String())
		}
		rows = append(rows, []string{v.Method, strings.Join(perms, " ")})
	}
	return cli.WriteTable(w, tty, []string{"METHOD", "PERMISSIONS"}, rows)
}

// WriteHuman prints the file written and the caveats added, on errOut.
func (r AttenuateReport) WriteHuman(errOut io.Writer) error {
	_, err := fmt.Fprintf(errOut, "l402: wrote %s (mode 0600), adding: %s\n",
		r.Path, strings.Join(r.Added, "; "))
	return err
}

// WriteHuman prints what the macaroon says as macaroons' label/value
// table, with the expiry state and how to revoke it.
func (r InspectReport) WriteHuman(out io.Writer) error {
	if err := macaroons.WriteTable(out, r.Info); err != nil {
		return err
	}
	if r.ExpiresAt != nil {
		fmt.Fprintf(out, "%-12s %v\n", "expired", r.Expired)
	}
	if r.Revoke != "" {
		fmt.Fprintf(out, "%-12s %s\n", "revoke", r.Revoke)
	}
	return nil
}
