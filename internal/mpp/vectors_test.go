package mpp

import (
	"encoding/json"
	"os"
	"testing"
)

// loadJSON reads a testdata file into v.
func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// vectors is testdata/vectors.json.
type vectors struct {
	SecretHex    string `json:"secretHex"`
	ChallengeIDs []struct {
		Name      string    `json:"name"`
		Challenge Challenge `json:"challenge"`
		Input     string    `json:"input"`
		ID        string    `json:"id"`
		Error     bool      `json:"error"`
	} `json:"challengeIds"`
	Headers []struct {
		Name      string    `json:"name"`
		Challenge Challenge `json:"challenge"`
		Header    string    `json:"header"`
	} `json:"headers"`
	Lists []struct {
		Name   string   `json:"name"`
		Values []string `json:"values"`
		IDs    []string `json:"ids"`
		Error  bool     `json:"error"`
	} `json:"lists"`
	Credentials []struct {
		Name      string          `json:"name"`
		Header    string          `json:"header"`
		Challenge Challenge       `json:"challenge"`
		Payload   json.RawMessage `json:"payload"`
		Error     bool            `json:"error"`
	} `json:"credentials"`
	Receipts []struct {
		Name   string `json:"name"`
		JSON   string `json:"json"`
		Header string `json:"header"`
	} `json:"receipts"`
}

// loadVectors reads testdata/vectors.json.
func loadVectors(t testing.TB) vectors {
	var v vectors
	loadJSON(t, "vectors.json", &v)
	return v
}
