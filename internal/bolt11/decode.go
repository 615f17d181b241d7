package bolt11

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// MaxLength is the longest payment request decoded: what one QR code
// holds, as in lnd.
const MaxLength = 7089

// DefaultExpiry is an invoice's expiry when it names none (BOLT 11).
const DefaultExpiry = time.Hour

// maxExpirySeconds is the longest expiry a time.Duration holds.
const maxExpirySeconds = int64(1<<63-1) / int64(time.Second)

// DefaultMinFinalCLTV is the final CLTV delta lnd assumes when an
// invoice names none (BOLT 02's recommendation; BOLT 11 says 18).
const DefaultMinFinalCLTV = 24

// Invoice is a decoded payment request.
type Invoice struct {
	// Prefix is the network's part of the human-readable prefix
	// after "ln": "bc", "tb", "bcrt", "tbs", "sb".
	Prefix string

	// AmountMsat is the amount, when HasAmount.
	AmountMsat int64
	HasAmount  bool

	Timestamp   time.Time
	PaymentHash [32]byte

	// PaymentSecret is the s field, when HasPaymentSecret.
	PaymentSecret    [32]byte
	HasPaymentSecret bool

	// Description or DescriptionHash: exactly one is set.
	Description     *string
	DescriptionHash *[32]byte

	// Payee is the node that signed the invoice: its n field, or the
	// key recovered from the signature.
	Payee *btcec.PublicKey

	Expiry       time.Duration
	MinFinalCLTV uint64

	// Features are the feature bits set, in increasing order.
	Features []int

	// HighS tells that the signature is not in lower-S form, which
	// BOLT 11 says a reader must fail and lnd accepts.
	HighS bool
}

// UnknownRequired returns the even feature bits set that lnd does not
// know: BOLT 11 says a payer must not pay such an invoice.
func (inv *Invoice) UnknownRequired() []int {
	var out []int
	for _, bit := range inv.Features {
		if bit%2 == 0 && !known(bit) {
			out = append(out, bit)
		}
	}
	return out
}

// The tagged fields' types (BOLT 11), as their 5-bit values.
const (
	fieldPaymentHash     = 1  // p
	fieldRouteHint       = 3  // r
	fieldFeatures        = 5  // 9
	fieldExpiry          = 6  // x
	fieldFallback        = 9  // f
	fieldDescription     = 13 // d
	fieldPaymentSecret   = 16 // s
	fieldPayee           = 19 // n
	fieldBlindedPath     = 20 // b
	fieldDescriptionHash = 23 // h
	fieldMinFinalCLTV    = 24 // c
	fieldMetadata        = 27 // m
)

const (
	// signatureLen is the signature's length in 5-bit groups: 64
	// bytes of r and s and a recovery ID, 520 bits.
	signatureLen = 104

	// timestampLen is the timestamp's: 35 bits.
	timestampLen = 7

	// hashLen and pubkeyLen are a 32-byte field's and a 33-byte key's
	// data lengths; a field of another length is skipped.
	hashLen   = 52
	pubkeyLen = 53

	// hopHintLen is one route hint hop in bytes.
	hopHintLen = 51

	// maxCipherText bounds a blinded hop's encrypted data, as lnd does.
	maxCipherText = 535
)

// Errors a caller may tell apart.
var (
	ErrTooLong       = errors.New("invoice is too long")
	ErrNoPaymentHash = errors.New("invoice has no payment hash")

	// ErrAmountTooLarge: the amount does not fit in int64 msat.
	// zpay32 multiplies in 64 bits and pays what wraps; BOLT 11's
	// amount is the number written, so Decode refuses it.
	ErrAmountTooLarge = errors.New("amount too large")

	// ErrAmountTooSmall: a pico-bitcoin amount below 10p, which zpay32
	// refuses (BOLT 11 allows 0p; lnd could not pay it).
	ErrAmountTooSmall = errors.New("amount below 10p")

	// ErrExpiryTooLarge: the x field's seconds do not fit in a
	// time.Duration. zpay32 multiplies them into nanoseconds and
	// wraps: 2^55+600 seconds reads as 600. BOLT 11's expiry is the
	// number written, so Decode refuses it.
	ErrExpiryTooLarge = errors.New("expiry too large")

	// ErrRecoveryID: the signature's recovery ID is not 0, 1, 2 or 3
	// (BOLT 11). zpay32 adds 31 to the byte and btcec reads the sum
	// modulo 256, so 252 passes as 0: another string for one invoice.
	ErrRecoveryID = errors.New("signature recovery ID is not 0-3")
)

