package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// root is the module's directory, two levels up from here.
const root = "../.."

// listPackages runs `go list -json ./...` at the module's root and returns
// each package's non-test imports, relative to the module.
func listPackages(t *testing.T, tags string) []Package {
	t.Helper()
	args := []string{"list", "-json"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./...")...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath   string
			Imports      []string
			TestImports  []string
			XTestImports []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel, _ := relative(p.ImportPath)
		pkgs = append(pkgs, Package{Path: rel, Imports: p.Imports,
			TestImports: append(p.TestImports, p.XTestImports...)})
	}
	return pkgs
}

// TestImportGraph checks the real tree, with and without the itest tag
// (which adds the itests' imports).
func TestImportGraph(t *testing.T) {
	for _, tags := range []string{"", "itest"} {
		pkgs := listPackages(t, tags)
		if len(pkgs) < 20 {
			t.Fatalf("go list found %d packages", len(pkgs))
		}
		for _, bad := range Check(pkgs) {
			t.Errorf("tags %q: %s", tags, bad)
		}
	}
}

// TestCheckCatchesBadArrows feeds Check a graph with one arrow of each
// forbidden kind, and the permitted ones.
func TestCheckCatchesBadArrows(t *testing.T) {
	m := func(p string) string { return Module + "/" + p }
	pkgs := []Package{
		{Path: "cmd/l402", Imports: []string{m("serve"), m("fetch"), m("internal/cli")}},
		{Path: "fetch", Imports: []string{m("tokens"), m("internal/l402"), "net/http"}},
		{Path: "bake", Imports: []string{m("setup")}},
		{Path: "serve", Imports: []string{m("fetch")}},
		{Path: "mcp", Imports: []string{m("fetch"), m("tokens"),
			m("internal/cli")}},
		{Path: "mcp/x", Imports: []string{m("serve")}},
		{Path: "internal/cli", Imports: []string{m("tokens")}},
		{Path: "tokens", Imports: []string{m("cmd/l402")}},
		{Path: "templates", Imports: []string{m("internal/config")}},
		{Path: "internal/l402", Imports: []string{"os", "net/http", "crypto/sha256"}},
		{Path: "internal/mpp", Imports: []string{"net", "net/http",
			m("internal/httpauth")}, TestImports: []string{"os"}},
		{Path: "internal/httpauth", Imports: []string{"syscall"}},
		{Path: "setup", Imports: []string{m("templates"),
			m("internal/lnddetect")}, TestImports: []string{m("serve")}},
		{Path: "internal/store", TestImports: []string{m("serve")}},
		{Path: "templates", TestImports: []string{m("setup")}},
	}
	got := strings.Join(Check(pkgs), "\n")
	for _, want := range []string{
		"bake imports " + m("setup"),
		"serve imports " + m("fetch"),
		"mcp/x imports " + m("serve"),
		"internal/cli imports " + m("tokens"),
		"tokens imports " + m("cmd/l402"),
		"templates imports " + m("internal/config"),
		"internal/l402 imports os",
		"internal/mpp imports net:",
		"internal/httpauth imports syscall",
		"internal/store's tests import " + m("serve"),
		"templates's tests import " + m("setup"),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check missed %q; it said:\n%s", want, got)
		}
	}
	if n := len(Check(pkgs)); n != 11 {
		t.Errorf("%d complaints, want 11:\n%s", n, got)
	}
}

