package skills

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/serve"
	"gopkg.in/yaml.v3"
)

// binary is l402, built by TestMain for the tests that read its --help
// and for the itests that run the skills.
var binary string

// buildL402 builds l402 into a new temporary directory, which it returns
// for the caller to remove.
func buildL402() (string, error) {
	dir, err := os.MkdirTemp("", "l402-skills-")
	if err != nil {
		return "", err
	}
	binary = filepath.Join(dir, "l402")
	build := exec.Command("go", "build", "-o", binary,
		"github.com/l402/l402/cmd/l402")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("unable to build l402: %w", err)
	}
	return dir, nil
}

// wantSkills are the skills there must be: the overview and one per task.
var wantSkills = []string{"l402", "l402-bake", "l402-buy", "l402-mcp",
	"l402-sell", "l402-tokens"}

// skill is one parsed SKILL.md.
type skill struct {
	name   string // its directory
	path   string
	front  map[string]any
	body   string
	blocks []block
}

// block is one fenced block of a markdown file.
type block struct {
	lang string
	text string
	line int // of the opening fence, 1-based

	// section is the text of the heading the block is under, without
	// its #s ("4. Change serve.yaml and reload").
	section string
}

// where names the block for messages.
func (b block) where(path string) string {
	return fmt.Sprintf("%s:%d (```%s)", path, b.line, b.lang)
}

// loadSkills reads every skills/*/SKILL.md.
func loadSkills(t *testing.T) []skill {
	t.Helper()
	paths, err := filepath.Glob("*/SKILL.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []skill
	for _, p := range paths {
		s, err := parseSkill(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, s)
	}
	return out
}

// parseSkill reads a SKILL.md: its YAML front matter and fenced blocks.
func parseSkill(path string) (skill, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return skill{}, err
	}
	s := skill{name: filepath.Base(filepath.Dir(path)), path: path}
	text := string(b)
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return s, fmt.Errorf("no front matter: the file must start " +
			"with a --- line")
	}
	front, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return s, fmt.Errorf("front matter not closed by a --- line")
	}
	if err := yaml.Unmarshal([]byte(front), &s.front); err != nil {
		return s, fmt.Errorf("front matter: %v", err)
	}
	s.body = body
	offset := strings.Count(text[:len(text)-len(body)], "\n")
	s.blocks, err = parseFences(body, offset)
	return s, err
}

// parseFences returns the fenced blocks of a markdown text whose first
// line is line offset+1 of its file.
func parseFences(text string, offset int) ([]block, error) {
	var (
		out     []block
		cur     *block
		body    []string
		section string
	)
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				body = append(body, line)
			} else if m := headingRe.FindStringSubmatch(line); m != nil {
				section = m[1]
			}
			continue
		}
		if cur == nil {
			cur = &block{lang: strings.TrimPrefix(trimmed, "```"),
				line: offset + i + 1, section: section}
			body = nil
			continue
		}
		if trimmed != "```" {
			return nil, fmt.Errorf("line %d: a fence opens inside the "+
				"block of line %d", offset+i+1, cur.line)
		}
		cur.text = strings.Join(body, "\n") + "\n"
		out = append(out, *cur)
		cur = nil
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: fence not closed", cur.line)
	}
	return out, nil
}

