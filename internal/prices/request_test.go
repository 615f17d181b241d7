package prices

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestValidUTF8 checks how the request text is made a valid proto3 string.
func TestValidUTF8(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		truncated bool
		want      string
	}{
		{"ascii", "abc", false, "abc"},
		{"utf8", "café", true, "café"},
		{"cut two-byte rune", "caf\xc3", true, "caf"},
		{"cut three-byte rune", "x\xe2\x82", true, "x"},
		{"cut four-byte rune", "x\xf0\x9f\x98", true, "x"},
		{"not cut: invalid tail", "caf\xc3", false, "caf\uFFFD"},
		{"binary", "a\xff\xfeb", false, "a\uFFFDb"},
		{"binary and cut", "\xff.\xe2\x82", true, "\uFFFD."},
		{"stray continuation byte at the end", "ab\x82", true, "ab\uFFFD"},
	}
	for _, tt := range tests {
		got := validUTF8(tt.in, tt.truncated)
		if got != tt.want {
			t.Errorf("%s: validUTF8(%q, %v) = %q, want %q",
				tt.name, tt.in, tt.truncated, got, tt.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: result %q is not UTF-8", tt.name, got)
		}
	}
}

// TestRequestTextCutsAtRuneBoundary checks a multi-byte character that
// straddles MaxBodyBytes: it is dropped whole, not sent half.
func TestRequestTextCutsAtRuneBoundary(t *testing.T) {
	body := strings.Repeat("a", MaxBodyBytes-1) + "é and more"
	r := newBodyRequest(body)

	text, err := requestText(r)
	if err != nil {
		t.Fatalf("requestText: %v", err)
	}
	if !utf8.ValidString(text) {
		t.Fatal("request text is not UTF-8")
	}
	_, sent, _ := strings.Cut(text, "\r\n\r\n")
	if sent != strings.Repeat("a", MaxBodyBytes-1) {
		t.Errorf("sent %d body bytes ending %q, want %d a's",
			len(sent), sent[len(sent)-3:], MaxBodyBytes-1)
	}
}
