package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// The errors yaml.v3 reports while decoding, which name Go types (the value
// they quote may span lines: a plain scalar over several lines), and the
// line an error names.
var (
	typeError = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile("(?s)^line (\\d+): cannot unmarshal " +
			"(!\\S*)(?: `(.*)`)? into (.+)$")
	})
	lineOf = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^line (\d+):`)
	})
)

// explain rewrites a decoding error of the document root in words: each
// wrong value is named by its key path and line, with what is wanted (the
// field's want tag from wants, by line, else its type in words) and what
// was given. Other errors are returned as they are.
func explain(err error, root *yaml.Node, wants map[int]string) []line {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []line{numbered(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	lines := make([]line, len(te.Errors))
	for i, e := range te.Errors {
		lines[i] = numbered(explainOne(e, root, wants))
	}
	return lines
}

// numbered returns text with the line it names.
func numbered(text string) line {
	l := line{text: text}
	if m := lineOf().FindStringSubmatch(text); m != nil {
		l.n, _ = strconv.Atoi(m[1])
	}
	return l
}

// explainOne rewrites one of yaml.v3's error lines.
func explainOne(e string, root *yaml.Node, wants map[int]string) string {
	m := typeError().FindStringSubmatch(e)
	if m == nil {
		return e
	}
	line, _ := strconv.Atoi(m[1])
	got := "a " + nodeWord(m[2])
	if m[3] != "" {
		got = strconv.Quote(m[3])
	}
	want := wanted(m[4])
	if w, ok := wants[line]; ok && m[3] != "" {
		want = w
	}
	key := keyAt(root, line, "", m[3] != "")
	if key == "" {
		return fmt.Sprintf("line %d: want %s, got %s", line, want, got)
	}
	return fmt.Sprintf("line %d: %s: want %s, got %s", line, key, want, got)
}

// keyAt returns the path (services[0].price) of the value on line under
// n: a scalar when scalar is set (yaml named the value it could not
// take), else a list or mapping; "" when there is none.
func keyAt(n *yaml.Node, line int, path string, scalar bool) string {
	var keys []string
	var values []*yaml.Node
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			keys, values = append(keys, path), append(values, c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			keys, values = append(keys, p), append(values, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			keys = append(keys, fmt.Sprintf("%s[%d]", path, i))
			values = append(values, c)
		}
	}
	for i, v := range values {
		if v.Line == line && (v.Kind == yaml.ScalarNode) == scalar &&
			n.Kind != yaml.DocumentNode {
			return keys[i]
		}
		if found := keyAt(v, line, keys[i], scalar); found != "" {
			return found
		}
	}
	return ""
}

// wanted says in words what a Go type takes.
func wanted(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 30s or 5m"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "text"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping of keys"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "a value of another kind"
}

// nodeWord names a YAML node kind from its tag.
func nodeWord(tag string) string {
	switch tag {
	case "!!seq":
		return "list"
	case "!!map":
		return "mapping"
	}
	return "value of another kind"
}
