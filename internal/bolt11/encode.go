package bolt11

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// Request is what Encode writes into a payment request.
type Request struct {
	Prefix        string // the network's: "bcrt", "bc", ...
	AmountMsat    int64  // 0: no amount
	Timestamp     time.Time
	PaymentHash   [32]byte
	PaymentSecret [32]byte
	Description   string
	Expiry        time.Duration
	MinFinalCLTV  uint64
}

// SignCompact signs a SHA-256 digest, returning btcec's compact form: a
// header byte, then r and s.
type SignCompact func(digest []byte) ([]byte, error)

// Encode writes and signs a payment request with the fields p, s, d, x
// and c (x and c only when set).
func Encode(r Request, sign SignCompact) (string, error) {
	hrp := "ln" + r.Prefix
	if r.AmountMsat < 0 {
		return "", errors.New("negative amount")
	}
	if r.AmountMsat > 0 {
		hrp += encodeAmount(r.AmountMsat)
	}

	data := uint5sOf(uint64(r.Timestamp.Unix()), timestampLen)
	field := func(typ byte, v []byte) {
		data = append(data, typ, byte(len(v)>>5), byte(len(v)&31))
		data = append(data, v...)
	}
	groups := func(b []byte) []byte {
		g, _ := bech32.ConvertBits(b, 8, 5, true)
		return g
	}
	field(fieldPaymentHash, groups(r.PaymentHash[:]))
	field(fieldPaymentSecret, groups(r.PaymentSecret[:]))
	field(fieldDescription, groups([]byte(r.Description)))
	if r.Expiry > 0 {
		field(fieldExpiry, minimalUint5s(uint64(r.Expiry/time.Second)))
	}
	if r.MinFinalCLTV > 0 {
		field(fieldMinFinalCLTV, minimalUint5s(r.MinFinalCLTV))
	}

	body, err := bech32.ConvertBits(data, 5, 8, true)
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256(append([]byte(hrp), body...))
	compact, err := sign(digest[:])
	if err != nil {
		return "", err
	}
	if len(compact) != 65 || compact[0] < 27+4 {
		return "", errors.New("not a compressed-key compact signature")
	}
	sig := append(append([]byte{}, compact[1:]...), compact[0]-27-4)
	data = append(data, groups(sig)...)
	return bech32.Encode(hrp, data)
}

// encodeAmount writes an amount with the unit that makes it shortest.
func encodeAmount(msat int64) string {
	if msat%msatPerBTC == 0 {
		return strconv.FormatInt(msat/msatPerBTC, 10)
	}
	best := strconv.FormatInt(msat*10, 10) + "p"
	for _, u := range []struct {
		unit byte
		per  int64
	}{{'m', msatPerBTC / 1_000}, {'u', msatPerBTC / 1_000_000},
		{'n', msatPerBTC / 1_000_000_000}} {
		if msat%u.per == 0 {
			if s := strconv.FormatInt(msat/u.per, 10) + string(u.unit); len(s) < len(best) {
				best = s
			}
		}
	}
	return best
}

// uint5sOf writes n in exactly k 5-bit groups, big-endian.
func uint5sOf(n uint64, k int) []byte {
	out := make([]byte, k)
	for i := k - 1; i >= 0; i-- {
		out[i] = byte(n & 31)
		n >>= 5
	}
	return out
}

// minimalUint5s writes n in as few 5-bit groups as hold it.
func minimalUint5s(n uint64) []byte {
	k := 1
	for m := n >> 5; m > 0; m >>= 5 {
		k++
	}
	return uint5sOf(n, k)
}
