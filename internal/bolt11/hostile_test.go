package bolt11

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/lightningnetwork/lnd/zpay32"
)

// specKey is the private key that signs BOLT 11's examples: signing
// with it keeps an example's n field true after its fields change.
var specKey, _ = btcec.PrivKeyFromBytes(mustHex(
	"e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734"))

// otherKey signs where the fuzzer asks for a key the n field does not
// name.
var otherKey, _ = btcec.PrivKeyFromBytes([]byte(
	"l402 review: some other node key"))

// mustHex decodes a hex constant.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Signature tweaks of signedRequest, as bits of its tweak argument.
const (
	tweakHighS       = 1 << iota // negate s, flipping the recovery ID
	tweakOtherKey                // sign with otherKey
	tweakRecovery1               // add 1 to the recovery ID
	tweakRecovery2               // add 2
	tweakRecovery252             // add 252: the byte btcec reads as 0 or 1
	tweakUpper                   // the whole string upper case
)

// signedRequest writes a payment request of the human-readable prefix
// hrp and the 5-bit groups data (the timestamp and the tagged fields;
// each byte's low five bits), signed as a seller signs it, then bent as
// tweak says. It returns "" for what bech32 cannot carry.
func signedRequest(hrp string, data []byte, tweak byte) string {
	groups := make([]byte, len(data))
	for i, b := range data {
		groups[i] = b & 31
	}
	body, err := bech32.ConvertBits(groups, 5, 8, true)
	if err != nil {
		return ""
	}
	digest := sha256.Sum256(append([]byte(hrp), body...))
	key := specKey
	if tweak&tweakOtherKey != 0 {
		key = otherKey
	}
	compact := ecdsa.SignCompact(key, digest[:], true)
	recovery := compact[0] - 31
	if tweak&tweakHighS != 0 {
		var s btcec.ModNScalar
		s.SetByteSlice(compact[33:65])
		s.Negate()
		b := s.Bytes()
		copy(compact[33:], b[:])
		recovery ^= 1
	}
	if tweak&tweakRecovery1 != 0 {
		recovery++
	}
	if tweak&tweakRecovery2 != 0 {
		recovery += 2
	}
	if tweak&tweakRecovery252 != 0 {
		recovery += 252
	}
	sig := append(append([]byte{}, compact[1:]...), recovery)
	sig5, err := bech32.ConvertBits(sig, 8, 5, true)
	if err != nil {
		return ""
	}
	s, err := bech32.Encode(hrp, append(groups, sig5...))
	if err != nil {
		return ""
	}
	if tweak&tweakUpper != 0 {
		s = strings.ToUpper(s)
	}
	return s
}

// unsigned splits a payment request into its prefix and the groups
// before its signature, for signedRequest to sign again; ok is false
// for what does not decode as bech32.
func unsigned(s string) (hrp string, data []byte, ok bool) {
	hrp, data, err := bech32.DecodeNoLimit(s)
	if err != nil || len(data) < signatureLen {
		return "", nil, false
	}
	return hrp, data[:len(data)-signatureLen], true
}