// TestExitCodesOnlyAtTheEdge checks that no non-test Go file outside cmd/
// and internal/cli calls os.Exit or names one of internal/cli's exit
// codes: packages return errors, and one table maps them.
func TestExitCodesOnlyAtTheEdge(t *testing.T) {
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry,
		err error) error {

		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if path != root && (rel == "cmd" ||
				rel == filepath.Join("internal", "cli") ||
				strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") ||
			strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		if f.Name.Name == "main" {
			// A program's main package is its own edge (the regtest
			// tool, scripts/modproxy).
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if ok && (x.Name == "os" && sel.Sel.Name == "Exit" ||
				x.Name == "cli" && strings.HasPrefix(sel.Sel.Name, "Exit")) {
				t.Errorf("%s: %s.%s outside cmd/ and internal/cli",
					fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d Go files were read: the walk missed the tree",
			files)
	}
}

// TestBinaryLinksNoTestCode: the l402 binary links no test-only package
// (testing, httptest, testify, pgregory.net/rapid, the module's test and
// benchmark harnesses), its own or through a dependency.
func TestBinaryLinksNoTestCode(t *testing.T) {
	graph := binaryGraph(t)
	for _, chain := range TestOnlyLinked(graph, Module+"/cmd/l402") {
		t.Errorf("the binary links test-only code: %s", chain)
	}
}

// TestBinaryLinksNoCostlyInit: the l402 binary links none of the
// packages costlyInit names, whose initialisation every command (l402
// version, a cached fetch) would pay for at every start.
func TestBinaryLinksNoCostlyInit(t *testing.T) {
	graph := binaryGraph(t)
	for _, chain := range CostlyLinked(graph, Module+"/cmd/l402") {
		t.Errorf("the binary links a package with a costly "+
			"initialisation: %s", chain)
	}
}

// binaryGraph returns the import graph of the l402 binary (each linked
// package's imports), from go list.
func binaryGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./cmd/l402")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		graph[p.ImportPath] = p.Imports
	}
	if len(graph) < 100 {
		t.Fatalf("go list found %d packages", len(graph))
	}
	return graph
}

// TestTestOnlyLinkedReportsEveryPath: every test-only package the root
// reaches is reported, through a dependency as well as directly, each
// with its chain of imports; one reached only from another test-only
// package is reported too.
func TestTestOnlyLinkedReportsEveryPath(t *testing.T) {
	fn := "github.com/lightningnetwork/lnd/fn/v2"
	g := map[string][]string{
		"root":                                {"a", fn, Module + "/internal/lnctest"},
		"a":                                   {"pgregory.net/rapid"},
		fn:                                    {"github.com/stretchr/testify/require"},
		"github.com/stretchr/testify/require": {"net/http/httptest"},
	}
	got := TestOnlyLinked(g, "root")
	want := []string{
		"root -> " + fn + " -> github.com/stretchr/testify/require",
		"root -> " + fn + " -> github.com/stretchr/testify/require " +
			"-> net/http/httptest",
		"root -> a -> pgregory.net/rapid",
		"root -> " + Module + "/internal/lnctest",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q, want %q", got, want)
	}
	g["root"] = append(g["root"], "testing")
	if got := TestOnlyLinked(g, "root"); len(got) != 5 {
		t.Fatalf("testing imported directly: %q", got)
	}
}

// TestNoRegexpCompiledAtInit: no package of the module that the binary
// links compiles a regular expression in a package-level variable's
// initialiser, which every start (l402 version, a cached fetch) would pay
// for: such a variable is a sync.OnceValue, compiled on first use.
func TestNoRegexpCompiledAtInit(t *testing.T) {
	graph := binaryGraph(t)
	files := 0
	for pkg := range graph {
		rel, ok := relative(pkg)
		if !ok {
			continue
		}
		dir := filepath.Join(root, filepath.FromSlash(rel))
		fset := token.NewFileSet()
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files++
			for _, pos := range initRegexps(f) {
				t.Errorf("%s: a regexp compiled at init", fset.Position(pos))
			}
		}
	}
	if files < 100 {
		t.Fatalf("only %d Go files were read", files)
	}
}

// initRegexps returns where f's package-level variables call
// regexp.MustCompile or regexp.Compile outside a function literal.
func initRegexps(f *ast.File) []token.Pos {
	var found []token.Pos
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		ast.Inspect(g, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, ok := sel.X.(*ast.Ident)
				if ok && x.Name == "regexp" && (sel.Sel.Name ==
					"MustCompile" || sel.Sel.Name == "Compile") {
					found = append(found, n.Pos())
				}
			}
			return true
		})
	}
	return found
}
