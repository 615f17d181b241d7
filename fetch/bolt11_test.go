package fetch

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"
)

// bolt11Case is one example invoice of testdata/bolt11.json.
type bolt11Case struct {
	Name        string `json:"name"`
	Invoice     string `json:"invoice"`
	Network     string `json:"network"`
	PaymentHash string `json:"payment_hash"`
	Now         int64  `json:"now"`
	Want        string `json:"want"`
	Reason      string `json:"reason"`
}

// challengeHeader returns a 402's header offering invoice with a macaroon
// that commits to hash, as a seller would send it.
func challengeHeader(t *testing.T, hash l402.Hash, invoice string) http.Header {
	t.Helper()
	mac, err := l402.Mint(make([]byte, 32), l402.NewIdentifier(hash,
		l402.TokenID{1}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := l402.BuildChallenges(mac, invoice)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Www-Authenticate": v}
}

// checkVet runs vetChallenge as fetch does before paying and checks that
// it pays or refuses as want says, a refusal being ErrInvalidInvoice with
// reason in its message.
func checkVet(t *testing.T, h http.Header, network string, now time.Time,
	want, reason string) {

	t.Helper()
	_, err := vetChallenge(h, network, 1_000_000_000,
		DefaultMaxInvoiceExpiry, now)
	switch want {
	case "pay":
		if err != nil {
			t.Fatalf("refused a valid invoice: %v", err)
		}
	case "refuse":
		var r *Refusal
		if !errors.As(err, &r) || !errors.Is(err, ErrInvalidInvoice) {
			t.Fatalf("got %v, want an invalid_invoice refusal", err)
		}
		if !strings.Contains(err.Error(), reason) {
			t.Fatalf("refusal %q does not say %q", err, reason)
		}
	default:
		t.Fatalf("bad want %q", want)
	}
}

// TestVetChallengeBOLT11Examples runs every example invoice of the BOLT 11
// spec, valid and invalid, through the checks fetch makes before paying.
func TestVetChallengeBOLT11Examples(t *testing.T) {
	b, err := os.ReadFile("testdata/bolt11.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []bolt11Case `json:"cases"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 20 {
		t.Fatalf("%d cases, want the spec's 21", len(file.Cases))
	}
	for _, tc := range file.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			hash, err := l402.ParseHash(tc.PaymentHash)
			if err != nil {
				t.Fatal(err)
			}
			h := challengeHeader(t, hash, tc.Invoice)
			checkVet(t, h, tc.Network, time.Unix(tc.Now, 0), tc.Want,
				tc.Reason)

			// A --no-pay preview, with no node, judges it the same.
			checkVet(t, h, "", time.Unix(tc.Now, 0), tc.Want, tc.Reason)
		})
	}
}

// forgedInvoice signs a regtest invoice of 10 sat for hash with a fresh
// key, with the given options after the amount and description.
func forgedInvoice(t *testing.T, hash l402.Hash, now time.Time,
	opts ...func(*zpay32.Invoice)) string {

	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := zpay32.NewInvoice(&chaincfg.RegressionNetParams, hash, now, append(
		[]func(*zpay32.Invoice){zpay32.Amount(10_000),
			zpay32.Description("forged")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := inv.Encode(zpay32.MessageSigner{
		SignCompact: func(msg []byte) ([]byte, error) {
			digest := sha256.Sum256(msg)
			return ecdsa.SignCompact(key, digest[:], true), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withSecret gives a forged invoice a payment secret.
func withSecret() func(*zpay32.Invoice) {
	return zpay32.PaymentAddr([32]byte{0x11})
}

// withFeatures sets a forged invoice's feature bits.
func withFeatures(bits ...lnwire.FeatureBit) func(*zpay32.Invoice) {
	return zpay32.Features(lnwire.NewFeatureVector(
		lnwire.NewRawFeatureVector(bits...), lnwire.Features))
}

// highS rewrites an invoice's signature (r, s) into (r, n-s), which signs
// the same data but is not in lower-S form, flipping the recovery id so
// that the payee's key is still recovered from it.
func highS(t *testing.T, invoice string) string {
	t.Helper()
	hrp, data, err := bech32.DecodeNoLimit(invoice)
	if err != nil {
		t.Fatal(err)
	}
	const sigGroups = 104
	sig, err := bech32.ConvertBits(data[len(data)-sigGroups:], 5, 8, true)
	if err != nil || len(sig) != 65 {
		t.Fatalf("signature %x: %v", sig, err)
	}
	var s btcec.ModNScalar
	s.SetByteSlice(sig[32:64])
	if s.IsOverHalfOrder() {
		t.Fatal("the signature is already high-S")
	}
	s.Negate()
	b := s.Bytes()
	copy(sig[32:64], b[:])
	sig[64] ^= 1
	groups, err := bech32.ConvertBits(sig, 8, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	out, err := bech32.Encode(hrp, append(data[:len(data)-sigGroups:len(
		data)-sigGroups], groups[:sigGroups]...))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVetChallengeBOLT11Reader covers what BOLT 11 says a reader MUST
// fail and the spec has no example of, and a payment secret: an unknown
// even feature bit, a signature not in lower-S form, and no s field.
func TestVetChallengeBOLT11Reader(t *testing.T) {
	now := time.Now()
	hash := l402.Hash{7}
	good := forgedInvoice(t, hash, now, withSecret(),
		withFeatures(lnwire.TLVOnionPayloadRequired,
			lnwire.PaymentAddrRequired))

	tests := []struct {
		name, invoice, want, reason string
	}{
		{"valid", good, "pay", ""},
		{"unknown odd bit ignored", forgedInvoice(t, hash, now,
			withSecret(), withFeatures(lnwire.PaymentAddrRequired,
				lnwire.FeatureBit(101))), "pay", ""},
		{"unknown even bit", forgedInvoice(t, hash, now, withSecret(),
			withFeatures(lnwire.PaymentAddrRequired,
				lnwire.FeatureBit(100))), "refuse",
			"unknown required feature 100"},
		{"high-S signature", highS(t, good), "refuse", "lower-S"},
		{"no payment secret", forgedInvoice(t, hash, now), "refuse",
			"payment secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The rewritten invoice still decodes: the check is
			// fetch's, not zpay32's.
			if _, err := lightning.DecodeInvoice(tc.invoice,
				"regtest"); err != nil {
				t.Fatalf("does not decode: %v", err)
			}
			h := challengeHeader(t, hash, tc.invoice)
			checkVet(t, h, "regtest", now, tc.want, tc.reason)
		})
	}
}
