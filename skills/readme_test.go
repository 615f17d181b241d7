package skills

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// codeSpan finds inline code in markdown.
var codeSpan = regexp.MustCompile("`([^`]+)`")

// bareFlag matches a code span that is only a flag, such as `--json` or
// `-k`.
var bareFlag = regexp.MustCompile(`^--?([A-Za-z0-9][a-z0-9-]*)$`)

// TestReadmeFlagsNameTheirCommand checks that a flag the README's prose
// names alone (`--json`) is a flag of the l402 command named before it in
// the same paragraph (`l402 version` (`--json`)): a flag without its
// command, or of another command, sends a reader to an unknown flag (the
// README once said `--insecure` serves plain HTTP, which only setup
// takes). Flags inside an `l402 ...` span are TestCommandsExist's.
func TestReadmeFlagsNameTheirCommand(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	h := newHelp(t)
	checked := 0
	for _, para := range strings.Split(prose(string(b)), "\n\n") {
		var cmd []string
		for _, m := range codeSpan.FindAllStringSubmatch(para, -1) {
			if words := strings.Fields(m[1]); words[0] == "l402" {
				cmd = commandPath(h, words[1:])
				continue
			}
			f := bareFlag.FindStringSubmatch(m[1])
			if f == nil {
				continue
			}
			checked++
			if cmd == nil {
				t.Errorf("README: `%s` names no command: write it "+
					"after the `l402 ...` it belongs to", m[1])
				continue
			}
			c := h.of(cmd)
			_, long := c.flags[f[1]]
			_, short := c.shorts[f[1]]
			if (strings.HasPrefix(m[1], "--") && !long) ||
				(!strings.HasPrefix(m[1], "--") && !short) {
				t.Errorf("README: `%s` is not a flag of l402 %s", m[1],
					strings.Join(cmd, " "))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no bare flag found in the README: the extraction is broken")
	}
}

// commandPath returns the leading words of args that name l402
// subcommands, as help.of takes them.
func commandPath(h *help, args []string) []string {
	path := []string{}
	for _, a := range args {
		if !h.of(path).subs[a] {
			break
		}
		path = append(path, a)
	}
	return path
}