// seedRequests returns every payment request of the tests' vectors:
// testdata/vectors.txt (BOLT 11's examples) and fetch's
// testdata/bolt11.json (the same examples as fetch vets them).
func seedRequests(t testing.TB) []string {
	out := vectors(t)
	b, err := os.ReadFile("../../fetch/testdata/bolt11.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []struct {
			Invoice string `json:"invoice"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for _, c := range file.Cases {
		out = append(out, c.Invoice)
	}
	return out
}

// field is a tagged field's groups: its type, its length and v.
func field(typ byte, v []byte) []byte {
	return append([]byte{typ, byte(len(v) >> 5), byte(len(v) & 31)}, v...)
}

// plain returns the groups of an invoice of a zero payment hash, a
// description, a payment secret and more, before its signature.
func plain(more ...[]byte) []byte {
	groups := func(b []byte) []byte {
		g, _ := bech32.ConvertBits(b, 8, 5, true)
		return g
	}
	d := uint5sOf(1_700_000_000, timestampLen)
	d = append(d, field(fieldPaymentHash, groups(make([]byte, 32)))...)
	d = append(d, field(fieldPaymentSecret, groups(make([]byte, 32)))...)
	d = append(d, field(fieldDescription, groups([]byte("l402")))...)
	for _, m := range more {
		d = append(d, m...)
	}
	return d
}

// TestDecodeRefusesWhatBOLT11Refuses: payment requests zpay32 accepts
// and BOLT 11 does not, or that zpay32 refuses and Decode accepted, are
// refused, each with its own error.
func TestDecodeRefusesWhatBOLT11Refuses(t *testing.T) {
	cases := []struct {
		name string
		s    string
		want error
	}{
		// BOLT 11: the recovery ID is 0, 1, 2 or 3. btcec reads the
		// byte 252 as 0 (the header byte 252+31 wraps to 27), and lnd
		// pays it: one invoice, another string.
		{"recovery ID 252", signedRequest("lnbcrt10u", plain(),
			tweakRecovery252), ErrRecoveryID},
		{"recovery ID 252 beside an n field", signedRequest("lnbcrt10u",
			plain(field(fieldPayee, groups33(specKey.PubKey().
				SerializeCompressed()))), tweakRecovery252), ErrRecoveryID},

		// An expiry of 2^55+600 seconds is 600 s once multiplied into
		// a time.Duration's nanoseconds (2^55 * 10^9 is a multiple of
		// 2^64), which is what zpay32 says: BOLT 11's expiry is
		// 2^55+600 seconds.
		{"expiry that wraps to 600 s", signedRequest("lnbcrt10u",
			plain(field(fieldExpiry, uint5sOf(1<<55+600, 12))), 0),
			ErrExpiryTooLarge},
		{"expiry of 13 groups", signedRequest("lnbcrt10u",
			plain(field(fieldExpiry, []byte{31, 31, 31, 31, 31, 31, 31,
				31, 31, 31, 31, 31, 31})), 0), ErrExpiryTooLarge},

		// An amount of 2*10^8 BTC is 2*10^19 msat, beyond 64 bits:
		// zpay32 wraps it to 1.55*10^18 msat.
		{"amount beyond 64 bits", signedRequest("lnbcrt200000000",
			plain(), 0), ErrAmountTooLarge},
		{"amount beyond int64", signedRequest("lnbcrt100000000000m",
			plain(), 0), ErrAmountTooLarge},

		// zpay32 refuses an amount below 10p; so does Decode, as lnd
		// could not pay it.
		{"amount 0p", signedRequest("lnbcrt0p", plain(), 0),
			ErrAmountTooSmall},
	}
	for _, c := range cases {
		if c.s == "" {
			t.Fatalf("%s: not encoded", c.name)
		}
		if _, err := Decode(c.s); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		agree(t, c.s)
	}
}

// groups33 is a 33-byte key's groups.
func groups33(b []byte) []byte {
	g, _ := bech32.ConvertBits(b, 8, 5, true)
	return g
}

// FuzzSignedAgreesWithLnd: a seller signs whatever prefix and fields it
// likes, so the fuzzer writes the prefix and the groups and the test
// signs them (and bends the signature as tweak says) before decoding
// them with Decode and with zpay32: a mutation is not lost to the
// checksum or the signature, as FuzzDecodeAgreesWithLnd's are.
func FuzzSignedAgreesWithLnd(f *testing.F) {
	for _, s := range seedRequests(f) {
		if hrp, data, ok := unsigned(s); ok {
			f.Add(hrp, data, byte(0))
		}
	}
	// The requests TestDecodeRefusesWhatBOLT11Refuses holds.
	for _, tw := range []byte{tweakHighS, tweakRecovery252, tweakUpper,
		tweakOtherKey} {
		f.Add("lnbcrt10u", plain(), tw)
	}
	f.Add("lnbcrt10u", plain(field(fieldExpiry, uint5sOf(1<<55+600, 12))),
		byte(0))
	f.Add("lnbcrt200000000", plain(), byte(0))
	f.Add("lntbs0p", plain(), byte(0))
	f.Fuzz(func(t *testing.T, hrp string, data []byte, tweak byte) {
		if len(hrp)+len(data) > MaxLength {
			return
		}
		if s := signedRequest(hrp, data, tweak); s != "" {
			agree(t, s)
		}
	})
}

// bolt11Wins reports whether Decode's refusal of s, which zpay32 decodes
// as theirs, is one where BOLT 11 and zpay32 differ and BOLT 11 is
// followed, checking that s is such a case with its own arithmetic
// (math/big), not Decode's.
func bolt11Wins(s string, err error, theirs *zpay32.Invoice) bool {
	hrp, data, derr := bech32.DecodeNoLimit(s)
	if derr != nil {
		return false
	}
	switch {
	case errors.Is(err, ErrAmountTooLarge):
		// zpay32 multiplies in 64 bits, and wraps.
		msat, ok := bigAmount(hrp)
		return ok && msat.Cmp(big.NewInt(math.MaxInt64)) > 0

	case errors.Is(err, ErrRecoveryID):
		// zpay32 adds 31 to the byte, and btcec reads what wraps.
		sig, cerr := bech32.ConvertBits(data[len(data)-signatureLen:], 5,
			8, true)
		return cerr == nil && sig[64] > 3

	case errors.Is(err, ErrExpiryTooLarge):
		// zpay32 multiplies the seconds into nanoseconds, and wraps.
		secs, ok := bigExpiry(data[:len(data)-signatureLen])
		return ok && secs.Cmp(big.NewInt(math.MaxInt64/int64(time.Second))) > 0 &&
			big.NewInt(int64(theirs.Expiry()/time.Second)).Cmp(secs) != 0
	}
	return false
}

// bigAmount reads the amount of a prefix, exactly.
func bigAmount(hrp string) (*big.Int, bool) {
	_, amount := splitPrefix(strings.TrimPrefix(hrp, "ln"))
	if amount == "" {
		return nil, false
	}
	per := map[byte]int64{'m': 1e8, 'u': 1e5, 'n': 100}
	unit := amount[len(amount)-1]
	n, ok := new(big.Int).SetString(strings.TrimRight(amount, "munp"), 10)
	if !ok {
		return nil, false
	}
	switch {
	case unit >= '0' && unit <= '9':
		return n.Mul(n, big.NewInt(msatPerBTC)), true
	case unit == 'p':
		return n.Div(n, big.NewInt(10)), true
	}
	return n.Mul(n, big.NewInt(per[unit])), per[unit] != 0
}

// bigExpiry reads the first x field of the groups, exactly.
func bigExpiry(fields []byte) (*big.Int, bool) {
	if len(fields) < timestampLen {
		return nil, false
	}
	for f := fields[timestampLen:]; len(f) >= 3; {
		typ, n := f[0], int(f[1])<<5|int(f[2])
		if len(f) < 3+n {
			return nil, false
		}
		if typ == fieldExpiry {
			v := new(big.Int)
			for _, g := range f[3 : 3+n] {
				v.Lsh(v, 5).Or(v, big.NewInt(int64(g)))
			}
			return v, true
		}
		f = f[3+n:]
	}
	return nil, false
}

// TestLengthCap: a signed request of MaxLength characters decodes, as
// in zpay32; one character more is refused by both (BOLT 11 sets no
// length; lnd's cap is what one QR code holds).
func TestLengthCap(t *testing.T) {
	const hrp = "lnbcrt10u"
	padded := func(total int) string {
		data := plain()
		// The prefix, the separator, the signature and the checksum.
		left := total - len(hrp) - 1 - signatureLen - 6 - len(data)
		for left > 0 {
			n := min(left-3, 1023)
			if n < 0 {
				t.Fatalf("cannot pad %d more", left)
			}
			data = append(data, field(0, make([]byte, n))...)
			left -= 3 + n
		}
		s := signedRequest(hrp, data, 0)
		if len(s) != total {
			t.Fatalf("%d characters, want %d", len(s), total)
		}
		return s
	}
	if _, err := Decode(padded(MaxLength)); err != nil {
		t.Fatalf("%d characters: %v", MaxLength, err)
	}
	agree(t, padded(MaxLength))
	if _, err := Decode(padded(MaxLength + 1)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("%d characters: %v", MaxLength+1, err)
	}
	agree(t, padded(MaxLength+1))
}

// TestFirstFieldWins: of a repeated field, the first of a supported
// length counts, in Decode as in zpay32 (which pays with it); a seller
// cannot show fetch one payment hash and have lnd pay another.
func TestFirstFieldWins(t *testing.T) {
	g := func(b byte) []byte { return groups33(bytes32(b)) }
	s := signedRequest("lnbcrt10u", plain(
		field(fieldPaymentHash, g(7)), // a second p: skipped
		field(fieldPaymentSecret, g(8)),
		field(fieldExpiry, uint5sOf(60, 2)),
		field(fieldExpiry, uint5sOf(6000, 3)),
		field(fieldMinFinalCLTV, uint5sOf(40, 2)),
		field(fieldMinFinalCLTV, uint5sOf(400, 2)),
	), 0)
	inv, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if inv.PaymentHash != [32]byte{} || inv.PaymentSecret != [32]byte{} ||
		inv.Expiry != 60*time.Second || inv.MinFinalCLTV != 40 {
		t.Fatalf("%+v", inv)
	}
	agree(t, s)

	// A first p of another length is skipped: the next one counts.
	d := uint5sOf(1_700_000_000, timestampLen)
	d = append(d, field(fieldPaymentHash, g(1)[:51])...)
	d = append(d, field(fieldPaymentHash, g(2))...)
	d = append(d, field(fieldDescription, groups33([]byte("x")))...)
	s = signedRequest("lnbcrt10u", d, 0)
	if inv, err := Decode(s); err != nil || inv.PaymentHash != [32]byte{2} {
		t.Fatalf("%v %v", inv, err)
	}
	agree(t, s)
}

// bytes32 is 32 bytes, the first b.
func bytes32(b byte) []byte {
	out := make([]byte, 32)
	out[0] = b
	return out
}
