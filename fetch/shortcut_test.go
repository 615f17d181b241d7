package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// TestRunShortcut: a run that shows no Limits sends the token the store's
// shortcut file names without the store or the node, answers as a run
// through the store does, and leaves a 402 or a removed token to the
// whole fetch.
func TestRunShortcut(t *testing.T) {
	r := newRunEnv(t, 10, "")
	ctx := context.Background()
	storePath := filepath.Join(filepath.Dir(r.config), "tokens.db")
	dials := 0
	opts := r.opts()
	opts.SkipLimits = true
	opts.Node = func(Config, io.Writer) (lightning.Node, error) {
		dials++
		return r.node, nil
	}
	var out, log bytes.Buffer
	opts.Output = Output{Writer: &out}
	opts.Log = &log
	run := func(what string) Result {
		t.Helper()
		out.Reset()
		log.Reset()
		res, err := Run(ctx, opts)
		if err != nil || res.StatusCode != 200 ||
			out.String() != "paid content for GET" {
			t.Fatalf("%s: %+v %q %v\n%s", what, res, out.String(), err,
				log.String())
		}
		return res
	}

	// The purchase goes through the store, and names the origin in the
	// shortcut file.
	if res := run("purchase"); !res.L402Paid {
		t.Fatalf("purchase: %+v", res)
	}
	if _, ok := tokens.ReadShortcut(storePath, r.origin()); !ok {
		t.Fatal("no shortcut after the purchase")
	}

	// The next run goes without the node (not even set up) and the
	// store, and says where its token came from.
	dials = 0
	short := run("through the shortcut")
	if dials != 0 || !short.CachedToken || short.L402Paid ||
		!strings.Contains(log.String(), "from "+
			tokens.ShortcutPath(storePath)) ||
		strings.Contains(log.String(), "token store") {
		t.Fatalf("through the shortcut: dials %d, %+v\n%s", dials, short,
			log.String())
	}

	// A run that reports Limits goes through the store, and answers
	// the same but for them.
	opts.SkipLimits = false
	whole := run("through the store")
	opts.SkipLimits = true
	if whole.Limits == nil || dials != 1 {
		t.Fatalf("through the store: dials %d, %+v", dials, whole)
	}
	whole.Limits, whole.DurationMs, short.DurationMs = nil, 0, 0
	a, _ := json.Marshal(short.JSON())
	b, _ := json.Marshal(whole.JSON())
	if string(a) != string(b) || short.CachedToken != whole.CachedToken {
		t.Fatalf("the shortcut answers otherwise:\n%s\n%s", a, b)
	}

	// The seller no longer takes the token: the shortcut's 402 is
	// answered by the whole fetch, which buys once, and the body is
	// written once.
	r.wall.Forget()
	paid := payments(t, storePath, r.origin())
	if res := run("after the seller forgot the token"); !res.L402Paid ||
		payments(t, storePath, r.origin()) != paid+1 {
		t.Fatalf("after the seller forgot: %+v, %d payments", res,
			payments(t, storePath, r.origin())-paid)
	}

	// The same into a file: the shortcut's 402 writes nothing to it.
	file := filepath.Join(t.TempDir(), "out")
	opts.Output = Output{File: file}
	r.wall.Forget()
	res, err := Run(ctx, opts)
	got, _ := os.ReadFile(file)
	if err != nil || !res.L402Paid || string(got) != "paid content for GET" {
		t.Fatalf("into a file: %+v %q %v", res, got, err)
	}
	opts.Output = Output{Writer: &out}

	// A token removed (tokens rm) is not sent from the shortcut file:
	// the next run buys.
	run("before the removal")
	if _, ok := tokens.ReadShortcut(storePath, r.origin()); !ok {
		t.Fatal("no shortcut before the removal")
	}
	s, err := tokens.Open(ctx, storePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveToken(ctx, r.origin()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if res := run("after the removal"); !res.L402Paid {
		t.Fatalf("a removed token was sent: %+v", res)
	}

	// A preview never goes by the shortcut: it reports the price.
	opts.NoPay = true
	log.Reset()
	if res, err := Run(ctx, opts); err != nil || !res.CachedToken ||
		!strings.Contains(log.String(), "token store") {
		t.Fatalf("preview: %+v %v\n%s", res, err, log.String())
	}
}

// payments counts the ledger's payments to origin in the store at path.
func payments(t *testing.T, path, origin string) int {
	t.Helper()
	s, err := tokens.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	paid, err := s.Payments(context.Background(), origin, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(paid)
}

// shortcutEnv is a run env whose paywall origin has a token, named in the
// store's shortcut file, and answers the paths of handle itself (the rest
// go to the paywall).
func shortcutEnv(t *testing.T, handle map[string]http.HandlerFunc) (
	*runEnv, RunOptions) {

	t.Helper()
	r := newRunEnv(t, 10, "")
	wall := r.wall
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter,
		req *http.Request) {
		if h, ok := handle[req.URL.Path]; ok {
			h(w, req)
			return
		}
		wall.ServeHTTP(w, req)
	})
	opts := r.opts()
	opts.SkipLimits = true
	opts.Output = Output{Writer: io.Discard}
	if res, err := Run(context.Background(), opts); err != nil ||
		!res.L402Paid {
		t.Fatalf("purchase: %+v %v", res, err)
	}
	storePath := filepath.Join(filepath.Dir(r.config), "tokens.db")
	if _, ok := tokens.ReadShortcut(storePath, r.origin()); !ok {
		t.Fatal("no shortcut after the purchase")
	}
	return r, opts
}

// TestRunShortcutRedirectedChallenge: a POST with the cached token that
// the origin answers with a redirect to another origin's 402 is sent
// once, and refused as the whole fetch refuses it: the origin took the
// POST (it redirected), and the whole fetch, handed the 402, would send
// it again.
func TestRunShortcutRedirectedChallenge(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("SkipLimits=%v", skip), func(t *testing.T) {
			var posts atomic.Int32
			var elsewhere string
			r, opts := shortcutEnv(t, map[string]http.HandlerFunc{
				"/orders": func(w http.ResponseWriter, req *http.Request) {
					posts.Add(1)
					http.Redirect(w, req, elsewhere+"/api",
						http.StatusSeeOther)
				},
			})
			elsewhere = otherWall(t, r.env)
			opts.SkipLimits = skip
			opts.URL = r.srv.URL + "/orders"
			opts.Body = BodyBytes([]byte("one order"))
			_, err := Run(context.Background(), opts)
			if !errors.Is(err, ErrRedirectedChallenge) || posts.Load() != 1 {
				t.Fatalf("the order was posted %d times: %v", posts.Load(),
					err)
			}
		})
	}
}

