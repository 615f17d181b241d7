package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/l402/l402/tokens"
)

// credential is what a request carries to pay: the header field and its
// value (none when value is empty).
type credential struct {
	field, value string

	// charge says it is a Payment charge credential, good for one
	// request: it follows no redirect, not even to its own origin,
	// where it would be sent a second time.
	charge bool
}

// tokenCredential is the Authorization value of an L402 token ("" is
// none).
func tokenCredential(auth string) credential {
	return credential{field: "Authorization", value: auth}
}

// send makes one request, with the credential when it has one.
func (c *Client) send(ctx context.Context, opts Options, cred credential) (
	*http.Response, error) {

	var body io.Reader
	if opts.Body != nil {
		b, err := opts.Body()
		if err != nil {
			return nil, err
		}
		body = b
	}
	method := opts.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, opts.URL, body)
	if err != nil {
		return nil, badOptions(err)
	}
	for k, vs := range opts.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if cred.value != "" {
		req.Header.Set(cred.field, cred.value)
	}
	if opts.ResumeFrom > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(opts.ResumeFrom,
			10)+"-")
	}

	// A credential is for its origin only: a redirect elsewhere (another
	// scheme, host or port) goes without it, and a charge's follows no
	// redirect at all.
	origin, _ := tokens.Origin(req.URL)
	most := DefaultMaxRedirects
	if opts.MaxRedirects != nil {
		most = *opts.MaxRedirects
	}
	hc := *c.HTTP
	hc.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if opts.NoRedirects {
			return http.ErrUseLastResponse
		}
		if len(via) > most {
			return ErrTooManyRedirects.Mark(fmt.Errorf("%s redirected "+
				"more than %d times; stopped at %s", origin, most,
				next.URL.Redacted()))
		}
		if o, err := tokens.Origin(next.URL); err != nil || o != origin {
			next.Header.Del("Authorization")
			if cred.field != "" {
				next.Header.Del(cred.field)
			}
		}
		if cred.charge {
			next.Header.Del(cred.field)
		}
		if c.HTTP.CheckRedirect != nil {
			return c.HTTP.CheckRedirect(next, via)
		}
		return nil
	}

	resp, err := hc.Do(req)
	switch {
	case errors.Is(err, ErrTooManyRedirects):
		return nil, err
	case err != nil:
		return nil, networkError(err)
	}
	return resp, nil
}

// BodyBytes returns a Body opener that replays b.
func BodyBytes(b []byte) func() (io.Reader, error) {
	return func() (io.Reader, error) { return bytes.NewReader(b), nil }
}

// BodyFile returns a Body opener that reads the file anew for each
// attempt.
func BodyFile(path string) func() (io.Reader, error) {
	return func() (io.Reader, error) {
		b, err := os.ReadFile(filepath.Clean(path))
		if err != nil {
			return nil, badOptions(fmt.Errorf("request body: %w", err))
		}
		return bytes.NewReader(b), nil
	}
}

// ParseHeaders turns "Name: value" lines (curl's and lnget's -H) into a
// header.
func ParseHeaders(lines []string) (http.Header, error) {
	h := http.Header{}
	for _, v := range lines {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, badOptions(fmt.Errorf("header %q is not 'Name: "+
				"value'", v))
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// ParseData turns curl's and lnget's -d value into a replayable body: the
// text itself, @FILE (read anew for each attempt), or @- for stdin (read
// once, then replayed from memory). "" is no body.
func ParseData(data string, stdin io.Reader) (func() (io.Reader, error),
	error) {

	switch {
	case data == "":
		return nil, nil
	case data == "@-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the body from stdin: %w", err)
		}
		return BodyBytes(b), nil
	case strings.HasPrefix(data, "@"):
		path := data[1:]
		if _, err := os.Stat(path); err != nil {
			return nil, badOptions(fmt.Errorf("request body: %w", err))
		}
		return BodyFile(path), nil
	}
	return BodyBytes([]byte(data)), nil
}
