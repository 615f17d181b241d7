package lightning

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// PhraseEnv is the environment variable that holds an LNC pairing phrase
// when a config names no phrase file: the environment, unlike the command
// line, is not visible to other users.
const PhraseEnv = "L402_LNC_PHRASE"

// maxPhraseFile bounds what ReadPhraseFile reads: ten words fit many
// times over.
const maxPhraseFile = 4096

// ReadPhraseFile reads an LNC pairing phrase from a file that only its
// owner may read or write (0600 or stricter), as a macaroon would be kept.
// Surrounding white space is dropped; the words are checked later, when
// the phrase is used.
func ReadPhraseFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("unable to read the LNC pairing phrase: %w",
			err)
	}
	defer f.Close()

	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("unable to read the LNC pairing phrase: %w",
			err)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 &&
		runtime.GOOS != "windows" {

		return "", fmt.Errorf("LNC phrase file %s may be read by other "+
			"users (mode %04o): run chmod 600 %s, and create a new "+
			"LNC session if others could have read it", path, mode,
			path)
	}

	b, err := io.ReadAll(io.LimitReader(f, maxPhraseFile+1))
	if err != nil {
		return "", fmt.Errorf("unable to read the LNC pairing phrase: %w",
			err)
	}
	if len(b) > maxPhraseFile {
		return "", fmt.Errorf("LNC phrase file %s is larger than a "+
			"pairing phrase: it should hold the ten words only", path)
	}
	phrase := strings.TrimSpace(string(b))
	if phrase == "" {
		return "", fmt.Errorf("LNC phrase file %s is empty: write the "+
			"pairing phrase from Lightning Terminal into it", path)
	}
	return phrase, nil
}

// PhraseID checks a pairing phrase and returns the ID a SessionStore
// records for it (a hash, never the phrase), so that a caller can tell
// whether stored keys belong to this phrase before using it.
func PhraseID(phrase string) (string, error) {
	entropy, err := parsePhrase(phrase)
	if err != nil {
		return "", err
	}
	return phraseID(entropy), nil
}

// ErrNoPhrase is returned when LNC is configured and no pairing phrase
// was given.
var ErrNoPhrase = errors.New("no LNC pairing phrase: name a phrase file " +
	"(0600) in the config, or set $" + PhraseEnv)

// LookupPhrase returns the pairing phrase of a config: the phrase file's
// when the config names one, else $L402_LNC_PHRASE's. The file wins, so
// that a variable set for another l402 command never pairs this one
// afresh. source says where the phrase came from, for messages; the
// phrase itself is never shown.
func LookupPhrase(file string, getenv func(string) string) (phrase,
	source string, err error) {

	if file != "" {
		phrase, err := ReadPhraseFile(file)
		return phrase, file, err
	}
	if phrase := strings.TrimSpace(getenv(PhraseEnv)); phrase != "" {
		return phrase, "$" + PhraseEnv, nil
	}
	return "", "", ErrNoPhrase
}
