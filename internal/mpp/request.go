package mpp

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/l402/l402/internal/l402"
)

// ChargeRequest is the request of a lightning charge challenge
// (draft-lightning-charge-00): a BOLT11 invoice and what it asks for.
type ChargeRequest struct {
	// Amount is the price in sats, a decimal string.
	Amount string `json:"amount"`

	// Currency is "sat".
	Currency string `json:"currency"`

	// Description, Recipient and ExternalID are optional and
	// informational.
	Description string `json:"description,omitempty"`
	Recipient   string `json:"recipient,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`

	// MethodDetails holds the invoice.
	MethodDetails ChargeDetails `json:"methodDetails"`
}

// ChargeDetails are the Lightning fields of a charge request. The invoice
// is authoritative; the payment hash and the network, when present, must
// be the invoice's.
type ChargeDetails struct {
	Invoice     string `json:"invoice"`
	PaymentHash string `json:"paymentHash,omitempty"`
	Network     string `json:"network,omitempty"`
}

// SessionRequest is the request of a lightning session challenge
// (draft-lightning-session-00): the price of one unit and, for opening or
// topping up, a deposit invoice.
type SessionRequest struct {
	// Amount is the price of one unit (one request here) in sats.
	Amount string `json:"amount"`

	// Currency is "sat".
	Currency string `json:"currency"`

	Description string `json:"description,omitempty"`
	UnitType    string `json:"unitType,omitempty"`

	// DepositInvoice is the BOLT11 invoice that opens or tops up a
	// session; DepositAmount is its amount in sats.
	DepositInvoice string `json:"depositInvoice,omitempty"`
	DepositAmount  string `json:"depositAmount,omitempty"`

	// PaymentHash is the deposit invoice's payment hash, lower-case hex.
	PaymentHash string `json:"paymentHash"`

	// IdleTimeout is how long, in seconds, the server keeps an idle
	// session open.
	IdleTimeout string `json:"idleTimeout,omitempty"`
}

// EncodeRequest returns a request as the challenge's request parameter:
// the base64url of its JCS JSON.
func EncodeRequest(v any) (string, error) {
	return encodeJSON(v)
}

// DecodeChargeRequest decodes and checks a charge request: I-JSON, a
// positive amount in sats, currency "sat", an invoice, and a payment hash
// (when present) in lower-case hex.
func DecodeChargeRequest(s string) (ChargeRequest, error) {
	var r ChargeRequest
	if err := decodeJSON(s, &r); err != nil {
		return ChargeRequest{}, fmt.Errorf("%w: request: %v",
			ErrMalformed, err)
	}
	if _, err := r.AmountSat(); err != nil {
		return ChargeRequest{}, err
	}
	if r.Currency != CurrencySat {
		return ChargeRequest{}, fmt.Errorf("%w: currency %q, not %q",
			ErrUnsupported, truncate(r.Currency), CurrencySat)
	}
	if r.MethodDetails.Invoice == "" {
		return ChargeRequest{}, fmt.Errorf("%w: request has no "+
			"methodDetails.invoice", ErrMalformed)
	}
	if h := r.MethodDetails.PaymentHash; h != "" {
		if _, err := parseHash(h); err != nil {
			return ChargeRequest{}, err
		}
	}
	return r, nil
}

// AmountSat returns the amount in sats.
func (r ChargeRequest) AmountSat() (int64, error) {
	return ParseAmount(r.Amount)
}

// PaymentHash returns the request's payment hash, and false when it names
// none.
func (r ChargeRequest) PaymentHash() (l402.Hash, bool, error) {
	if r.MethodDetails.PaymentHash == "" {
		return l402.Hash{}, false, nil
	}
	h, err := parseHash(r.MethodDetails.PaymentHash)
	return h, err == nil, err
}

// DecodeSessionRequest decodes and checks a session request: I-JSON, a
// positive unit price in sats, currency "sat", a payment hash in
// lower-case hex, and a deposit amount (when present) that is a positive
// amount in sats.
func DecodeSessionRequest(s string) (SessionRequest, error) {
	var r SessionRequest
	if err := decodeJSON(s, &r); err != nil {
		return SessionRequest{}, fmt.Errorf("%w: request: %v",
			ErrMalformed, err)
	}
	if _, err := ParseAmount(r.Amount); err != nil {
		return SessionRequest{}, err
	}
	if r.Currency != CurrencySat {
		return SessionRequest{}, fmt.Errorf("%w: currency %q, not %q",
			ErrUnsupported, truncate(r.Currency), CurrencySat)
	}
	if _, err := parseHash(r.PaymentHash); err != nil {
		return SessionRequest{}, err
	}
	if r.DepositAmount != "" {
		if _, err := ParseAmount(r.DepositAmount); err != nil {
			return SessionRequest{}, err
		}
	}
	return r, nil
}

// ParseAmount reads an amount in sats as the drafts write it: a decimal
// string of a positive integer, without sign, leading zeros or spaces,
// that fits in an int64.
func ParseAmount(s string) (int64, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: amount %q %s", ErrMalformed, truncate(s),
			why)
	}
	if s == "" {
		return 0, bad("is empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad("is not a decimal integer")
		}
	}
	if s[0] == '0' {
		return 0, bad("is not positive, or has a leading zero")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, bad("is too large")
	}
	return n, nil
}

// FormatAmount writes an amount in sats as the drafts do.
func FormatAmount(sat int64) string { return strconv.FormatInt(sat, 10) }

// parseHash reads a payment hash or preimage as the drafts write it: 64
// lower-case hex characters.
func parseHash(s string) (l402.Hash, error) {
	if !isLowerHex(s, 2*l402.HashSize) {
		return l402.Hash{}, fmt.Errorf("%w: %q is not 64 lower-case hex "+
			"characters", ErrMalformed, truncate(s))
	}
	var h l402.Hash
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return l402.Hash{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return h, nil
}

// isLowerHex reports whether s is n lower-case hex characters.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// EncodeOpaque returns server-defined correlation data as the challenge's
// opaque parameter: the base64url of the JCS JSON of a flat object of
// strings, as draft-httpauth-payment-01 requires.
func EncodeOpaque(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	return encodeJSON(m)
}

// DecodeOpaque reads an opaque parameter back; "" is no data.
func DecodeOpaque(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := decodeJSON(s, &m); err != nil {
		return nil, fmt.Errorf("%w: opaque: %v", ErrMalformed, err)
	}
	return m, nil
}
