package mpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/l402/l402/internal/l402"
)

// MaxCredentialSize bounds the Authorization value a credential is read
// from. The drafts ask servers to take at least 4 KiB; a charge credential
// with a long invoice is under 2 KiB.
const MaxCredentialSize = 16 << 10

// The session actions of draft-lightning-session-00.
const (
	ActionOpen   = "open"
	ActionBearer = "bearer"
	ActionTopUp  = "topUp"
	ActionClose  = "close"
)

// Credential is a Payment credential: the challenge it answers, echoed
// unchanged, an optional payer id, and the method's proof.
type Credential struct {
	Challenge Challenge       `json:"challenge"`
	Source    string          `json:"source,omitempty"`
	Payload   json.RawMessage `json:"payload"`
}

// ChargePayload is the proof of a lightning charge: the invoice's
// preimage, in lower-case hex.
type ChargePayload struct {
	Preimage string `json:"preimage"`
}

// SessionPayload is the proof of a session action. Open carries the
// deposit's preimage and the return invoice for the refund; bearer and
// close the session id (the deposit's payment hash) and its preimage;
// topUp the session id and the new deposit's preimage.
type SessionPayload struct {
	Action        string `json:"action"`
	Preimage      string `json:"preimage,omitempty"`
	SessionID     string `json:"sessionId,omitempty"`
	ReturnInvoice string `json:"returnInvoice,omitempty"`
	TopUpPreimage string `json:"topUpPreimage,omitempty"`
}

// NewCredential returns the credential answering ch with payload.
func NewCredential(ch Challenge, payload any) (Credential, error) {
	b, err := Canonical(payload)
	if err != nil {
		return Credential{}, fmt.Errorf("payload: %w", err)
	}
	return Credential{Challenge: ch, Payload: b}, nil
}

// ChargeCredential returns the charge credential answering ch with the
// invoice's preimage.
func ChargeCredential(ch Challenge, preimage l402.Preimage) (Credential,
	error) {

	return NewCredential(ch, ChargePayload{Preimage: preimage.String()})
}

// Token returns the credential's token: the base64url of its JCS JSON.
func (c Credential) Token() (string, error) {
	if err := c.Challenge.complete(); err != nil {
		return "", err
	}
	if !isObject(c.Payload) {
		return "", fmt.Errorf("%w: payload is not a JSON object",
			ErrMalformed)
	}
	return encodeJSON(c)
}

// Authorization returns the credential as a field value: "Payment
// <token>". It goes in the field the challenge selected (Field).
func (c Credential) Authorization() (string, error) {
	tok, err := c.Token()
	if err != nil {
		return "", err
	}
	return Scheme + " " + tok, nil
}

// Field returns the request header the credential must be sent in:
// Authorization, or Payment-Authorization when its challenge selected it.
func (c Credential) Field() string {
	if c.Challenge.Header != "" {
		return c.Challenge.Header
	}
	return "Authorization"
}

// ParseCredential finds the Payment credential of a request in its
// Authorization fields (the scheme matched without regard to case).
// Fields of other schemes, such as L402, are passed over; two different
// Payment credentials are refused, since which one counts would be a
// guess. It fails with ErrNoCredential when there is none, and with
// ErrMalformed for one that is not base64url of an I-JSON object with the
// challenge's id, realm, method, intent and request and an object payload.
func ParseCredential(h http.Header) (Credential, error) {
	var token string
	for _, v := range h.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, Scheme) {
			continue
		}
		rest = strings.TrimSpace(rest)
		if token != "" && rest != token {
			return Credential{}, fmt.Errorf("%w: two different "+
				"Payment credentials", ErrMalformed)
		}
		token = rest
		if token == "" {
			return Credential{}, fmt.Errorf("%w: empty credential",
				ErrMalformed)
		}
	}
	if token == "" {
		return Credential{}, ErrNoCredential
	}
	return DecodeCredential(token)
}

// ErrNoCredential is returned by ParseCredential for a request without a
// Payment credential: a condition of the request, not a refusal.
var ErrNoCredential = errors.New("no Payment credential")

// DecodeCredential decodes a credential token.
func DecodeCredential(token string) (Credential, error) {
	if len(token) > MaxCredentialSize {
		return Credential{}, fmt.Errorf("%w: credential of %d bytes",
			ErrMalformed, len(token))
	}
	var c Credential
	if err := decodeJSON(token, &c); err != nil {
		return Credential{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := c.Challenge.complete(); err != nil {
		return Credential{}, fmt.Errorf("challenge: %w", err)
	}
	if !isObject(c.Payload) {
		return Credential{}, fmt.Errorf("%w: payload is not a JSON "+
			"object", ErrMalformed)
	}
	return c, nil
}

// ChargePayload decodes the payload of a charge credential.
func (c Credential) ChargePayload() (ChargePayload, error) {
	var p ChargePayload
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return ChargePayload{}, fmt.Errorf("%w: payload: %v",
			ErrMalformed, err)
	}
	return p, nil
}

// SessionPayload decodes the payload of a session credential.
func (c Credential) SessionPayload() (SessionPayload, error) {
	var p SessionPayload
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return SessionPayload{}, fmt.Errorf("%w: payload: %v",
			ErrMalformed, err)
	}
	return p, nil
}

// isObject reports whether b is a JSON object.
func isObject(b json.RawMessage) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
