package serve

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Usage is the token count an OpenAI-compatible backend reported for one
// response: its usage object's prompt_tokens and completion_tokens (or
// the input_tokens and output_tokens of the Responses API and others),
// and total_tokens.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64

	// Split says that the prompt and completion counts are known (the
	// debit is then weighted by direction); without it only TotalTokens
	// is.
	Split bool
}

// Tokens is the usage's token count: prompt and completion when split,
// else the total.
func (u Usage) Tokens() int64 {
	if u.Split {
		return u.PromptTokens + u.CompletionTokens
	}
	return u.TotalTokens
}

// maxUsageTokens bounds a count read from a usage object: a billion
// tokens in one response is beyond any model's output, and keeps the
// msat arithmetic far from overflowing. A larger count is not read as
// usage (the request settles at its reservation).
const maxUsageTokens = 1_000_000_000

// ExtractUsage reads the usage a response reported from its tail (the
// last bytes of its body; contentEncoding its Content-Encoding): the
// last usage-bearing `data:` chunk of a server-sent event stream (which,
// with running totals per chunk, is the latest total), or the usage
// object of a JSON body. When the tail was cut (its first line, or a
// stream broken off in its last), the last complete usage object found
// by matching braces counts. A compressed tail is never read (false):
// it would read as no usage, and no usage must not bill as zero.
func ExtractUsage(contentEncoding string, tail []byte) (Usage, bool) {
	if enc := strings.TrimSpace(contentEncoding); enc != "" &&
		!strings.EqualFold(enc, "identity") {
		return Usage{}, false
	}
	if u, ok := sseUsage(tail); ok {
		return u, true
	}
	var body struct {
		Usage *usageObject `json:"usage"`
	}
	if json.Unmarshal(tail, &body) == nil && body.Usage != nil {
		if u, ok := body.Usage.usage(); ok {
			return u, true
		}
	}
	return bracedUsage(tail)
}

// usageObject is the usage member as the backends spell it.
type usageObject struct {
	PromptTokens     *int64 `json:"prompt_tokens"`
	CompletionTokens *int64 `json:"completion_tokens"`
	InputTokens      *int64 `json:"input_tokens"`
	OutputTokens     *int64 `json:"output_tokens"`
	TotalTokens      *int64 `json:"total_tokens"`
}

// usage returns the counts of o, false when it has none or one out of
// range.
func (o *usageObject) usage() (Usage, bool) {
	prompt, completion := o.PromptTokens, o.CompletionTokens
	if prompt == nil && completion == nil {
		prompt, completion = o.InputTokens, o.OutputTokens
	}
	var u Usage
	for _, c := range []*int64{prompt, completion, o.TotalTokens} {
		if c != nil && (*c < 0 || *c > maxUsageTokens) {
			return Usage{}, false
		}
	}
	switch {
	case prompt != nil || completion != nil:
		u.Split = true
		if prompt != nil {
			u.PromptTokens = *prompt
		}
		if completion != nil {
			u.CompletionTokens = *completion
		}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		if o.TotalTokens != nil && *o.TotalTokens > u.TotalTokens {
			u.TotalTokens = *o.TotalTokens
		}
	case o.TotalTokens != nil:
		u.TotalTokens = *o.TotalTokens
	default:
		return Usage{}, false
	}
	return u, true
}

// sseUsage returns the usage of the last `data:` line of an event stream
// that carries one, walking the tail's lines from its end.
func sseUsage(tail []byte) (Usage, bool) {
	rest := tail
	for len(rest) > 0 {
		i := bytes.LastIndexByte(rest, '\n')
		line := rest[i+1:]
		if i < 0 {
			line = rest
			rest = nil
		} else {
			rest = rest[:i]
		}
		line = bytes.TrimRight(line, "\r")
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if len(data) == 0 || data[0] != '{' ||
			!bytes.Contains(data, []byte(`"usage"`)) {
			continue
		}
		var chunk struct {
			Usage *usageObject `json:"usage"`
		}
		if json.Unmarshal(data, &chunk) != nil || chunk.Usage == nil {
			continue
		}
		if u, ok := chunk.Usage.usage(); ok {
			return u, true
		}
	}
	return Usage{}, false
}

// bracedUsage finds the last complete `"usage": {...}` object in a tail
// that does not parse whole (a JSON body whose head was cut off, a
// stream whose last line was), matching its braces outside strings.
func bracedUsage(tail []byte) (Usage, bool) {
	key := []byte(`"usage"`)
	end := len(tail)
	for {
		i := bytes.LastIndex(tail[:end], key)
		if i < 0 {
			return Usage{}, false
		}
		end = i
		rest := bytes.TrimLeft(tail[i+len(key):], " \t\r\n")
		rest, ok := bytes.CutPrefix(rest, []byte(":"))
		if !ok {
			continue
		}
		rest = bytes.TrimLeft(rest, " \t\r\n")
		obj := matchBraces(rest)
		if obj == nil {
			continue
		}
		var o usageObject
		if json.Unmarshal(obj, &o) != nil {
			continue
		}
		if u, ok := o.usage(); ok {
			return u, true
		}
	}
}

// matchBraces returns the JSON object b starts with, up to its matching
// closing brace, or nil when b does not start with '{' or the object is
// not closed within b.
func matchBraces(b []byte) []byte {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	depth, inString, escaped := 0, false, false
	for i, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return b[:i+1]
			}
		}
	}
	return nil
}
