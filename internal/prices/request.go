package prices

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is how many leading bytes of a request body go into
// http_request_text. Aperture sends the same prefix (maxPricerBodyBytes in
// its pricer/grpcPricer.go): a price server needs the head of a JSON body
// (a model name, say), not the whole upload.
const MaxBodyBytes = 64 << 10

// requestText serializes r the way Aperture fills http_request_text: the
// request line and header fields from httputil.DumpRequest(r, false), then
// at most MaxBodyBytes of the body. Unlike Aperture, which buffers the whole
// body in memory, it reads only that prefix and puts it back in front of the
// unread rest, so r.Body still yields every byte for the proxy.
func requestText(r *http.Request) (string, error) {
	head, err := httputil.DumpRequest(r, false)
	if err != nil {
		return "", fmt.Errorf("unable to serialize the request "+
			"for the price server: %w", err)
	}

	prefix, err := peekBody(r)
	if err != nil {
		return "", err
	}

	return validUTF8(string(head)+string(prefix), len(prefix) == MaxBodyBytes), nil
}

// peekBody reads up to MaxBodyBytes of r.Body and replaces r.Body with a body
// that replays them before the rest, closing the original when closed.
func peekBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}

	orig := r.Body
	prefix, err := io.ReadAll(io.LimitReader(orig, MaxBodyBytes))
	r.Body = &replayBody{
		Reader: io.MultiReader(bytes.NewReader(prefix), orig),
		closer: orig,
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the request body for "+
			"the price server: %w", err)
	}

	return prefix, nil
}

// replayBody is a request body whose first bytes were already read once: it
// reads them again, then the rest of the original body.
type replayBody struct {
	io.Reader
	closer io.Closer
}

// Close closes the original body.
func (b *replayBody) Close() error {
	return b.closer.Close()
}

// validUTF8 makes text a valid proto3 string: protobuf refuses to marshal a
// string field holding invalid UTF-8, so a binary body, or a cut in the
// middle of a character at MaxBodyBytes, would make the call fail (Aperture
// fails it). A character cut by truncation is dropped; any other invalid
// byte becomes U+FFFD.
func validUTF8(text string, truncated bool) string {
	if utf8.ValidString(text) {
		return text
	}

	if truncated {
		text = dropCutRune(text)
	}

	return strings.ToValidUTF8(text, "\uFFFD")
}

// dropCutRune removes a trailing, incomplete UTF-8 sequence: the start of a
// character whose continuation bytes lie beyond the truncation point.
func dropCutRune(text string) string {
	for i := 1; i < utf8.UTFMax && i <= len(text); i++ {
		c := text[len(text)-i]
		if c < utf8.RuneSelf {
			return text
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRuneInString(text[len(text)-i:]) {
				return text[:len(text)-i]
			}
			return text
		}
	}

	return text
}