// headingRe matches a markdown heading line; its group is the text.
var headingRe = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*$`)

// sectionBlocks returns the sh blocks of the skill under the heading
// whose text is section, failing when there are none.
func sectionBlocks(t *testing.T, s skill, section string) []block {
	t.Helper()
	var out []block
	for _, b := range s.blocks {
		if b.lang == "sh" && b.section == section {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no sh block under the heading %q", s.path, section)
	}
	return out
}

// skillNamed returns the skill of that name.
func skillNamed(t *testing.T, name string) skill {
	t.Helper()
	s, err := parseSkill(filepath.Join(name, "SKILL.md"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// prose returns a markdown text without its fenced blocks.
func prose(text string) string {
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			in = !in
			continue
		}
		if !in {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestSkillSet checks that the skills are the overview and one per task.
func TestSkillSet(t *testing.T) {
	var names []string
	for _, s := range loadSkills(t) {
		names = append(names, s.name)
	}
	if !reflect.DeepEqual(names, wantSkills) {
		t.Fatalf("skills %v, want %v", names, wantSkills)
	}
}

// nameRe is what the Agent Skills format allows as a name.
var nameRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// TestFrontMatter checks each skill's name and description, as agents
// load them: name equal to the directory, a description that says when to
// use the skill.
func TestFrontMatter(t *testing.T) {
	for _, s := range loadSkills(t) {
		name, _ := s.front["name"].(string)
		desc, _ := s.front["description"].(string)
		switch {
		case name != s.name:
			t.Errorf("%s: name %q, want its directory's name %q", s.path,
				name, s.name)
		case !nameRe.MatchString(name) || len(name) > 64:
			t.Errorf("%s: name %q: lower-case letters, digits and "+
				"hyphens, at most 64", s.path, name)
		}
		if strings.TrimSpace(desc) == "" || len(desc) > 1024 {
			t.Errorf("%s: description must be 1 to 1024 characters",
				s.path)
		}
		if !strings.Contains(desc, "Use when") {
			t.Errorf("%s: description should say when to use the skill "+
				"(\"Use when ...\")", s.path)
		}
		for k := range s.front {
			if k != "name" && k != "description" && k != "license" &&
				k != "metadata" {
				t.Errorf("%s: unexpected front matter key %q", s.path, k)
			}
		}
		if !strings.HasPrefix(strings.TrimSpace(s.body), "# ") {
			t.Errorf("%s: the body should start with a # title", s.path)
		}
	}
}

// fenceLangs are the fence languages skills may use: sh blocks are run by
// the itests; the others are shown, never run.
var fenceLangs = map[string]bool{"sh": true, "text": true, "json": true,
	"yaml": true}

// TestFences checks that every block names its language, so that what is
// run (sh) and what is only shown is explicit, and that sh blocks parse.
func TestFences(t *testing.T) {
	for _, s := range loadSkills(t) {
		sh := 0
		for _, b := range s.blocks {
			if !fenceLangs[b.lang] {
				t.Errorf("%s: use sh for commands to run, text, json or "+
					"yaml for what is only shown", b.where(s.path))
				continue
			}
			if b.lang != "sh" {
				continue
			}
			sh++
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(b.text)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: bash -n: %v\n%s", b.where(s.path), err, out)
			}
		}
		if sh == 0 {
			t.Errorf("%s: no ```sh block: show the commands", s.path)
		}
	}
}

// TestJSONBlocks checks that the JSON a skill shows is JSON.
func TestJSONBlocks(t *testing.T) {
	for _, s := range loadSkills(t) {
		for _, b := range s.blocks {
			if b.lang == "json" && !json.Valid([]byte(b.text)) {
				t.Errorf("%s: not valid JSON", b.where(s.path))
			}
		}
	}
}

// inlineL402 finds `l402 ...` code spans in prose.
var inlineL402 = regexp.MustCompile("`(l402(?: [^`]*)?)`")

// TestCommandsExist checks every l402 command line the skills and
// templates show, in sh blocks and in `code` in the prose, against the
// commands and flags of the built binary's --help: an unknown command or
// flag, or (in sh blocks) a wrong number of arguments, fails.
func TestCommandsExist(t *testing.T) {
	h := newHelp(t)
	checked := 0
	check := func(where, src string, strict bool) {
		cmds, err := l402Commands(src)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		for _, args := range cmds {
			checked++
			if err := h.check(args, strict); err != nil {
				t.Errorf("%s: l402 %s: %v", where, strings.Join(args, " "),
					err)
			}
		}
	}

	for _, s := range loadSkills(t) {
		for _, b := range s.blocks {
			if b.lang == "sh" {
				check(b.where(s.path), b.text, true)
			}
		}
		for _, m := range inlineL402.FindAllStringSubmatch(prose(s.body),
			-1) {
			check(s.path+": `"+m[1]+"`", m[1], false)
		}
	}
	templates, _ := filepath.Glob("../templates/*")
	for _, p := range append(templates, "../README.md") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range inlineL402.FindAllStringSubmatch(string(b), -1) {
			check(p+": `"+m[1]+"`", m[1], false)
		}
	}
	if checked < 40 {
		t.Fatalf("only %d l402 command lines found: the extraction is "+
			"broken", checked)
	}
}

