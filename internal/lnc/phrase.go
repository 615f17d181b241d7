package lnc

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

const (
	// PhraseWords is the number of words in a pairing phrase.
	PhraseWords = 10

	// EntropySize is the number of bytes a pairing phrase encodes: ten
	// words of eleven bits are 110 bits, kept in 14 bytes whose last two
	// bits are zero.
	EntropySize = 14

	// bitsPerWord is the number of bits one word of the list encodes.
	bitsPerWord = 11
)

// wordListText is the BIP-39 English word list, one word a line, the same
// list lnd's aezeed seeds and Lightning Terminal's pairing phrases use.
//
//go:embed wordlist.txt
var wordListText string

var (
	// wordsOnce guards the one-time split of wordListText.
	wordsOnce sync.Once

	// wordList is the word list in order: a word's position is the value
	// it encodes.
	wordList []string

	// wordIndex maps each word to its position in wordList.
	wordIndex map[string]uint16
)

// loadWords splits the embedded list the first time a phrase is read, so
// that a binary which never uses LNC does not pay for it at start.
func loadWords() {
	wordsOnce.Do(func() {
		wordList = strings.Fields(wordListText)
		wordIndex = make(map[string]uint16, len(wordList))
		for i, w := range wordList {
			wordIndex[w] = uint16(i)
		}
	})
}

// Entropy is the secret a pairing phrase stands for.
type Entropy [EntropySize]byte

// ParsePhrase checks a pairing phrase and returns its entropy. Words are
// separated by any white space and compared without case. Its errors say
// which word is wrong by position and never repeat the phrase or a word of
// it, as the phrase is a secret.
func ParsePhrase(phrase string) (Entropy, error) {
	var entropy Entropy

	words := strings.Fields(phrase)
	if len(words) != PhraseWords {
		return entropy, fmt.Errorf("the LNC pairing phrase has %d "+
			"words, want %d: copy the whole phrase from Lightning "+
			"Terminal", len(words), PhraseWords)
	}

	loadWords()
	var indices [PhraseWords]uint16
	for i, w := range words {
		idx, ok := wordIndex[strings.ToLower(w)]
		if !ok {
			return entropy, fmt.Errorf("word %d of the LNC pairing "+
				"phrase is not in the word list: check its "+
				"spelling", i+1)
		}
		indices[i] = idx
	}
	return packIndices(indices), nil
}

// PhraseFromEntropy returns the ten words that encode entropy, the
// inverse of ParsePhrase: the node side shows these to the user. The two
// bits past the tenth word are not encoded.
func PhraseFromEntropy(entropy Entropy) [PhraseWords]string {
	loadWords()
	var words [PhraseWords]string
	for i := range words {
		words[i] = wordList[wordAt(entropy, i)]
	}
	return words
}

// packIndices writes the eleven-bit word values one after another, most
// significant bit first, into the entropy bytes.
func packIndices(indices [PhraseWords]uint16) Entropy {
	var entropy Entropy
	bit := 0
	for _, idx := range indices {
		for j := bitsPerWord - 1; j >= 0; j-- {
			if idx>>uint(j)&1 == 1 {
				entropy[bit/8] |= 0x80 >> uint(bit%8)
			}
			bit++
		}
	}
	return entropy
}

// wordAt reads the eleven-bit value of word i from the entropy bytes.
func wordAt(entropy Entropy, i int) uint16 {
	var idx uint16
	for bit := i * bitsPerWord; bit < (i+1)*bitsPerWord; bit++ {
		idx <<= 1
		if entropy[bit/8]&(0x80>>uint(bit%8)) != 0 {
			idx |= 1
		}
	}
	return idx
}
