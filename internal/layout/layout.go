package layout

import (
	"fmt"
	"strings"
)

// Module is the module path every rule is relative to.
const Module = "github.com/l402/l402"

// CommandPackages do the work of one command each; cmd/l402 wires them.
var CommandPackages = []string{"serve", "fetch", "tokens", "setup", "bake",
	"mcp", "admin", "status"}

// DataPackages hold embedded files and import nothing of the module.
var DataPackages = []string{"templates"}

// allowed are the arrows between command packages that the design permits:
// fetch uses tokens' store; mcp, a surface over fetch, calls fetch.Run and
// reads tokens' store for its token and spending tools, and status.Run
// for node_status; status reports on what fetch would pay with (fetch's
// config, node and caps) and reads tokens' store.
var allowed = map[[2]string]bool{
	{"fetch", "tokens"}:  true,
	{"mcp", "fetch"}:     true,
	{"mcp", "tokens"}:    true,
	{"mcp", "status"}:    true,
	{"status", "fetch"}:  true,
	{"status", "tokens"}: true,
}

// pure are packages that must not do I/O, and the standard packages that
// would let them: the protocol cores of the two schemes and the HTTP
// authentication syntax they share. (They read credentials from an
// http.Header, a map type, so net/http is not on the list.)
var pure = map[string][]string{
	"internal/l402":     noIO,
	"internal/mpp":      noIO,
	"internal/httpauth": noIO,
}

// noIO are the standard packages a pure package may not import.
var noIO = []string{"net", "os", "os/exec", "io/ioutil", "io/fs",
	"database/sql", "syscall"}

// Package is one package of the module and what it imports, relative to
// the module ("" is the module's root; standard and third-party imports
// keep their full path): its code's imports, and its tests' (in-package
// and _test package, itests included).
type Package struct {
	Path        string
	Imports     []string
	TestImports []string
}

// Check returns a line for every arrow that breaks the layout:
// cmd/l402 -> command packages -> internal/...; a command package never
// imports another (except fetch -> tokens, mcp -> fetch, tokens and
// status, and status -> fetch and tokens)
// nor cmd; internal/... never imports a command package or cmd; data
// packages import nothing of the module; pure packages do no I/O. A
// command package's tests may import another command package (setup's
// tests load the serve.yaml they wrote with serve's loader), and a pure
// package's tests may read files; every other rule holds for tests too.
func Check(pkgs []Package) []string {
	var bad []string
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if why := arrow(p.Path, imp, false); why != "" {
				bad = append(bad, fmt.Sprintf("%s imports %s: %s",
					p.Path, imp, why))
			}
		}
		for _, imp := range p.TestImports {
			if why := arrow(p.Path, imp, true); why != "" {
				bad = append(bad, fmt.Sprintf("%s's tests import %s: %s",
					p.Path, imp, why))
			}
		}
	}
	return bad
}

// arrow says why from may not import to, or "" when it may; inTest says
// the import is from from's tests.
func arrow(from, to string, inTest bool) string {
	for _, std := range pure[from] {
		// Tests may read their vectors from testdata.
		if to == std && !inTest {
			return "it is pure: no network, files or processes"
		}
	}
	rel, ok := relative(to)
	if !ok {
		return ""
	}
	fromTop, toTop := top(from), top(rel)
	switch {
	case fromTop == "cmd":
		return ""
	case toTop == "cmd":
		return "nothing imports a command's main package"
	case is(DataPackages, fromTop):
		return "a data package imports nothing of the module"
	case fromTop == "internal" && is(CommandPackages, toTop):
		return "internal packages never import a command package"
	case is(CommandPackages, fromTop) && is(CommandPackages, toTop) &&
		fromTop != toTop && !allowed[[2]string{fromTop, toTop}] &&
		!inTest:
		return "command packages never import each other " +
			"(only fetch -> tokens, mcp -> fetch, tokens and status, " +
			"status -> fetch and tokens)"
	}
	return ""
}

// relative returns the import path relative to the module, and whether it
// is in the module.
func relative(imp string) (string, bool) {
	if imp == Module {
		return "", true
	}
	rel, ok := strings.CutPrefix(imp, Module+"/")
	return rel, ok
}

// top returns the first element of a module-relative path.
func top(rel string) string {
	first, _, _ := strings.Cut(rel, "/")
	return first
}

// is reports whether s is in list.
func is(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
