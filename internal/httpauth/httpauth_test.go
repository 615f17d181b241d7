package httpauth

import (
	"errors"
	"testing"
)

// TestQuote checks RFC 9110 quoted-strings: '"' and '\' as quoted-pairs,
// tabs and obs-text as they are, other controls refused; and that the
// parser reads each back.
func TestQuote(t *testing.T) {
	good := map[string]string{
		"":               `""`,
		"plain":          `"plain"`,
		`say "hi"`:       `"say \"hi\""`,
		`a\b`:            `"a\\b"`,
		"tab\there":      "\"tab\there\"",
		"café":           "\"café\"",
		"one, two=three": `"one, two=three"`,
	}
	for in, want := range good {
		got, err := Quote(in)
		if err != nil || got != want {
			t.Errorf("Quote(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		chs := ParseChallenges([]string{"X p=" + got})
		if len(chs) != 1 || chs[0].Err != nil || chs[0].Params["p"] != in {
			t.Errorf("%q reads back as %+v", got, chs)
		}
	}
	for _, in := range []string{"a\nb", "a\rb", "\x00", "\x7f", "\x1b[0m"} {
		if got, err := Quote(in); !errors.Is(err, ErrUnquotable) {
			t.Errorf("Quote(%q) = %q, %v", in, got, err)
		}
	}
}

// TestIsToken checks RFC 9110 tokens.
func TestIsToken(t *testing.T) {
	for _, s := range []string{"Payment", "L402", "a-b.c_d~e!#$%&'*+^`|"} {
		if !IsToken(s) {
			t.Errorf("%q is a token", s)
		}
	}
	for _, s := range []string{"", "a b", "a,b", `a"`, "a=b", "é"} {
		if IsToken(s) {
			t.Errorf("%q is not a token", s)
		}
	}
}

// TestParseChallenges checks the shapes of a challenge: auth-params,
// token68, none, and a bad one that does not hide the next.
func TestParseChallenges(t *testing.T) {
	chs := ParseChallenges([]string{
		`Basic realm="x", Bearer abc==`,
		`A p="unclosed`,
		`B q=1, q=2, C`,
		`D r=1`,
	})
	want := []struct {
		scheme, token68 string
		params          int
		bad             bool
	}{
		{"Basic", "", 1, false}, {"Bearer", "abc==", -1, false},
		{"A", "", 0, true}, {"B", "", 1, true}, {"C", "", 0, false},
		{"D", "", 1, false},
	}
	if len(chs) != len(want) {
		t.Fatalf("got %+v", chs)
	}
	for i, w := range want {
		c := chs[i]
		n := len(c.Params)
		if c.Params == nil {
			n = -1
		}
		if c.Scheme != w.scheme || c.Token68 != w.token68 ||
			(c.Err != nil) != w.bad || (!w.bad && n != w.params) {
			t.Errorf("challenge %d: %+v, want %+v", i, c, w)
		}
	}
}