// Decode decodes a payment request, checks its signature and returns
// what it says. The network is the caller's to check, with Prefix.
func Decode(payReq string) (*Invoice, error) {
	if len(payReq) > MaxLength {
		return nil, ErrTooLong
	}
	hrp, data, version, err := bech32.DecodeNoLimitWithVersion(payReq)
	if err != nil {
		return nil, err
	}
	if version != bech32.Version0 {
		return nil, errors.New("not a bech32 checksum (bech32m?)")
	}
	if len(hrp) < 3 || hrp[:2] != "ln" {
		return nil, errors.New(`prefix should be "ln" and a network`)
	}

	inv := &Invoice{Expiry: DefaultExpiry, MinFinalCLTV: DefaultMinFinalCLTV}
	prefix, amount := splitPrefix(hrp[2:])
	inv.Prefix = prefix
	if amount != "" {
		if inv.AmountMsat, err = decodeAmount(amount); err != nil {
			return nil, err
		}
		inv.HasAmount = true
	}

	if len(data) < signatureLen {
		return nil, errors.New("short invoice")
	}
	fields := data[:len(data)-signatureLen]
	if len(fields) < timestampLen {
		return nil, fmt.Errorf("data too short: %d", len(fields))
	}
	inv.Timestamp = time.Unix(int64(uint5s(fields[:timestampLen])), 0)
	if err := inv.readFields(fields[timestampLen:]); err != nil {
		return nil, err
	}

	if err := inv.checkSignature(hrp, fields,
		data[len(data)-signatureLen:]); err != nil {
		return nil, err
	}
	return inv, inv.validate()
}

// splitPrefix splits what follows "ln" into the network's prefix and
// the amount: the prefix is the letters before the first digit.
func splitPrefix(s string) (prefix, amount string) {
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// msatPerBTC is how many millisatoshis one bitcoin is.
const msatPerBTC = 100_000_000_000

// decodeAmount reads the amount of the prefix: a number of bitcoin, or
// of milli-, micro-, nano- or pico-bitcoin with its letter after it. A
// pico amount must be a whole number of millisatoshis.
func decodeAmount(s string) (int64, error) {
	unit := s[len(s)-1]
	if unit >= '0' && unit <= '9' {
		btc, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, err
		}
		return mulMsat(btc, msatPerBTC)
	}
	num := s[:len(s)-1]
	if num == "" {
		return 0, errors.New("amount: number must be non-empty")
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, err
	}
	switch unit {
	case 'm':
		return mulMsat(n, msatPerBTC/1_000)
	case 'u':
		return mulMsat(n, msatPerBTC/1_000_000)
	case 'n':
		return mulMsat(n, msatPerBTC/1_000_000_000)
	case 'p':
		if n < 10 {
			return 0, fmt.Errorf("%w: %sp", ErrAmountTooSmall, num)
		}
		if n%10 != 0 {
			return 0, fmt.Errorf("amount %sp is not a whole number of "+
				"millisatoshis", num)
		}
		return mulMsat(n/10, 1)
	}
	return 0, fmt.Errorf("unknown multiplier %c", unit)
}

// mulMsat returns n*per millisatoshis, refusing an overflow.
func mulMsat(n, per uint64) (int64, error) {
	if n > (1<<63-1)/per {
		return 0, ErrAmountTooLarge
	}
	return int64(n * per), nil
}

