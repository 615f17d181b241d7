package lightning

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightninglabs/lightning-node-connect/mailbox"
)

// testPhrase returns a fresh, valid pairing phrase.
func testPhrase(t *testing.T) string {
	t.Helper()
	words, _, err := mailbox.NewPassphraseEntropy()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(words[:], " ")
}

func TestReadPhraseFile(t *testing.T) {
	dir := t.TempDir()
	phrase := testPhrase(t)
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}

	got, err := ReadPhraseFile(write("ok", "  "+phrase+"\n", 0o600))
	if err != nil || got != phrase {
		t.Fatalf("0600 file: %q %v", got, err)
	}
	if got, err := ReadPhraseFile(write("ro", phrase, 0o400)); err != nil ||
		got != phrase {
		t.Fatalf("0400 file: %q %v", got, err)
	}

	for _, c := range []struct {
		name, body string
		mode       os.FileMode
		want       string
	}{
		{"world", phrase, 0o644, "chmod 600"},
		{"group", phrase, 0o640, "mode 0640"},
		{"empty", " \n", 0o600, "is empty"},
		{"big", strings.Repeat("x", 5000), 0o600, "ten words only"},
	} {
		_, err := ReadPhraseFile(write(c.name, c.body, c.mode))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), phrase) {
			t.Errorf("%s: the error shows the phrase", c.name)
		}
	}
	if _, err := ReadPhraseFile(filepath.Join(dir, "none")); !errors.Is(err,
		os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestPhraseID(t *testing.T) {
	phrase := testPhrase(t)
	id, err := PhraseID(phrase)
	if err != nil || len(id) != 16 {
		t.Fatalf("%q %v", id, err)
	}
	upper, err := PhraseID("  " + strings.ToUpper(phrase))
	if err != nil || upper != id {
		t.Fatalf("the same phrase in capitals: %q %v", upper, err)
	}
	other, _ := PhraseID(testPhrase(t))
	if other == id {
		t.Fatal("two phrases share an ID")
	}

	// The ID is the one the store records when the phrase pairs.
	store := &MemorySessionStore{}
	entropy, _ := parsePhrase(phrase)
	if _, err := openLNCSession(store, entropy); err != nil {
		t.Fatal(err)
	}
	keys, _, _ := store.Load()
	if keys.PhraseID != id {
		t.Fatalf("stored %q, PhraseID %q", keys.PhraseID, id)
	}
	if _, err := PhraseID("one two three"); err == nil {
		t.Fatal("a three-word phrase has an ID")
	}
}

func TestLazyConnectsOnFirstCall(t *testing.T) {
	ctx := context.Background()
	net := NewMemoryNetwork()
	node, err := net.NewNode("lazy", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	dials := 0
	fail := errors.New("mailbox unreachable")
	var next error = fail
	l := NewLazy(func(context.Context) (Node, error) {
		dials++
		if next != nil {
			return nil, next
		}
		return node, nil
	})
	if err := l.Close(); err != nil || dials != 0 {
		t.Fatalf("closing an unused node dialed %d times: %v", dials, err)
	}
	if _, err := l.Info(ctx); !errors.Is(err, fail) {
		t.Fatalf("failed dial: %v", err)
	}

	// A failed connection is tried again; a made one is kept.
	next = nil
	info, err := l.Info(ctx)
	if err != nil || info.Alias != "lazy" {
		t.Fatalf("%+v %v", info, err)
	}
	if _, err := l.AddInvoice(ctx, InvoiceRequest{AmountSat: 5}); err != nil {
		t.Fatal(err)
	}
	if dials != 2 {
		t.Fatalf("%d dials, want 2", dials)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLookupPhrase(t *testing.T) {
	phrase, other := testPhrase(t), testPhrase(t)
	file := filepath.Join(t.TempDir(), "phrase")
	if err := os.WriteFile(file, []byte(phrase), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == PhraseEnv {
				return v
			}
			return ""
		}
	}

	got, src, err := LookupPhrase(file, env(other))
	if err != nil || got != phrase || src != file {
		t.Fatalf("the file wins over the variable: %q %q %v", got, src, err)
	}
	got, src, err = LookupPhrase("", env(" "+other+"\n"))
	if err != nil || got != other || src != "$L402_LNC_PHRASE" {
		t.Fatalf("from the variable: %q %q %v", got, src, err)
	}
	if _, _, err := LookupPhrase("", env("")); !errors.Is(err, ErrNoPhrase) {
		t.Fatalf("no phrase: %v", err)
	}
}
