package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