// TestL402Commands checks the extraction of l402 command lines from shell
// text, which TestCommandsExist relies on.
func TestL402Commands(t *testing.T) {
	src := `# l402 in a comment is not a command
L402_DIR="${L402_HOME:-$HOME/.l402}"
nohup l402 serve --config "$L402_DIR/serve.yaml" > "$L402_DIR/serve.log" 2>&1 &
test "$(l402 fetch --no-pay --json "$URL" | jq .x)" = 150
(umask 077 && l402 tokens export "$URL" > token.txt)
l402 fetch -X POST -d '{"q": "l402 x"}' \
  -H 'Content-Type: application/json' "$URL"
cat > f <<EOF
l402 is not run here
EOF
status=0; l402 version --json 2> err || status=$?
echo l402 setup
`
	got, err := l402Commands(src)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"serve", "--config", "$L402_DIR/serve.yaml"},
		{"tokens", "export", "$URL"},
		{"fetch", "-X", "POST", "-d", `{"q": "l402 x"}`, "-H",
			"Content-Type: application/json", "$URL"},
		{"version", "--json"},
		{"fetch", "--no-pay", "--json", "$URL"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}

	h := newHelp(t)
	for _, good := range []string{`l402 fetch ${INSECURE:+-k} --json "$URL"`,
		`l402 fetch ${INSECURE:+} "$URL"`} {
		cmds, err := l402Commands(good)
		if err != nil || len(cmds) != 1 {
			t.Fatalf("%s: %v %v", good, cmds, err)
		}
		if err := h.check(cmds[0], true); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, bad := range []string{"l402 fetch --max-costs 1 URL",
		"l402 tokens shw URL", "l402 fetch", "l402 tokens show A B",
		"l402 fetch -Z URL", "l402 tokens", "l402 fetch ${K:+-Z} URL",
		"l402 fetch ${K:+URL} URL"} {
		cmds, err := l402Commands(bad)
		if err != nil || len(cmds) != 1 {
			t.Fatalf("%s: %v %v", bad, cmds, err)
		}
		if err := h.check(cmds[0], true); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// linkRe finds markdown links.
var linkRe = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinks checks that the relative links of the skills and the README
// point to files that exist.
func TestLinks(t *testing.T) {
	files, _ := filepath.Glob("*/SKILL.md")
	for _, f := range append(files, "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRe.FindAllStringSubmatch(prose(string(b)),
			-1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") ||
				strings.HasPrefix(target, "mailto:") {
				continue
			}
			p := filepath.Join(filepath.Dir(f), target)
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: link %s: %v", f, m[1], err)
			}
		}
	}
}

// regtestValues fill templates/serve-regtest.yaml's placeholders.
func regtestValues(t *testing.T) map[string]string {
	dir := t.TempDir()
	return map[string]string{
		"LISTEN":     "127.0.0.1:0",
		"UPSTREAM":   "127.0.0.1:8080",
		"LND_HOST":   "127.0.0.1:10009",
		"LND_TLS":    filepath.Join(dir, "tls.cert"),
		"LND_MACDIR": filepath.Join(dir, "macaroons"),
	}
}

