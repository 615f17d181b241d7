// Command lazyproto rewrites files written by protoc-gen-go so that their
// descriptor and types are registered on first use instead of when the
// program starts. A generated file registers them in an init function,
// which every run of l402 pays for (about 1.2 ms for lndrpc, adminrpc,
// pricesrpc and hashmailpb together, docs/benchmarks.md), although most
// runs never touch them. After the rewrite, init is gone and each method
// that reads the file's message or enum types (ProtoReflect, Reset, an
// enum's Descriptor and Type) first calls file_<name>_proto_lazy, which
// runs the generated init once (sync.Once).
//
//	go run ./scripts/lazyproto FILE.pb.go ...
//
// `make proto` runs it after protoc. It is idempotent: a file already
// rewritten is left as it is.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lazyproto FILE.pb.go ...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := rewriteFile(path); err != nil {
			fmt.Fprintf(os.Stderr, "lazyproto: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

// rewriteFile rewrites the file at path in place.
func rewriteFile(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := rewrite(src)
	if err != nil {
		return err
	}
	if bytes.Equal(out, src) {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

// initLine is the generated init: it names the file's prefix.
var initLine = regexp.MustCompile(`^func init\(\) \{ (file_\w+_proto)_init\(\) \}$`)

// lazyDecl matches the declaration that replaces it.
var lazyDecl = regexp.MustCompile(`(?m)^func (file_\w+_proto)_lazy\(\) \{`)

// rewrite returns src with its init replaced by a lazy registration and a
// call to it ahead of each first use of the file's types in a function.
func rewrite(src []byte) ([]byte, error) {
	lines := strings.Split(string(src), "\n")
	prefix := ""
	for i, l := range lines {
		if m := initLine.FindStringSubmatch(l); m != nil {
			prefix = m[1]
			lines[i] = fmt.Sprintf(`// %[1]s_once registers the file's descriptor and types
// on first use, not when the program starts (scripts/lazyproto).
var %[1]s_once sync.Once

// %[1]s_lazy registers the file's descriptor and types, once.
func %[1]s_lazy() { %[1]s_once.Do(%[1]s_init) }`, prefix)
		}
	}
	if prefix == "" {
		if lazyDecl.Match(src) {
			return src, nil
		}
		return nil, fmt.Errorf("no generated init function")
	}
	if !bytes.Contains(src, []byte("\tsync \"sync\"\n")) {
		return nil, fmt.Errorf("the file does not import sync")
	}

	uses := []string{prefix + "_msgTypes[", prefix + "_enumTypes["}
	call := prefix + "_lazy()"
	var out []string
	inFunc, called := false, false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "func "):
			// The generated init and the registration itself read the
			// types before they exist, and must not wait on the Once.
			inFunc = !strings.HasPrefix(l, "func "+prefix+"_")
			called = false
		case l == "}":
			inFunc = false
		case inFunc && !called && containsAny(l, uses):
			indent := l[:len(l)-len(strings.TrimLeft(l, "\t"))]
			out = append(out, indent+call)
			called = true
		}
		out = append(out, l)
	}
	formatted, err := format.Source([]byte(strings.Join(out, "\n")))
	if err != nil {
		return nil, fmt.Errorf("the rewritten file does not parse: %w", err)
	}
	return formatted, nil
}

// containsAny reports whether s contains one of subs.
func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
