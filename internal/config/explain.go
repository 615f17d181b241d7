package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The errors yaml.v3 reports while decoding, which name Go types.
var (
	typeError = regexp.MustCompile("^line (\\d+): cannot unmarshal " +
		"(!\\S*)(?: `(.*)`)? into (.+)$")
	fieldError = regexp.MustCompile(`^line (\d+): field (.+) not found ` +
		`in type \S+$`)
)

// explain rewrites a decoding error of data in words: each wrong value is
// named by its key path and line, with what is wanted and what was given;
// an unknown key is named as such. Other errors are returned as they are.
func explain(err error, data []byte) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	lines := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		lines[i] = explainOne(e, &root)
	}
	return strings.Join(lines, "; ")
}

// explainOne rewrites one of yaml.v3's error lines.
func explainOne(e string, root *yaml.Node) string {
	if m := fieldError.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
	}
	m := typeError.FindStringSubmatch(e)
	if m == nil {
		return e
	}
	line, _ := strconv.Atoi(m[1])
	got := "a " + nodeWord(m[2])
	if m[3] != "" {
		got = strconv.Quote(m[3])
	}
	key := keyAt(root, line, "", m[3] != "")
	if key == "" {
		return fmt.Sprintf("line %d: want %s, got %s", line, wanted(m[4]),
			got)
	}
	return fmt.Sprintf("line %d: %s: want %s, got %s", line, key,
		wanted(m[4]), got)
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
