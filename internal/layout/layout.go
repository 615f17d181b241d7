package layout

import (
	"fmt"
	"sort"
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
	"internal/bolt11":   noIO,
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

// testOnly reports whether a package exists for tests or development and
// must not be linked into the l402 binary: Go's testing packages, test
// helpers (testify, pgregory.net/rapid), and the module's own test and
// benchmark harnesses.
func testOnly(pkg string) bool {
	for _, p := range []string{"testing", "net/http/httptest",
		"pgregory.net/rapid", "github.com/stretchr/testify"} {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	rel, ok := relative(pkg)
	if !ok {
		return false
	}
	first, rest, _ := strings.Cut(rel, "/")
	name, _, _ := strings.Cut(rest, "/")
	return first == "internal" && (strings.HasSuffix(name, "test") ||
		strings.HasPrefix(name, "test") || name == "regtest" ||
		name == "benchload")
}

// costlyInit are packages whose initialisation costs every start of the
// binary (every package a binary links initialises before main, whatever
// the command) more than what l402 uses them for is worth, each with
// what replaced it (docs/benchmarks.md has the figures).
// TestBinaryLinksNoCostlyInit fails when the binary links one.
var costlyInit = map[string]string{
	// The protobuf APIv1 shim: it builds descriptor.proto's and the
	// editions' descriptors at init (protodesc), for Prometheus's old
	// client (client_golang before v1.12, client_model v0.2); newer
	// clients use google.golang.org/protobuf alone, and serve now
	// writes the text format itself (internal/metrics).
	"github.com/golang/protobuf":                       "client_golang >= v1.12, then internal/metrics",
	"github.com/matttproud/golang_protobuf_extensions": "client_golang >= v1.12, then internal/metrics",
	// lipgloss and its terminal stack (ansi's parser tables, termenv,
	// runewidth's tables) for two tables: internal/cli's RenderTable.
	"github.com/charmbracelet":      "internal/cli.RenderTable",
	"github.com/mattn/go-runewidth": "internal/cli.RenderTable",
	// Prometheus' Go client and what it pulls in (its registry and Go
	// collector's descriptors, procfs, runtime/metrics' tables), about
	// 2.4 ms at every start, for serve's /metrics alone. Tests may
	// still use client_model and common's expfmt to parse /metrics.
	"github.com/prometheus/client_golang": "internal/metrics",
	"github.com/prometheus/client_model":  "internal/metrics",
	"github.com/prometheus/common":        "internal/metrics",
	"github.com/prometheus/procfs":        "internal/metrics",
	"runtime/metrics":                     "internal/metrics",
	// LNC's generated HashMail package and what only it links (its REST
	// gateway's runtime, the health service, httpbody): about 0.9 ms of
	// initialisation for a handful of messages, which internal/lnc/
	// hashmailpb declares under l402's own proto package.
	"github.com/lightninglabs/lightning-node-connect/hashmailrpc": "internal/lnc/hashmailpb",
	"github.com/grpc-ecosystem/grpc-gateway":                      "internal/lnc/hashmailpb",
}

// CostlyLinked returns, for a package graph and its root, every package
// under a costlyInit prefix that the root links, with the chain of
// imports that reaches it.
func CostlyLinked(graph map[string][]string, root string) []string {
	return linked(graph, root, func(p string) bool {
		for prefix := range costlyInit {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				return true
			}
		}
		return false
	})
}

// TestOnlyLinked returns, for a package graph (each package's imports)
// and its root, every test-only package the root links, with the chain
// of imports that reaches it.
func TestOnlyLinked(graph map[string][]string, root string) []string {
	return linked(graph, root, testOnly)
}

// linked walks the graph from root and returns the chain of imports to
// every package bad reports.
func linked(graph map[string][]string, root string,
	bad func(string) bool) []string {

	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range graph[p] {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = p
			queue = append(queue, imp)
		}
	}
	var chains []string
	for p := range prev {
		if !bad(p) {
			continue
		}
		chain := []string{p}
		for q := prev[p]; q != ""; q = prev[q] {
			chain = append([]string{q}, chain...)
		}
		chains = append(chains, strings.Join(chain, " -> "))
	}
	sort.Strings(chains)
	return chains
}