// TestRunShortcutRateLimited: a 429 to the cached token is waited out as
// the whole fetch waits it out, and one whose Retry-After is longer than
// the run waits is the run's answer: no request goes before the seller's
// Retry-After, and no more are sent than through the store.
func TestRunShortcutRateLimited(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		requests   int32
		rateLimit  bool
	}{
		{"short", "1", 2, false},
		{"longer than the run waits", "3600", 1, true},
	} {
		for _, skip := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/SkipLimits=%v", tc.name, skip),
				func(t *testing.T) {
					var (
						requests, early atomic.Int32
						until           atomic.Int64
					)
					var wall http.Handler
					r, opts := shortcutEnv(t, map[string]http.HandlerFunc{
						"/slow": func(w http.ResponseWriter,
							req *http.Request) {
							n := requests.Add(1)
							now := time.Now().UnixNano()
							if n > 1 && now < until.Load() {
								early.Add(1)
							}
							if n == 1 || tc.retryAfter == "3600" {
								until.Store(now + int64(time.Second))
								w.Header().Set("Retry-After", tc.retryAfter)
								http.Error(w, "slow down",
									http.StatusTooManyRequests)
								return
							}
							wall.ServeHTTP(w, req)
						},
					})
					wall = r.wall
					opts.SkipLimits = skip
					opts.URL = r.srv.URL + "/slow"
					opts.Timeout = durationPtr(5 * time.Second)
					res, err := Run(context.Background(), opts)
					switch {
					case early.Load() != 0:
						t.Fatalf("%d requests before the Retry-After",
							early.Load())
					case requests.Load() != tc.requests:
						t.Fatalf("%d requests, want %d", requests.Load(),
							tc.requests)
					case tc.rateLimit && !errors.Is(err, ErrRateLimited):
						t.Fatalf("want the 429: %+v %v", res, err)
					case !tc.rateLimit && (err != nil ||
						res.StatusCode != 200 || res.L402Paid):
						t.Fatalf("want the content: %+v %v", res, err)
					}
				})
		}
	}
}

// durationPtr returns a pointer to d, for a duration given.
func durationPtr(d time.Duration) *time.Duration { return &d }

// TestRunShortcutNotAfterACharge: a fetch whose cached token was refused
// and which paid a Payment charge instead does not name that token in
// the shortcut file: the next fetch would send it twice (from the file,
// then from the store) before paying.
func TestRunShortcutNotAfterACharge(t *testing.T) {
	r, opts := shortcutEnv(t, nil)
	storePath := filepath.Join(filepath.Dir(r.config), "tokens.db")
	r.wall.Forget()
	r.wall.SetSchemes("mpp")
	for i := range 2 {
		before := r.wall.Challenges()
		res, err := Run(context.Background(), opts)
		if err != nil || !res.L402Paid ||
			res.PaymentScheme != SchemePayment.Name() {
			t.Fatalf("run %d: %+v %v", i, res, err)
		}
		if n := r.wall.Challenges() - before; i > 0 && n != 1 {
			t.Fatalf("run %d: the refused token was sent %d times", i, n)
		}
		if _, ok := tokens.ReadShortcut(storePath, r.origin()); ok {
			t.Fatalf("run %d: the shortcut file names the refused token", i)
		}
	}
}
