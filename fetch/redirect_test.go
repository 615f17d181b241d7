package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/l402/l402/internal/cli"
)

// hops serves /hop/N, which redirects to /hop/N-1, down to /hop/0, which
// answers "landed".
func hops(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if n == 0 {
			w.Write([]byte("landed"))
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFetchMaxRedirects: at most MaxRedirects redirects are followed (10
// by default, as curl counts them); one more is too_many_redirects, exit
// 1; NoRedirects makes the 302 itself the result; a negative count is
// bad options.
func TestFetchMaxRedirects(t *testing.T) {
	srv := hops(t)
	c := &Client{HTTP: srv.Client()}
	ctx := context.Background()
	fetch := func(hops int, most *int, none bool) (Result, string, error) {
		var out strings.Builder
		res, err := c.Fetch(ctx, Options{URL: fmt.Sprintf("%s/hop/%d",
			srv.URL, hops), NoPay: true, MaxRedirects: most,
			NoRedirects: none}, &out)
		return res, out.String(), err
	}
	n := func(v int) *int { return &v }

	if _, body, err := fetch(10, nil, false); err != nil || body != "landed" {
		t.Fatalf("10 redirects by default: %q %v", body, err)
	}
	_, _, err := fetch(11, nil, false)
	if !errors.Is(err, ErrTooManyRedirects) || cli.ExitCode(err) != 1 ||
		cli.Code(err) != "too_many_redirects" {
		t.Fatalf("11 redirects: %v", err)
	}
	if _, body, err := fetch(2, n(2), false); err != nil || body != "landed" {
		t.Fatalf("2 of 2: %q %v", body, err)
	}
	if _, _, err := fetch(3, n(2), false); !errors.Is(err,
		ErrTooManyRedirects) {
		t.Fatalf("3 of 2: %v", err)
	}
	if _, _, err := fetch(1, n(0), false); !errors.Is(err,
		ErrTooManyRedirects) {
		t.Fatalf("1 of 0: %v", err)
	}
	res, _, err := fetch(3, nil, true)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("no redirects: %+v %v", res, err)
	}
	if _, _, err := fetch(0, n(-1), false); !errors.Is(err,
		ErrBadOptions) {
		t.Fatalf("-1: %v", err)
	}
}
