package bolt11

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"
)

// params are the networks by their prefix, for zpay32.
var params = map[string]*chaincfg.Params{
	"bc": &chaincfg.MainNetParams, "tb": &chaincfg.TestNet3Params,
	"bcrt": &chaincfg.RegressionNetParams, "tbs": &chaincfg.SigNetParams,
	"sb": &chaincfg.SimNetParams,
}

// vectors returns testdata/vectors.txt's payment requests.
func vectors(t testing.TB) []string {
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" &&
			!strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// agree decodes s with Decode and with lnd's zpay32 for every network
// l402 knows, and fails the test where they differ: one accepts what
// the other refuses, or a field a payer reads is not the same. Where
// zpay32 and BOLT 11 differ, BOLT 11 wins: Decode refuses what zpay32
// reads wrapped in 64 bits (an amount or an expiry beyond them) and a
// recovery ID above 3, and bolt11Wins checks that s is such a case.
func agree(t *testing.T, s string) {
	t.Helper()
	ours, err := Decode(s)
	var p *chaincfg.Params
	if err == nil {
		p = params[ours.Prefix]
	}
	// Only the network of the prefix may decode it.
	for name, other := range params {
		if other == p {
			continue
		}
		z, zerr := zpay32.Decode(s, other)
		if zerr == nil && (err == nil || !bolt11Wins(s, err, z)) {
			t.Fatalf("%s: zpay32 accepts it for %s, ours says %v (prefix "+
				"%q)", s, name, err, prefixOf(ours))
		}
	}
	if p == nil {
		return
	}
	theirs, zerr := zpay32.Decode(s, p)
	if zerr != nil {
		t.Fatalf("%s: ours accepts it, zpay32 says %v", s, zerr)
	}

	if ours.HasAmount != (theirs.MilliSat != nil) ||
		(theirs.MilliSat != nil && ours.AmountMsat != int64(*theirs.MilliSat)) {
		t.Errorf("%s: amount %v %d, zpay32 %v", s, ours.HasAmount,
			ours.AmountMsat, theirs.MilliSat)
	}
	if !ours.Timestamp.Equal(theirs.Timestamp) ||
		ours.PaymentHash != *theirs.PaymentHash ||
		ours.Expiry != theirs.Expiry() ||
		ours.MinFinalCLTV != theirs.MinFinalCLTVExpiry() {
		t.Errorf("%s: timestamp, hash, expiry or cltv differ", s)
	}
	if !ours.Payee.IsEqual(theirs.Destination) {
		t.Errorf("%s: payee differs", s)
	}
	secret := theirs.PaymentAddr.UnwrapOr([32]byte{})
	if ours.HasPaymentSecret != theirs.PaymentAddr.IsSome() ||
		ours.PaymentSecret != secret {
		t.Errorf("%s: payment secret differs", s)
	}
	if (ours.Description == nil) != (theirs.Description == nil) ||
		(ours.Description != nil && *ours.Description != *theirs.Description) ||
		(ours.DescriptionHash == nil) != (theirs.DescriptionHash == nil) ||
		(ours.DescriptionHash != nil &&
			*ours.DescriptionHash != *theirs.DescriptionHash) {
		t.Errorf("%s: description differs", s)
	}
	var bits []int
	for b := range theirs.Features.Features() {
		bits = append(bits, int(b))
	}
	sort.Ints(bits)
	if !slices.Equal(ours.Features, bits) {
		t.Errorf("%s: features %v, zpay32 %v", s, ours.Features, bits)
	}
	var unknown []int
	for _, b := range theirs.Features.UnknownRequiredFeatures() {
		unknown = append(unknown, int(b))
	}
	sort.Ints(unknown)
	if !slices.Equal(ours.UnknownRequired(), unknown) {
		t.Errorf("%s: unknown required %v, zpay32 %v", s,
			ours.UnknownRequired(), unknown)
	}
}

// TestDecodeAgreesWithLnd: the specification's examples, valid and
// invalid, decode as lnd decodes them.
func TestDecodeAgreesWithLnd(t *testing.T) {
	vs := vectors(t)
	if len(vs) < 20 {
		t.Fatalf("%d vectors", len(vs))
	}
	valid := 0
	for _, s := range vs {
		agree(t, s)
		if _, err := Decode(s); err == nil {
			valid++
		}
	}
	if valid < 10 {
		t.Fatalf("only %d vectors decode", valid)
	}
}

// TestDecodeAgreesWithLndOnGenerated: invoices zpay32 writes with every
// optional field, and each of their one-character mutations, decode as
// lnd decodes them.
func TestDecodeAgreesWithLndOnGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		s := generated(t, rng, i)
		agree(t, s)
		for range 20 {
			b := []byte(s)
			j := rng.IntN(len(b))
			b[j] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l1"[rng.IntN(33)]
			agree(t, string(b))
		}
	}
}

