package serve

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// sseStream is an OpenAI-style chat completion stream of n content
// chunks; with includeUsage its last chunk before [DONE] carries the
// usage (stream_options.include_usage), and with running every chunk
// carries the running total.
func sseStream(n int, prompt int64, includeUsage, running bool) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		usage := "null"
		if running {
			usage = fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,`+
				`"total_tokens":%d}`, prompt, i, prompt+int64(i))
		}
		fmt.Fprintf(&b, "data: {\"id\":\"c1\",\"object\":\"chat.completion."+
			"chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"+
			"\"tok%d \"}}],\"usage\":%s}\n\n", i, usage)
	}
	if includeUsage {
		fmt.Fprintf(&b, "data: {\"id\":\"c1\",\"choices\":[],\"usage\":"+
			"{\"prompt_tokens\":%d,\"completion_tokens\":%d,"+
			"\"total_tokens\":%d}}\n\n", prompt, n, prompt+int64(n))
	}
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

func TestExtractUsage(t *testing.T) {
	body := `{"id":"c1","object":"chat.completion","choices":[{"message":` +
		`{"role":"assistant","content":"the \"usage\": {\"prompt_tokens\":` +
		`9999} is quoted"}}],"usage":{"prompt_tokens":12,` +
		`"completion_tokens":30,"total_tokens":42}}`
	long := strings.Repeat("x", 20000)
	bigBody := `{"choices":[{"message":{"content":"` + long + `"}}],` +
		`"usage":{"prompt_tokens":7,"completion_tokens":8,"total_tokens":15}}`
	stream := sseStream(50, 20, true, false)
	for _, tc := range []struct {
		name     string
		encoding string
		tail     string
		want     Usage
		found    bool
	}{
		{name: "json body", tail: body,
			want: Usage{PromptTokens: 12, CompletionTokens: 30,
				TotalTokens: 42, Split: true}, found: true},
		{name: "json body, head cut off",
			tail: bigBody[len(bigBody)-200:],
			want: Usage{PromptTokens: 7, CompletionTokens: 8,
				TotalTokens: 15, Split: true}, found: true},
		{name: "responses api", tail: `{"output":[],"usage":` +
			`{"input_tokens":5,"output_tokens":6,"total_tokens":11}}`,
			want: Usage{PromptTokens: 5, CompletionTokens: 6,
				TotalTokens: 11, Split: true}, found: true},
		{name: "total only", tail: `{"usage":{"total_tokens":99}}`,
			want: Usage{TotalTokens: 99}, found: true},
		{name: "sse with include_usage", tail: stream,
			want: Usage{PromptTokens: 20, CompletionTokens: 50,
				TotalTokens: 70, Split: true}, found: true},
		{name: "sse without include_usage",
			tail: sseStream(50, 20, false, false)},
		{name: "sse with running totals, abandoned",
			tail: strings.TrimSuffix(sseStream(30, 4, false, true),
				"data: [DONE]\n\n"),
			want: Usage{PromptTokens: 4, CompletionTokens: 30,
				TotalTokens: 34, Split: true}, found: true},
		{name: "sse, running totals, last line cut",
			tail: func() string {
				s := strings.TrimSuffix(sseStream(30, 4, false, true),
					"data: [DONE]\n\n")
				return s[:len(s)-40]
			}(),
			want: Usage{PromptTokens: 4, CompletionTokens: 29,
				TotalTokens: 33, Split: true}, found: true},
		{name: "sse, tail cut mid-line", tail: stream[len(stream)-150:],
			want: Usage{PromptTokens: 20, CompletionTokens: 50,
				TotalTokens: 70, Split: true}, found: true},
		{name: "sse, crlf", tail: strings.ReplaceAll(stream, "\n", "\r\n"),
			want: Usage{PromptTokens: 20, CompletionTokens: 50,
				TotalTokens: 70, Split: true}, found: true},
		{name: "gzip refused", encoding: "gzip", tail: body},
		{name: "identity read", encoding: "identity", tail: body,
			want: Usage{PromptTokens: 12, CompletionTokens: 30,
				TotalTokens: 42, Split: true}, found: true},
		{name: "gzip bytes", tail: "\x1f\x8b\x08\x00\x00\x00\x00\x00" +
			"\x00\x03\xab\x56\x2a\x2d"},
		{name: "usage null", tail: `{"usage":null}`},
		{name: "negative", tail: `{"usage":{"prompt_tokens":-5,` +
			`"completion_tokens":3}}`},
		{name: "too many", tail: `{"usage":{"total_tokens":1000000001}}`},
		{name: "empty", tail: ""},
		{name: "no usage", tail: `{"choices":[]}`},
		{name: "unclosed", tail: `{"usage":{"prompt_tokens":3,"comp`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := ExtractUsage(tc.encoding, []byte(tc.tail))
			if found != tc.found || got != tc.want {
				t.Errorf("ExtractUsage = %+v, %v; want %+v, %v", got, found,
					tc.want, tc.found)
			}
		})
	}
}

// FuzzExtractUsage holds ExtractUsage to what the meter relies on: it never
// panics, and what it reads is in range and adds up.
func FuzzExtractUsage(f *testing.F) {
	f.Add("", []byte(sseStream(3, 2, true, false)))
	f.Add("", []byte(sseStream(3, 2, false, true)))
	f.Add("", []byte(`{"usage":{"prompt_tokens":1,"completion_tokens":2}}`))
	f.Add("gzip", []byte(`{"usage":{"total_tokens":1}}`))
	f.Add("", []byte(`"usage": {"a":"}{\"","total_tokens":5}`))
	f.Fuzz(func(t *testing.T, enc string, tail []byte) {
		u, found := ExtractUsage(enc, tail)
		if !found {
			if u != (Usage{}) {
				t.Fatalf("not found but %+v", u)
			}
			return
		}
		for _, c := range []int64{u.PromptTokens, u.CompletionTokens,
			u.TotalTokens} {
			if c < 0 || c > 2*maxUsageTokens {
				t.Fatalf("count out of range: %+v", u)
			}
		}
		if u.Split && u.TotalTokens < u.PromptTokens+u.CompletionTokens {
			t.Fatalf("total below its parts: %+v", u)
		}
		// encoding/json matches member names without regard to case.
		if !bytes.Contains(bytes.ToLower(tail), []byte("usage")) {
			t.Fatalf("usage read from a tail without one: %q", tail)
		}
	})
}