// placeholderRe matches a template's placeholders.
var placeholderRe = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// fillTemplate writes the template with ${NAME} replaced from values, and
// fails when a placeholder has no value.
func fillTemplate(t *testing.T, path string, values map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Only ${NAME} is a placeholder: the comments may show $HOME.
	var missing []string
	out := placeholderRe.ReplaceAllStringFunc(string(b), func(m string) string {
		v, ok := values[m[2:len(m)-1]]
		if !ok {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		t.Fatalf("%s: placeholders without a value: %v", path, missing)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// yamlKeys returns the yaml keys of a struct type, recursively.
func yamlKeys(typ reflect.Type, into map[string]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice ||
		typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		into[name] = true
		yamlKeys(f.Type, into)
	}
}

// checkEveryKey fails for each key that the template does not mention,
// set or commented out.
func checkEveryKey(t *testing.T, path string, keys map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for k := range keys {
		re := regexp.MustCompile(`(?m)^[\s#-]*` + regexp.QuoteMeta(k) + `:`)
		if !re.Match(b) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s does not show the keys %v", path, missing)
	}
}

// docKeys returns the keys the tables of docs/serve-config.md name in
// their first column.
func docKeys(t *testing.T) map[string]bool {
	b, err := os.ReadFile("../docs/serve-config.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	code := regexp.MustCompile("`([a-z_.\\[\\]]+)`")
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range code.FindAllStringSubmatch(first, -1) {
			k := strings.TrimSuffix(m[1], "[]")
			keys[k[strings.LastIndex(k, ".")+1:]] = true
		}
	}
	if len(keys) < 40 {
		t.Fatalf("only %d keys read from docs/serve-config.md", len(keys))
	}
	return keys
}

// TestServeTemplate loads templates/serve.yaml as serve does, and checks
// that it shows every key of serve.Config and of docs/serve-config.md.
// The file is serve.yaml.tmpl rendered with the documented values, the
// template setup renders too (setup's TestTemplatesAreRendered keeps them
// in step).
func TestServeTemplate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg, err := serve.LoadConfig("../templates/serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Insecure || cfg.Authenticator.Disable || len(cfg.Services) != 1 ||
		cfg.Services[0].Price != 100 || cfg.DBBackend != "sqlite" ||
		cfg.SQLite.Path() != filepath.Join(home, ".l402", "serve.db") ||
		cfg.Prometheus.Enabled {
		t.Errorf("templates/serve.yaml is not the safe default it claims: "+
			"%+v", cfg)
	}
	keys := map[string]bool{}
	yamlKeys(reflect.TypeOf(serve.Config{}), keys)
	checkEveryKey(t, "../templates/serve.yaml", keys)
	checkEveryKey(t, "../templates/serve.yaml", docKeys(t))
}

// TestInferenceTemplate loads templates/inference.yaml, the metered
// seller's config: its service sells by the token, its models priced as
// the comments say.
func TestInferenceTemplate(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	cfg, err := serve.LoadConfig("../templates/inference.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Services) != 1 || cfg.Insecure {
		t.Fatalf("inference.yaml: %+v", cfg)
	}
	m := cfg.Services[0].Meter
	if m == nil || m.BundleTokens != 1_000_000 || m.DefaultModel != "small" ||
		m.Models["small"].InputMsatPerToken != 0.15 ||
		m.Models["large"].OutputMsatPerToken != 10 {
		t.Fatalf("inference.yaml's meter: %+v", m)
	}
}

// TestServeRegtestTemplate fills templates/serve-regtest.yaml's
// placeholders and loads it.
func TestServeRegtestTemplate(t *testing.T) {
	cfg, err := serve.LoadConfig(fillTemplate(t,
		"../templates/serve-regtest.yaml", regtestValues(t)))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Insecure || cfg.Authenticator.Network != "regtest" ||
		cfg.Authenticator.LndHost != "127.0.0.1:10009" ||
		cfg.Services[0].Address != "127.0.0.1:8080" {
		t.Errorf("serve-regtest.yaml: %+v", cfg)
	}
}

// TestSellYAMLBlocks puts each serve.yaml excerpt of the sell skill into a
// complete serve.yaml (its top-level keys replace the base's) and loads
// it, so that the keys, values and regexps it shows are ones serve takes.
func TestSellYAMLBlocks(t *testing.T) {
	s, err := parseSkill("l402-sell/SKILL.md")
	if err != nil {
		t.Fatal(err)
	}
	base := fillTemplate(t, "../templates/serve-regtest.yaml",
		regtestValues(t))
	n := 0
	for _, b := range s.blocks {
		if b.lang != "yaml" {
			continue
		}
		n++
		var cfg, excerpt map[string]any
		raw, _ := os.ReadFile(base)
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(b.text), &excerpt); err != nil {
			t.Errorf("%s: %v", b.where(s.path), err)
			continue
		}
		for k, v := range excerpt {
			cfg[k] = v
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "serve.yaml")
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := serve.LoadConfig(p); err != nil {
			t.Errorf("%s: %v", b.where(s.path), err)
		}
	}
	if n < 3 {
		t.Errorf("%d yaml blocks in the sell skill, want pricing, access "+
			"and rate limits", n)
	}
}

// TestFetchTemplate loads templates/fetch.yaml as fetch does and checks
// that it shows every key of fetch.Config. Like serve.yaml, it is
// rendered from its .tmpl, which setup renders too.
func TestFetchTemplate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("L402_HOME", "")
	cfg, err := fetch.LoadConfig("../templates/fetch.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.MaxCostSat != 1000 || *cfg.MaxFeeSat != 10 ||
		cfg.PaymentTimeout != time.Minute ||
		*cfg.MaxTotalSat != fetch.DefaultMaxTotalSat ||
		cfg.MaxInvoiceExpiry != fetch.DefaultMaxInvoiceExpiry ||
		cfg.Lnd.Host != "localhost:10009" ||
		cfg.Lnd.TLSCertPath != filepath.Join(home, ".lnd", "tls.cert") ||
		cfg.TokenStore != filepath.Join(home, ".l402", "tokens.db") {
		t.Errorf("templates/fetch.yaml: %+v", cfg)
	}
	keys := map[string]bool{}
	yamlKeys(reflect.TypeOf(fetch.Config{}), keys)
	checkEveryKey(t, "../templates/fetch.yaml", keys)
}

// unit is a parsed systemd unit: section -> key -> values in order.
type unit map[string]map[string][]string

// parseUnit reads a systemd unit file, refusing what is not
// `[Section]`, `Key=Value`, a comment or a blank line.
func parseUnit(path string) (unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") ||
			strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] != nil {
				return nil, fmt.Errorf("line %d: section %s twice", n,
					section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.ContainsAny(k, " \t") ||
				strings.HasSuffix(line, "\\") {
				return nil, fmt.Errorf("line %d: not Key=Value in a "+
					"section: %q", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u, sc.Err()
}

// TestSystemdUnit checks templates/l402-serve.service: its sections, the
// directives serve's signals and drain need, the hardening, and that
// ExecStart is a valid `l402 serve` command line.
func TestSystemdUnit(t *testing.T) {
	u, err := parseUnit("../templates/l402-serve.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Fatalf("no [%s] section", s)
		}
	}
	if len(u) != 3 {
		t.Errorf("sections %v, want Unit, Service and Install", u)
	}
	svc := u["Service"]
	want := map[string]string{
		"ExecReload":      "/bin/kill -HUP $MAINPID",
		"KillSignal":      "SIGTERM",
		"Restart":         "on-failure",
		"NoNewPrivileges": "yes",
		"ProtectSystem":   "strict",
		"PrivateTmp":      "yes",
		"User":            "l402",
	}
	for k, v := range want {
		if got := svc[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%v, want %s", k, got, v)
		}
	}
	// serve drains for up to 30 s: systemd must wait longer before it
	// kills.
	stop, err := strconv.Atoi(strings.Join(svc["TimeoutStopSec"], ""))
	if err != nil || stop <= 30 {
		t.Errorf("TimeoutStopSec=%v: more than serve's 30 s drain",
			svc["TimeoutStopSec"])
	}
	if len(u["Install"]["WantedBy"]) != 1 {
		t.Error("no WantedBy= in [Install]")
	}

	execStart := strings.Join(svc["ExecStart"], "")
	fields := strings.Fields(execStart)
	if len(fields) < 2 || fields[0] != "/usr/local/bin/l402" {
		t.Fatalf("ExecStart=%s: want /usr/local/bin/l402 serve ...",
			execStart)
	}
	h := newHelp(t)
	if err := h.check(fields[1:], true); err != nil || fields[1] != "serve" {
		t.Errorf("ExecStart=%s: %v", execStart, err)
	}
	config := ""
	for i, f := range fields {
		if f == "--config" && i+1 < len(fields) {
			config = fields[i+1]
		}
	}
	rw := strings.Join(svc["ReadWritePaths"], " ")
	if config == "" || rw == "" ||
		!strings.HasPrefix(config, strings.TrimPrefix(rw, "-")+"/") {
		t.Errorf("ExecStart's --config %q should be in ReadWritePaths=%s",
			config, rw)
	}

	// Where systemd is installed, it checks the unit too, with the l402
	// just built in place of /usr/local/bin/l402.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("no systemd-analyze: the unit is not verified by systemd")
		return
	}
	b, err := os.ReadFile("../templates/l402-serve.service")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "l402-serve.service")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b),
		"/usr/local/bin/l402", binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", p).CombinedOutput(); err != nil ||
		len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// cmdHelp is what one command's --help says.
type cmdHelp struct {
	flags    map[string]bool // long name -> takes a value
	shorts   map[string]bool // shorthand -> takes a value
	subs     map[string]bool
	minArgs  int
	maxArgs  int // -1: any
	runnable bool
}

// help reads and caches l402's --help per command.
type help struct {
	t     *testing.T
	mu    sync.Mutex
	cache map[string]*cmdHelp
}

// newHelp returns a help reader for the built binary.
func newHelp(t *testing.T) *help {
	if binary == "" {
		t.Fatal("l402 was not built")
	}
	return &help{t: t, cache: map[string]*cmdHelp{}}
}

// flagLine matches a flag in cobra's help: "  -o, --output string  ...".
var flagLine = regexp.MustCompile(
	`^\s+(?:-([A-Za-z0-9]), )?--([a-z0-9-]+)(?: ([A-Za-z0-9]+))?(?:\s{2,}|$)`)

// subLine matches a command in "Available Commands:". cobra pads the
// names to 11 characters and puts one space after a longer one
// ("transactions List ...").
var subLine = regexp.MustCompile(`^\s{2}([a-z0-9-]+)(?:\s|$)`)

// of returns the help of the command path.
func (h *help) of(path []string) *cmdHelp {
	key := strings.Join(path, " ")
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.cache[key]; ok {
		return c
	}
	out, err := exec.Command(binary, append(path, "--help")...).Output()
	if err != nil {
		h.t.Fatalf("l402 %s --help: %v", key, err)
	}
	c := &cmdHelp{flags: map[string]bool{}, shorts: map[string]bool{},
		subs: map[string]bool{}}
	section := ""
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " ") {
			section = line
			continue
		}
		switch section {
		case "Usage:":
			words := strings.Fields(line)
			if len(words) < len(path)+1 || c.runnable {
				continue
			}
			// The first usage line is the command's own; a second
			// one, "l402 x [command]", lists its subcommands.
			if len(words) > len(path)+1 && words[len(path)+1] == "[command]" {
				continue
			}
			c.runnable = true
			for _, w := range words[len(path)+1:] {
				switch {
				case w == "[flags]":
				case strings.HasSuffix(w, "..."):
					c.maxArgs = -1
				case strings.HasPrefix(w, "["):
					if c.maxArgs >= 0 {
						c.maxArgs++
					}
				default:
					c.minArgs++
					if c.maxArgs >= 0 {
						c.maxArgs++
					}
				}
			}
		case "Flags:", "Global Flags:":
			if m := flagLine.FindStringSubmatch(line); m != nil {
				takes := m[3] != ""
				c.flags[m[2]] = takes
				if m[1] != "" {
					c.shorts[m[1]] = takes
				}
			}
		case "Available Commands:":
			if m := subLine.FindStringSubmatch(line); m != nil {
				c.subs[m[1]] = true
			}
		}
	}
	h.cache[key] = c
	return c
}