// prefixOf is an invoice's prefix, or "" for none.
func prefixOf(inv *Invoice) string {
	if inv == nil {
		return ""
	}
	return inv.Prefix
}

// generated writes an invoice with zpay32, its optional fields chosen by
// rng.
func generated(t *testing.T, rng *rand.Rand, i int) string {
	t.Helper()
	key, _ := btcec.NewPrivateKey()
	var hash, secret [32]byte
	fill := func(b []byte) {
		for k := range b {
			b[k] = byte(rng.Uint32())
		}
	}
	fill(hash[:])
	fill(secret[:])
	net := []*chaincfg.Params{&chaincfg.RegressionNetParams,
		&chaincfg.MainNetParams, &chaincfg.TestNet3Params,
		&chaincfg.SigNetParams}[i%4]
	opts := []func(*zpay32.Invoice){zpay32.PaymentAddr(secret)}
	if i%3 == 0 {
		opts = append(opts, zpay32.Description("l402 "+hex.EncodeToString(
			hash[:4])))
	} else {
		opts = append(opts, zpay32.DescriptionHash(sha256.Sum256(hash[:])))
	}
	if i%2 == 0 {
		opts = append(opts, zpay32.Amount(lnwire.MilliSatoshi(
			rng.Int64N(1e12)+1)))
	}
	if i%5 == 1 {
		opts = append(opts, zpay32.Expiry(time.Duration(rng.IntN(1e6))*
			time.Second), zpay32.CLTVExpiry(uint64(rng.IntN(1000))))
	}
	if i%4 == 2 {
		opts = append(opts, zpay32.Destination(key.PubKey()))
	}
	if i%6 == 3 {
		raw := lnwire.NewRawFeatureVector(lnwire.PaymentAddrRequired,
			lnwire.TLVOnionPayloadRequired, lnwire.FeatureBit(100+2*(i%3)))
		opts = append(opts, zpay32.Features(lnwire.NewFeatureVector(raw,
			lnwire.Features)))
	}
	if i%7 == 4 {
		hop, _ := btcec.NewPrivateKey()
		opts = append(opts, zpay32.RouteHint([]zpay32.HopHint{{
			NodeID: hop.PubKey(), ChannelID: rng.Uint64(),
			FeeBaseMSat: 1000, FeeProportionalMillionths: 1,
			CLTVExpiryDelta: 40}}))
	}
	if i%8 == 5 {
		addr, err := btcutil.NewAddressWitnessPubKeyHash(hash[:20], net)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, zpay32.FallbackAddr(addr))
	}
	inv, err := zpay32.NewInvoice(net, hash, time.Unix(1_700_000_000+
		int64(i), 0), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := inv.Encode(zpay32.MessageSigner{SignCompact: func(
		msg []byte) ([]byte, error) {
		d := sha256.Sum256(msg)
		return ecdsa.SignCompact(key, d[:], true), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzDecodeAgreesWithLnd: no payment request decodes differently from
// lnd's decoding of it.
func FuzzDecodeAgreesWithLnd(f *testing.F) {
	for _, s := range seedRequests(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		agree(t, s)
	})
}

// TestEncodeDecodes: what Encode writes, Decode and zpay32 read back,
// with the payee the signer's key.
func TestEncodeDecodes(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	sign := func(d []byte) ([]byte, error) {
		return ecdsa.SignCompact(key, d, true), nil
	}
	for _, amount := range []int64{0, 1, 10, 1000, 150_000, 100_000_000_000,
		123_456_789} {
		r := Request{Prefix: "bcrt", AmountMsat: amount,
			Timestamp: time.Unix(1_700_000_000, 0), PaymentHash: [32]byte{1},
			PaymentSecret: [32]byte{2}, Description: "L402 token for api",
			Expiry: 10 * time.Minute, MinFinalCLTV: 40}
		s, err := Encode(r, sign)
		if err != nil {
			t.Fatal(err)
		}
		agree(t, s)
		inv, err := Decode(s)
		if err != nil || inv.AmountMsat != amount || inv.Expiry != r.Expiry ||
			inv.MinFinalCLTV != 40 || !inv.Payee.IsEqual(key.PubKey()) ||
			*inv.Description != r.Description || !inv.HasPaymentSecret {
			t.Fatalf("%d: %+v %v", amount, inv, err)
		}
	}
}

// TestKnownFeaturesAreLnds: the feature bits UnknownRequired knows are
// lnd's.
func TestKnownFeaturesAreLnds(t *testing.T) {
	var bits []int
	for b := range lnwire.Features {
		bits = append(bits, int(b))
	}
	sort.Ints(bits)
	if !slices.Equal(bits, knownFeatures) {
		t.Fatalf("lnd knows %v", bits)
	}
}

// TestHighS: a signature whose s is above half the curve order (the
// same signature, s negated) still verifies, and is reported.
func TestHighS(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	var flip bool
	sign := func(d []byte) ([]byte, error) {
		sig := ecdsa.SignCompact(key, d, true)
		if flip {
			var s btcec.ModNScalar
			s.SetByteSlice(sig[33:65])
			s.Negate()
			b := s.Bytes()
			copy(sig[33:], b[:])
			sig[0] = 31 + ((sig[0] - 31) ^ 1) // the other recovery ID
		}
		return sig, nil
	}
	r := Request{Prefix: "bcrt", AmountMsat: 1000, Timestamp: time.Unix(1, 0),
		Description: "x"}
	for _, flip = range []bool{false, true} {
		s, err := Encode(r, sign)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Decode(s)
		if err != nil || inv.HighS != flip || !inv.Payee.IsEqual(key.PubKey()) {
			t.Fatalf("flip %v: %+v %v", flip, inv, err)
		}
	}
}

// TestDecodeAgreesWithLndOnRawFields: signed invoices of random tagged
// fields (every type, lengths right and wrong, repeats, garbage) decode
// as lnd decodes them.
func TestDecodeAgreesWithLndOnRawFields(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	key, _ := btcec.NewPrivateKey()
	other, _ := btcec.NewPrivateKey()
	groups := func(b []byte) []byte {
		g, _ := bech32.ConvertBits(b, 8, 5, true)
		return g
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(32))
		}
		return b
	}
	decoded := 0
	for i := range 1500 {
		data := uint5sOf(uint64(1_700_000_000+i), timestampLen)
		field := func(typ byte, v []byte) {
			data = append(data, typ, byte(len(v)>>5), byte(len(v)&31))
			data = append(data, v...)
		}
		if rng.IntN(10) > 0 {
			field(fieldPaymentHash, groups(make([]byte, 32)))
		}
		if rng.IntN(10) > 0 {
			if rng.IntN(2) == 0 {
				field(fieldDescription, groups([]byte("L402")))
			} else {
				field(fieldDescriptionHash, groups(make([]byte, 32)))
			}
		}
		for range rng.IntN(6) {
			typ := []byte{fieldPaymentHash, fieldPaymentSecret,
				fieldDescription, fieldDescriptionHash, fieldPayee,
				fieldExpiry, fieldMinFinalCLTV, fieldFallback,
				fieldRouteHint, fieldFeatures, fieldBlindedPath,
				fieldMetadata, 0, 31}[rng.IntN(14)]
			var v []byte
			switch rng.IntN(4) {
			case 0: // the right length, random groups
				n := map[byte]int{fieldPaymentHash: hashLen,
					fieldPaymentSecret: hashLen, fieldDescriptionHash: hashLen,
					fieldPayee: pubkeyLen}[typ]
				v = random(max(n, rng.IntN(20)))
			case 1: // a well-formed value
				switch typ {
				case fieldPayee:
					v = groups(key.PubKey().SerializeCompressed())
					if rng.IntN(3) == 0 {
						v = groups(other.PubKey().SerializeCompressed())
					}
				case fieldRouteHint:
					hop := append(other.PubKey().SerializeCompressed(),
						make([]byte, 18)...)
					v = groups(hop)
				case fieldFallback:
					v = append([]byte{byte([]int{0, 1, 17, 18, 5}[rng.IntN(5)])},
						groups(make([]byte, []int{20, 32}[rng.IntN(2)]))...)
				case fieldBlindedPath:
					b := append(make([]byte, 26), 0, 0)
					b = append(b, other.PubKey().SerializeCompressed()...)
					b = append(b, 1)
					b = append(b, key.PubKey().SerializeCompressed()...)
					b = append(b, byte(rng.IntN(4)))
					b = append(b, make([]byte, rng.IntN(5))...)
					v = groups(b)
				case fieldDescription:
					v = groups([]byte("ok"))
				default:
					v = groups(make([]byte, 32))
				}
			default: // any length
				v = random(rng.IntN(70))
			}
			field(typ, v)
		}
		if rng.IntN(10) == 0 {
			data = append(data, random(rng.IntN(3))...) // a broken tail
		}
		hrp := "ln" + []string{"bcrt", "bc", "tb", "tbs"}[rng.IntN(4)] +
			[]string{"", "10u", "1p", "20m", "0n", "25"}[rng.IntN(6)]
		body, _ := bech32.ConvertBits(data, 5, 8, true)
		digest := sha256.Sum256(append([]byte(hrp), body...))
		signer := key
		if rng.IntN(5) == 0 {
			signer = other
		}
		compact := ecdsa.SignCompact(signer, digest[:], true)
		sig := append(append([]byte{}, compact[1:]...), compact[0]-31)
		s, err := bech32.Encode(hrp, append(data, groups(sig)...))
		if err != nil {
			continue
		}
		agree(t, s)
		if _, err := Decode(s); err == nil {
			decoded++
		}
	}
	// Enough of them are valid for the fields' reading to be compared,
	// not only the refusals.
	if decoded < 150 {
		t.Fatalf("only %d of 1500 decode", decoded)
	}
}
