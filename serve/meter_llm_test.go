package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// fakeLLM is an OpenAI-style chat completions backend for the meter's
// tests, the itests and the benchmark. A request's prompt costs one token
// per word of its messages; its completion is "say N" tokens (the last
// message's), else 5, at most max_tokens. With "stream": true it answers
// with one SSE data: chunk per token (with running totals when the
// request header X-Running-Totals is set), a usage chunk when
// stream_options.include_usage is true, and data: [DONE]; otherwise one
// JSON body with its usage. X-Test-Encoding: br marks the answer as
// compressed (its bytes are not); X-Test-Status answers with that status
// and an error body; X-Test-Empty answers 200 with no body. Each chunk is
// flushed; hold, when set, is called after each chunk (a test stops a
// stream there).
type fakeLLM struct {
	hold func(ctx context.Context, chunk int)
}

// llmRequest is what fakeLLM reads of a request.
type llmRequest struct {
	Model     string `json:"model"`
	MaxTokens int64  `json:"max_tokens"`
	Stream    bool   `json:"stream"`
	Options   struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

// usageFor is the usage fakeLLM reports for a request.
func (q llmRequest) usage() (prompt, completion int64) {
	completion = 5
	for i, m := range q.Messages {
		prompt += int64(len(strings.Fields(m.Content)))
		if n, ok := strings.CutPrefix(m.Content, "say "); ok &&
			i == len(q.Messages)-1 {
			if v, err := strconv.ParseInt(n, 10, 64); err == nil {
				completion = v
			}
		}
	}
	if q.MaxTokens > 0 && completion > q.MaxTokens {
		completion = q.MaxTokens
	}
	return prompt, completion
}

// ServeHTTP implements http.Handler.
func (l fakeLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Test-Empty") != "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if s := r.Header.Get("X-Test-Status"); s != "" {
		code, _ := strconv.Atoi(s)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, `{"error":{"message":"upstream refused",`+
			`"type":"invalid_request_error"}}`)
		return
	}
	var q llmRequest
	raw, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(raw, &q)
	}
	if err != nil {
		http.Error(w, "bad json: "+err.Error(), http.StatusBadRequest)
		return
	}
	if enc := r.Header.Get("X-Test-Encoding"); enc != "" {
		w.Header().Set("Content-Encoding", enc)
	}
	prompt, completion := q.usage()
	usage := func(c int64) string {
		return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,`+
			`"total_tokens":%d}`, prompt, c, prompt+c)
	}
	if !q.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion",`+
			`"model":%q,"choices":[{"index":0,"message":{"role":`+
			`"assistant","content":%q},"finish_reason":"stop"}],`+
			`"usage":%s}`, q.Model, strings.Repeat("tok ", int(completion)),
			usage(completion))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flush := func() { http.NewResponseController(w).Flush() }
	running := r.Header.Get("X-Running-Totals") != ""
	for i := int64(1); i <= completion; i++ {
		u := "null"
		if running {
			u = usage(i)
		}
		if _, err := fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\","+
			"\"object\":\"chat.completion.chunk\",\"model\":%q,"+
			"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok \"}}],"+
			"\"usage\":%s}\n\n", q.Model, u); err != nil {
			return
		}
		flush()
		if l.hold != nil {
			l.hold(r.Context(), int(i))
		}
	}
	if q.Options.IncludeUsage {
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\",\"object\":"+
			"\"chat.completion.chunk\",\"choices\":[],\"usage\":%s}\n\n",
			usage(completion))
	}
	io.WriteString(w, "data: [DONE]\n\n")
	flush()
}

// chatBody is a chat completion request for model whose last message is
// content, streamed with usage when stream.
func chatBody(model, content string, maxTokens int64, stream bool) string {
	q := map[string]any{"model": model, "messages": []map[string]string{
		{"role": "user", "content": content}}}
	if maxTokens > 0 {
		q["max_tokens"] = maxTokens
	}
	if stream {
		q["stream"] = true
		q["stream_options"] = map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(q)
	return string(b)
}