// placeholder reports whether a word stands for something the reader
// fills in (URL, ORIGIN, COMMAND).
func placeholder(w string) bool {
	return regexp.MustCompile(`^[A-Z][A-Z_]*$`).MatchString(w)
}

// optionalWord is ${NAME:+WORD}: WORD when the variable is set and not
// empty, nothing otherwise (the skills' ${INSECURE:+-k}).
var optionalWord = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*:\+([^{}]*)\}$`)

// check checks one l402 command line (its arguments after l402): known
// subcommands and flags, values where flags take them, and, when strict,
// a runnable command with the right number of arguments. An optional
// word is checked as given: its flag must exist.
func (h *help) check(args []string, strict bool) error {
	var given []string
	for _, a := range args {
		if m := optionalWord.FindStringSubmatch(a); m != nil {
			if m[1] != "" {
				given = append(given, m[1])
			}
			continue
		}
		given = append(given, a)
	}
	args = given
	var path []string
	c := h.of(path)
	i := 0
	for i < len(args) && !strings.HasPrefix(args[i], "-") {
		if !c.subs[args[i]] {
			break
		}
		path = append(path, args[i])
		c = h.of(path)
		i++
	}
	if i < len(args) && !strings.HasPrefix(args[i], "-") &&
		len(c.subs) > 0 && !c.runnable && !placeholder(args[i]) {
		return fmt.Errorf("l402 %s has no command %q",
			strings.Join(path, " "), args[i])
	}

	positional := 0
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional += len(args) - i - 1
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			takes, ok := c.flags[name]
			if !ok {
				return fmt.Errorf("unknown flag --%s", name)
			}
			if takes && !hasValue {
				if i+1 >= len(args) {
					return fmt.Errorf("--%s needs a value", name)
				}
				i++
			}
			if !takes && hasValue {
				return fmt.Errorf("--%s takes no value", name)
			}
		case strings.HasPrefix(a, "-") && a != "-":
			for j := 1; j < len(a); j++ {
				takes, ok := c.shorts[a[j:j+1]]
				if !ok {
					return fmt.Errorf("unknown flag -%s", a[j:j+1])
				}
				if !takes {
					continue
				}
				if j == len(a)-1 {
					if i+1 >= len(args) {
						return fmt.Errorf("-%s needs a value", a[j:j+1])
					}
					i++
				}
				break
			}
		default:
			positional++
		}
	}
	if !strict {
		return nil
	}
	switch {
	case !c.runnable:
		return fmt.Errorf("l402 %s needs a subcommand",
			strings.Join(path, " "))
	case positional < c.minArgs ||
		(c.maxArgs >= 0 && positional > c.maxArgs):
		return fmt.Errorf("%d arguments, l402 %s takes %d to %d",
			positional, strings.Join(path, " "), c.minArgs, c.maxArgs)
	}
	return nil
}

// l402Commands returns the arguments of every l402 command that shell
// text runs, including in $(...), in the order they appear (nested ones
// after their line).
func l402Commands(src string) ([][]string, error) {
	toks, subs, err := lexShell(src)
	if err != nil {
		return nil, err
	}
	var out [][]string
	start := true
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		if tk.op != "" {
			start = controlOps[tk.op]
			if redirectOps[tk.op] {
				i++ // the redirection's target
			}
			continue
		}
		if !start {
			continue
		}
		if commandPrefixes[tk.word] || assignment.MatchString(tk.word) {
			continue
		}
		start = false
		if tk.word != "l402" {
			continue
		}
		args := []string{}
		for i+1 < len(toks) && !controlOps[toks[i+1].op] {
			i++
			if redirectOps[toks[i].op] {
				i++
				continue
			}
			args = append(args, toks[i].word)
		}
		out = append(out, args)
	}
	for _, s := range subs {
		nested, err := l402Commands(s)
		if err != nil {
			return nil, err
		}
		out = append(out, nested...)
	}
	return out, nil
}

// Shell operators: those after which a new command starts, and
// redirections, which take the next word as their target.
var (
	controlOps = map[string]bool{"\n": true, ";": true, "&": true,
		"&&": true, "||": true, "|": true, "(": true, ")": true}
	redirectOps = map[string]bool{">": true, ">>": true, "<": true,
		"<<": true}
	commandPrefixes = map[string]bool{"if": true, "then": true,
		"else": true, "elif": true, "do": true, "while": true,
		"until": true, "!": true, "time": true, "nohup": true,
		"exec": true, "command": true, "{": true}
	assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

// shellToken is a word (quotes removed) or an operator.
type shellToken struct {
	word string
	op   string
}

// lexShell splits shell text into words and operators, enough for the
// commands skills show: quotes, escapes, comments, $(...) (returned
// separately for a nested scan), ${...}, redirections with file
// descriptors, and here-documents (skipped).
func lexShell(src string) ([]shellToken, []string, error) {
	l := &shellLexer{src: src}
	for l.i = 0; l.i < len(src); l.i++ {
		if err := l.step(); err != nil {
			return nil, nil, err
		}
	}
	l.flush()
	return l.toks, l.subs, nil
}

// shellLexer is lexShell's state: the source, the position, the tokens and
// command substitutions so far, the word being read and the here-documents
// whose bodies start after the current line.
type shellLexer struct {
	src      string
	i        int
	toks     []shellToken
	subs     []string
	word     strings.Builder
	inWord   bool
	heredocs []string
}

// step reads what starts at l.i, leaving l.i on its last byte.
func (l *shellLexer) step() error {
	src, c := l.src, l.src[l.i]
	switch {
	case c == '\\' && l.i+1 < len(src) && src[l.i+1] == '\n':
		l.i++
	case c == '\\' && l.i+1 < len(src):
		l.inWord = true
		l.word.WriteByte(src[l.i+1])
		l.i++
	case c == ' ' || c == '\t':
		l.flush()
	case c == '\n':
		return l.newline()
	case c == '#' && !l.inWord:
		for l.i+1 < len(src) && src[l.i+1] != '\n' {
			l.i++
		}
	case c == '\'':
		l.inWord = true
		end := strings.IndexByte(src[l.i+1:], '\'')
		if end < 0 {
			return fmt.Errorf("unclosed '")
		}
		l.word.WriteString(src[l.i+1 : l.i+1+end])
		l.i += end + 1
	case c == '"':
		return l.doubleQuoted()
	case c == '$':
		l.inWord = true
		var err error
		l.i, err = l.dollar(l.i)
		return err
	case c == '>' || c == '<':
		return l.redirect(c)
	case c == '|' || c == '&' || c == ';':
		o := string(c)
		if l.i+1 < len(src) && src[l.i+1] == c {
			o += string(c)
			l.i++
		}
		if o == ";;" {
			l.op(";")
			o = ";"
		}
		l.op(o)
	case c == '(' || c == ')':
		l.op(string(c))
	default:
		l.inWord = true
		l.word.WriteByte(c)
	}
	return nil
}

// flush ends the word being read, if any.
func (l *shellLexer) flush() {
	if l.inWord {
		l.toks = append(l.toks, shellToken{word: l.word.String()})
		l.word.Reset()
		l.inWord = false
	}
}

// op ends the word and adds the operator o.
func (l *shellLexer) op(o string) {
	l.flush()
	l.toks = append(l.toks, shellToken{op: o})
}

// newline ends the line, then skips the bodies of the here-documents it
// opened.
func (l *shellLexer) newline() error {
	l.op("\n")
	for _, delim := range l.heredocs {
		end := regexp.MustCompile(`(?m)^\t*` +
			regexp.QuoteMeta(delim) + `$`).FindStringIndex(l.src[l.i+1:])
		if end == nil {
			return fmt.Errorf("here-document %s not closed", delim)
		}
		l.i += end[1]
	}
	l.heredocs = nil
	return nil
}

// doubleQuoted reads a "..." string into the word, with its escapes and
// substitutions.
func (l *shellLexer) doubleQuoted() error {
	l.inWord = true
	src := l.src
	j := l.i + 1
	for ; j < len(src) && src[j] != '"'; j++ {
		switch src[j] {
		case '\\':
			j++
			if j < len(src) {
				l.word.WriteByte(src[j])
			}
		case '$':
			var err error
			if j, err = l.dollar(j); err != nil {
				return err
			}
		default:
			l.word.WriteByte(src[j])
		}
	}
	if j >= len(src) {
		return fmt.Errorf("unclosed \"")
	}
	l.i = j
	return nil
}

// redirect reads a redirection operator (>, >>, <, <<) with its
// descriptor and, for <<, the here-document's delimiter.
func (l *shellLexer) redirect(c byte) error {
	src := l.src
	// A file descriptor number before it belongs to it.
	if w := l.word.String(); l.inWord && regexp.MustCompile(
		`^[0-9]+$`).MatchString(w) {

		l.word.Reset()
		l.inWord = false
	}
	o := string(c)
	if l.i+1 < len(src) && src[l.i+1] == c {
		o += string(c)
		l.i++
	}
	l.op(o)
	if o == "<<" {
		rest := strings.TrimLeft(src[l.i+1:], "-")
		m := regexp.MustCompile(`^\s*['"]?([A-Za-z_]+)['"]?`).
			FindStringSubmatch(rest)
		if m == nil {
			return fmt.Errorf("here-document without a delimiter")
		}
		l.heredocs = append(l.heredocs, m[1])
	}
	if l.i+1 < len(src) && src[l.i+1] == '&' {
		// >&2, 2>&1: the target is a descriptor.
		j := l.i + 2
		for j < len(src) && (src[j] >= '0' && src[j] <= '9' ||
			src[j] == '-') {
			j++
		}
		l.toks = append(l.toks, shellToken{word: src[l.i+2 : j]})
		l.i = j - 1
	}
	return nil
}

// balanced returns the end of the $( ... ) or ${ ... } opening at i.
func (l *shellLexer) balanced(i int, open, close byte) (int, error) {
	src := l.src
	depth := 0
	for j := i; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '\'':
			if open == '(' {
				k := strings.IndexByte(src[j+1:], '\'')
				if k < 0 {
					return 0, fmt.Errorf("unclosed '")
				}
				j += k + 1
			}
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j, nil
			}
		}
	}
	return 0, fmt.Errorf("unclosed $%c", open)
}

// dollar reads a $(...) or ${...} at i into the word, recording a command
// substitution, and returns where it ends; a lone $ is itself.
func (l *shellLexer) dollar(i int) (int, error) {
	src := l.src
	if i+1 >= len(src) || (src[i+1] != '(' && src[i+1] != '{') {
		l.word.WriteByte('$')
		return i, nil
	}
	open, close := src[i+1], byte(')')
	if open == '{' {
		close = '}'
	}
	end, err := l.balanced(i+1, open, close)
	if err != nil {
		return 0, err
	}
	if open == '(' {
		l.subs = append(l.subs, src[i+2:end])
	}
	l.word.WriteString(src[i : end+1])
	return end, nil
}
