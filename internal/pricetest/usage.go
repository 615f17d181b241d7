package pricetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// usage is an OpenAI-style usage object. split says whether the prompt and
// completion counts were given, not only the total.
type usage struct {
	prompt, completion, total int64
	split                     bool
}

// usageJSON is the usage object as it travels.
type usageJSON struct {
	Usage *struct {
		PromptTokens     *int64 `json:"prompt_tokens"`
		CompletionTokens *int64 `json:"completion_tokens"`
		TotalTokens      *int64 `json:"total_tokens"`
	} `json:"usage"`
}

// extractUsage reads the usage of a response from its tail: the body
// itself when it is JSON, else the last SSE data: chunk that carries one.
// Like Aperture's meterd it reads nothing from a tail it cannot parse.
func extractUsage(contentType string, tail []byte) (usage, bool) {
	if strings.HasPrefix(contentType, "text/event-stream") {
		return lastChunkUsage(tail)
	}

	return objectUsage(bytes.TrimSpace(tail))
}

// lastChunkUsage walks the data: lines of an SSE tail from the end and
// returns the first usage it finds. A first line cut by the tail's start
// fails to parse and is skipped.
func lastChunkUsage(tail []byte) (usage, bool) {
	lines := bytes.Split(tail, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		line := bytes.TrimSpace(lines[i])
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		if u, ok := objectUsage(bytes.TrimSpace(data)); ok {
			return u, true
		}
	}

	return usage{}, false
}

// objectUsage decodes one JSON object and returns its non-negative usage.
func objectUsage(b []byte) (usage, bool) {
	var v usageJSON
	if err := json.Unmarshal(b, &v); err != nil || v.Usage == nil {
		return usage{}, false
	}

	get := func(p *int64) int64 {
		if p == nil || *p < 0 {
			return 0
		}
		return *p
	}
	u := usage{
		prompt:     get(v.Usage.PromptTokens),
		completion: get(v.Usage.CompletionTokens),
		total:      get(v.Usage.TotalTokens),
		split: v.Usage.PromptTokens != nil &&
			v.Usage.CompletionTokens != nil,
	}
	if u.split && u.total == 0 {
		u.total = u.prompt + u.completion
	}

	return u, u.split || v.Usage.TotalTokens != nil
}

// requestBody is what the server reads of a chat request's body.
type requestBody struct {
	Model     string `json:"model"`
	MaxTokens int64  `json:"max_tokens"`
}

// parseRequest reads the model and max_tokens from http_request_text: the
// JSON body after the blank line that ends the header fields.
func parseRequest(text string) requestBody {
	var body requestBody
	_, raw, ok := strings.Cut(text, "\r\n\r\n")
	if !ok {
		return body
	}
	_ = json.Unmarshal([]byte(raw), &body)

	return body
}

// decodeJSON reads a request's JSON body, up to 1 MiB, into v.
func decodeJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
}