// readFields reads the tagged fields. Of each field but r and b only
// the first of a supported length counts, as BOLT 11 has a reader skip
// the others; unknown fields are skipped.
func (inv *Invoice) readFields(f []byte) error {
	var sawHash, sawSecret, sawDesc, sawMeta, sawPayee, sawDescHash,
		sawExpiry, sawCLTV, sawFallback, sawFeatures bool
	routeHints, blindedPaths := 0, 0
	for len(f) > 0 {
		if len(f) < 3 {
			return errors.New("last tagged field is broken")
		}
		typ, n := f[0], int(f[1])<<5|int(f[2])
		if len(f) < 3+n {
			return errors.New("invalid field length")
		}
		v := f[3 : 3+n]
		f = f[3+n:]

		switch typ {
		case fieldPaymentHash:
			if !sawHash && n == hashLen {
				if err := read32(v, &inv.PaymentHash); err != nil {
					return err
				}
				sawHash = true
			}

		case fieldPaymentSecret:
			if !sawSecret && n == hashLen {
				if err := read32(v, &inv.PaymentSecret); err != nil {
					return err
				}
				sawSecret, inv.HasPaymentSecret = true, true
			}

		case fieldDescription:
			if sawDesc {
				continue
			}
			b, err := bytes8(v)
			if err != nil {
				return err
			}
			if !utf8.Valid(b) {
				return errors.New("description is not valid UTF-8")
			}
			d := string(b)
			inv.Description, sawDesc = &d, true

		case fieldMetadata:
			if sawMeta {
				continue
			}
			if _, err := bytes8(v); err != nil {
				return err
			}
			sawMeta = true

		case fieldPayee:
			if sawPayee || n != pubkeyLen {
				continue
			}
			b, err := bytes8(v)
			if err != nil {
				return err
			}
			if inv.Payee, err = btcec.ParsePubKey(b); err != nil {
				return err
			}
			sawPayee = true

		case fieldDescriptionHash:
			if !sawDescHash && n == hashLen {
				var h [32]byte
				if err := read32(v, &h); err != nil {
					return err
				}
				inv.DescriptionHash, sawDescHash = &h, true
			}

		case fieldExpiry:
			if sawExpiry {
				continue
			}
			secs, err := uint5sChecked(v)
			if err != nil {
				return err
			}
			// BOLT 11 wins over zpay32, which wraps (ErrExpiryTooLarge).
			if secs > uint64(maxExpirySeconds) {
				return fmt.Errorf("%w: %d s", ErrExpiryTooLarge, secs)
			}
			inv.Expiry, sawExpiry = time.Duration(secs)*time.Second, true

		case fieldMinFinalCLTV:
			if sawCLTV {
				continue
			}
			c, err := uint5sChecked(v)
			if err != nil {
				return err
			}
			inv.MinFinalCLTV, sawCLTV = c, true

		case fieldFallback:
			if sawFallback {
				continue
			}
			ok, err := checkFallback(v)
			if err != nil {
				return err
			}
			// An unknown version leaves no address: a later
			// fallback field may still be read.
			sawFallback = ok

		case fieldRouteHint:
			if err := checkRouteHint(v); err != nil {
				return err
			}
			routeHints++

		case fieldFeatures:
			if sawFeatures {
				continue
			}
			inv.Features, sawFeatures = featureBits(v, 5), true

		case fieldBlindedPath:
			b, err := bytes8(v)
			if err != nil {
				return err
			}
			if err := checkBlindedPath(b); err != nil {
				return err
			}
			blindedPaths++
		}
	}
	if !sawHash {
		return ErrNoPaymentHash
	}
	if routeHints > 0 && blindedPaths > 0 {
		return errors.New("cannot have both route hints and blinded " +
			"payment paths")
	}
	return nil
}

