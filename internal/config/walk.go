package config

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// finding is what walking a document against its Go type finds that
// yaml.v3 does not report: a key no field takes, or a fraction in a
// whole-number field (yaml.v3 truncates 1.5 to 1 there).
type finding struct {
	line int

	// path is where the finding is, from the top: keys, and "[i]" for
	// list items. For an unknown key, it is the block holding it.
	path []string

	// unknown is the unknown key, and nearest the known key of its
	// block closest to it ("" when none is close).
	unknown, nearest string

	// msg is the finding in words, without line or path.
	msg string
}

// String returns the finding as an error line.
func (f finding) String() string {
	where := joinPath(f.path)
	if where == "" {
		return fmt.Sprintf("line %d: %s", f.line, f.msg)
	}
	return fmt.Sprintf("line %d: %s: %s", f.line, where, f.msg)
}

// joinPath writes a path as services[0].price.
func joinPath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// walker walks a YAML tree against a Go type.
type walker struct {
	findings []finding

	// wants holds, by the line of a scalar value, the want tag of the
	// field it goes into, for explain's words.
	wants map[int]string

	// visits counts the nodes walked, aliases followed included.
	visits int
}

// maxDepth and maxVisits bound the walk, whatever aliases a document
// holds (nine aliases of nine aliases of ... would be billions of nodes;
// yaml.v3's decoder refuses such a document by itself).
const (
	maxDepth  = 64
	maxVisits = 100_000
)

var (
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	durationType    = reflect.TypeOf(time.Duration(0))
)

// walk checks node n against type t at path; want is the want tag of the
// field n goes into.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path []string,
	want string, depth int) {

	if n == nil || depth > maxDepth || w.visits >= maxVisits {
		return
	}
	w.visits++
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		w.walk(n.Alias, t, path, want, depth+1)
		return
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			w.walk(c, t, path, want, depth+1)
		}
		return
	}
	// A type that decodes itself says what it takes.
	if t.Implements(unmarshalerType) ||
		reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}

	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		w.walkStruct(n, t, path, depth)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), append(path,
				n.Content[i].Value), "", depth+1)
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice ||
		t.Kind() == reflect.Array):
		for i, c := range n.Content {
			w.walk(c, t.Elem(), append(path, fmt.Sprintf("[%d]", i)),
				want, depth+1)
		}
	case n.Kind == yaml.ScalarNode && isWhole(t):
		if want != "" {
			w.wants[n.Line] = want
		}
		w.checkWhole(n, path, want)
	case n.Kind == yaml.ScalarNode && want != "":
		w.wants[n.Line] = want
	}
}

// walkStruct checks the keys of mapping n against the fields of struct
// type t.
func (w *walker) walkStruct(n *yaml.Node, t reflect.Type, path []string,
	depth int) {

	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Tag == "!!merge" || (key.Value == "<<" &&
			key.ShortTag() == "!!merge") {
			// The merged mappings' keys are this struct's.
			w.walk(value, t, path, "", depth+1)
			continue
		}
		f, ok := fields.byName[key.Value]
		if !ok {
			if !fields.anyKey {
				w.unknownKey(key, path, fields.names)
			}
			continue
		}
		w.walk(value, f.Type, append(path[:len(path):len(path)],
			key.Value), f.Tag.Get("want"), depth+1)
	}
}

// unknownKey records a key no field takes, with the nearest known one.
func (w *walker) unknownKey(key *yaml.Node, path, known []string) {
	f := finding{line: key.Line, path: append([]string(nil), path...),
		unknown: key.Value, nearest: nearest(key.Value, known)}
	f.msg = fmt.Sprintf("unknown key %q", key.Value)
	if f.nearest != "" {
		f.msg += fmt.Sprintf(": did you mean %q?", f.nearest)
	}
	w.findings = append(w.findings, f)
}

// checkWhole refuses a float scalar with a fraction (or no value at all:
// infinities, NaN) going into a whole-number field.
func (w *walker) checkWhole(n *yaml.Node, path []string, want string) {
	if n.ShortTag() != "!!float" {
		return
	}
	var v float64
	if err := n.Decode(&v); err == nil && !math.IsInf(v, 0) &&
		!math.IsNaN(v) && v == math.Trunc(v) {
		return
	}
	if want == "" {
		want = "a whole number"
	}
	w.findings = append(w.findings, finding{line: n.Line,
		path: append([]string(nil), path...),
		msg:  fmt.Sprintf("want %s, got %s", want, n.Value)})
}

// isWhole reports whether t is an integer type other than a duration
// (which yaml.v3 only takes as text such as 30s).
func isWhole(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16,
		reflect.Uint32, reflect.Uint64:
		return t != durationType
	}
	return false
}

// structFields are the keys a struct type takes.
type structFields struct {
	byName map[string]reflect.StructField
	names  []string // in field order, for suggestions

	// anyKey is set by an inline map: every key is taken.
	anyKey bool
}

// yamlFields returns the keys struct type t takes, as yaml.v3 reads its
// tags: a field's tag name or its lower-cased name, "-" skipped, inline
// structs' fields as its own.
func yamlFields(t reflect.Type) structFields {
	s := structFields{byName: map[string]reflect.StructField{}}
	var add func(t reflect.Type, depth int)
	add = func(t reflect.Type, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if strings.Contains(","+opts+",", ",inline,") {
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				switch {
				case ft.Kind() == reflect.Map:
					s.anyKey = true
				case ft.Kind() == reflect.Struct && depth < maxDepth:
					add(ft, depth+1)
				}
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := s.byName[name]; !dup {
				s.byName[name] = f
				s.names = append(s.names, name)
			}
		}
	}
	add(t, 0)
	return s
}
