package lnc

import (
	"slices"
	"strings"
	"testing"

	"github.com/lightninglabs/lightning-node-connect/mailbox"
	"github.com/lightningnetwork/lnd/aezeed"
)

// TestWordListIsAezeeds: the embedded list is the one lnd's aezeed and
// the mailbox module's phrases use, word for word.
func TestWordListIsAezeeds(t *testing.T) {
	loadWords()
	if !slices.Equal(wordList, aezeed.DefaultWordList[:]) {
		t.Fatalf("the embedded word list (%d words) differs from "+
			"aezeed.DefaultWordList (%d words)", len(wordList),
			len(aezeed.DefaultWordList))
	}
}

// TestParsePhraseMatchesMailbox: phrases the mailbox module makes parse to
// its entropy, and PhraseFromEntropy gives its words back.
func TestParsePhraseMatchesMailbox(t *testing.T) {
	for i := 0; i < 50; i++ {
		words, want, err := mailbox.NewPassphraseEntropy()
		if err != nil {
			t.Fatal(err)
		}
		phrase := strings.Join(words[:], " ")
		got, err := ParsePhrase(phrase)
		if err != nil || got != Entropy(want) {
			t.Fatalf("ParsePhrase: %x %v, want %x", got, err, want)
		}
		if back := PhraseFromEntropy(got); back != words {
			t.Fatalf("PhraseFromEntropy: %v, want %v", back, words)
		}

		// Case and spacing do not matter.
		loud := "  " + strings.ToUpper(strings.Join(words[:], "\t "))
		if again, err := ParsePhrase(loud); err != nil || again != got {
			t.Fatalf("upper case: %v", err)
		}
	}
}

// TestParsePhraseRefuses: malformed phrases are refused with an error
// that names the problem and never a word of the phrase.
func TestParsePhraseRefuses(t *testing.T) {
	words, _, err := mailbox.NewPassphraseEntropy()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, phrase, want string
	}{
		{"empty", "", "has 0 words, want 10"},
		{"nine", strings.Join(words[:9], " "), "has 9 words, want 10"},
		{"eleven", strings.Join(append(words[:], "abandon"), " "),
			"has 11 words, want 10"},
		{"unknown third", strings.Join(words[:2], " ") + " qqqq " +
			strings.Join(words[3:], " "), "word 3 of the LNC pairing " +
			"phrase is not in the word list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePhrase(tc.phrase)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			for _, w := range words {
				if strings.Contains(err.Error(), " "+w+" ") {
					t.Fatalf("the error repeats a word: %v", err)
				}
			}
		})
	}
}