// validate checks what the fields must be together.
func (inv *Invoice) validate() error {
	switch {
	case inv.Description != nil && inv.DescriptionHash != nil:
		return errors.New("both description and description hash set")
	case inv.Description == nil && inv.DescriptionHash == nil:
		return errors.New("neither description nor description hash set")
	}
	return nil
}

// checkSignature verifies the signature over the prefix and the fields
// (SHA-256 of the prefix's bytes and the fields' bits, padded to bytes)
// against the payee's key, or recovers that key from it, and notes a
// signature not in lower-S form.
func (inv *Invoice) checkSignature(hrp string, fields, sig5 []byte) error {
	sig, err := bech32.ConvertBits(sig5, 5, 8, true)
	if err != nil {
		return err
	}
	body, err := bech32.ConvertBits(fields, 5, 8, true)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(append([]byte(hrp), body...))

	var r, s btcec.ModNScalar
	if r.SetByteSlice(sig[:32]) {
		return errors.New("signature r is not below the curve order")
	}
	if s.SetByteSlice(sig[32:64]) {
		return errors.New("signature s is not below the curve order")
	}
	inv.HighS = s.IsOverHalfOrder()

	// BOLT 11 wins over zpay32, which lets btcec read 252 as 0
	// (ErrRecoveryID), even beside an n field, where it is unused.
	if sig[64] > 3 {
		return fmt.Errorf("%w: %d", ErrRecoveryID, sig[64])
	}

	if inv.Payee != nil {
		if !ecdsa.NewSignature(&r, &s).Verify(digest[:], inv.Payee) {
			return errors.New("invalid invoice signature")
		}
		return nil
	}
	compact := make([]byte, 65)
	compact[0] = sig[64] + 27 + 4
	copy(compact[1:], sig[:64])
	payee, _, err := ecdsa.RecoverCompact(compact, digest[:])
	if err != nil {
		return err
	}
	inv.Payee = payee
	return nil
}

// bytes8 regroups 5-bit groups into bytes; the bits left over must be
// fewer than 5, and zero.
func bytes8(v []byte) ([]byte, error) {
	return bech32.ConvertBits(v, 5, 8, false)
}

// read32 reads a 52-group field into 32 bytes.
func read32(v []byte, out *[32]byte) error {
	b, err := bytes8(v)
	if err != nil {
		return err
	}
	copy(out[:], b)
	return nil
}

// uint5s reads 5-bit groups as a big-endian number.
func uint5s(v []byte) uint64 {
	n := uint64(0)
	for _, g := range v {
		n = n<<5 | uint64(g)
	}
	return n
}

// uint5sChecked is uint5s for at most 13 groups, as lnd reads them.
func uint5sChecked(v []byte) (uint64, error) {
	if len(v) > 13 {
		return 0, fmt.Errorf("cannot parse data of length %d as uint64",
			len(v))
	}
	return uint5s(v), nil
}

// featureBits returns the bits set in a feature field whose groups
// (bytes) hold width bits each, the last group the lowest bits.
func featureBits(v []byte, width int) []int {
	var bits []int
	for i := range len(v) * width {
		if v[len(v)-1-i/width]>>(i%width)&1 == 1 {
			bits = append(bits, i)
		}
	}
	return bits
}

// checkFallback checks a fallback address field as lnd reads it:
// witness version 0 with a 20- or 32-byte program, taproot (version 1)
// with 32 bytes, P2PKH (17) or P2SH (18) with 20; other versions are
// skipped. It reports whether the field held an address.
func checkFallback(v []byte) (bool, error) {
	if len(v) < 2 {
		return false, errors.New("empty fallback address field")
	}
	version := v[0]
	switch version {
	case 0, 1, 17, 18:
	default:
		return false, nil
	}
	prog, err := bytes8(v[1:])
	if err != nil {
		return false, err
	}
	switch {
	case version == 0 && (len(prog) == 20 || len(prog) == 32),
		version == 1 && len(prog) == 32,
		version >= 17 && len(prog) == 20:
		return true, nil
	}
	return false, fmt.Errorf("fallback address version %d with a %d-byte "+
		"program", version, len(prog))
}

// checkRouteHint checks a route hint: one or more hops of 51 bytes, each
// starting with a valid node key.
func checkRouteHint(v []byte) error {
	b, err := bytes8(v)
	if err != nil {
		return err
	}
	if len(b)%hopHintLen != 0 {
		return errors.New("route hint length is not a multiple of the " +
			"hop hint length")
	}
	if len(b) == 0 {
		return errors.New("route hint field contains no hop data")
	}
	for ; len(b) > 0; b = b[hopHintLen:] {
		if _, err := btcec.ParsePubKey(b[:33]); err != nil {
			return err
		}
	}
	return nil
}

// checkBlindedPath checks a blinded payment path as lnd reads it: relay
// fees and limits (26 bytes), a feature vector, the first blinding
// point, and its hops (a node key, a BigSize length, the encrypted
// data). Like lnd, it reads short at the end of the field without
// failing at once.
func checkBlindedPath(b []byte) error {
	r := &shortReader{b: b}
	if _, err := r.full(26); err != nil {
		return err
	}
	l, err := r.full(2)
	if err != nil {
		return err
	}
	if _, err := r.full(int(binary.BigEndian.Uint16(l))); err != nil {
		return err
	}
	point, err := r.short(33)
	if err != nil {
		return err
	}
	if _, err := btcec.ParsePubKey(point); err != nil {
		return err
	}
	hops, err := r.short(1)
	if err != nil {
		return err
	}
	for range int(hops[0]) {
		node, err := r.short(33)
		if err != nil {
			return err
		}
		if _, err := btcec.ParsePubKey(node); err != nil {
			return err
		}
		n, err := r.bigSize()
		if err != nil {
			return err
		}
		if n > maxCipherText {
			return fmt.Errorf("a blinded hop cipher text may not exceed "+
				"%d bytes", maxCipherText)
		}
		if _, err := r.short(int(n)); err != nil {
			return err
		}
	}
	return nil
}

// shortReader reads a byte slice as lnd's decoder reads a bytes.Reader:
// full reads fail at the end, short reads (Read into an array) return
// what is left and fail only when nothing is.
type shortReader struct {
	b []byte
}

// errEnd is a read at the end of a blinded path.
var errEnd = errors.New("blinded path: unexpected end")

// full returns the next n bytes, or an error when fewer are left.
func (r *shortReader) full(n int) ([]byte, error) {
	if len(r.b) < n {
		return nil, errEnd
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

// short returns a buffer of n bytes filled with as many as are left
// (zeros after them), or an error when none is left, even for n 0.
func (r *shortReader) short(n int) ([]byte, error) {
	if len(r.b) == 0 {
		return nil, errEnd
	}
	out := make([]byte, n)
	k := copy(out, r.b)
	r.b = r.b[k:]
	return out, nil
}

// bigSize reads a canonical BigSize integer.
func (r *shortReader) bigSize() (uint64, error) {
	d, err := r.full(1)
	if err != nil {
		return 0, err
	}
	var n uint64
	var min uint64
	switch d[0] {
	case 0xfd:
		b, err := r.full(2)
		if err != nil {
			return 0, err
		}
		n, min = uint64(binary.BigEndian.Uint16(b)), 0xfd
	case 0xfe:
		b, err := r.full(4)
		if err != nil {
			return 0, err
		}
		n, min = uint64(binary.BigEndian.Uint32(b)), 0x10000
	case 0xff:
		b, err := r.full(8)
		if err != nil {
			return 0, err
		}
		n, min = binary.BigEndian.Uint64(b), 0x100000000
	default:
		return uint64(d[0]), nil
	}
	if n < min {
		return 0, errors.New("blinded path: BigSize not canonical")
	}
	return n, nil
}
