package mpp

import (
	"fmt"
	"time"
)

// The refund outcomes of a session close.
const (
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
	RefundSkipped   = "skipped"
)

// Receipt is the Payment-Receipt of a paid response: status "success",
// the method, the settlement time, and the reference (the payment hash,
// or the session id, in hex; never the preimage). A session close adds
// the refund.
type Receipt struct {
	Status       string `json:"status"`
	Method       string `json:"method"`
	Timestamp    string `json:"timestamp"`
	Reference    string `json:"reference"`
	ChallengeID  string `json:"challengeId,omitempty"`
	RefundSats   *int64 `json:"refundSats,omitempty"`
	RefundStatus string `json:"refundStatus,omitempty"`
}

// NewReceipt returns the receipt of a lightning payment settled at t.
func NewReceipt(reference, challengeID string, t time.Time) Receipt {
	return Receipt{Status: "success", Method: MethodLightning,
		Timestamp: FormatExpires(t), Reference: reference,
		ChallengeID: challengeID}
}

// Header returns the receipt as the Payment-Receipt value: the base64url
// of its JCS JSON.
func (r Receipt) Header() (string, error) { return encodeJSON(r) }

// ParseReceipt decodes a Payment-Receipt value.
func ParseReceipt(s string) (Receipt, error) {
	var r Receipt
	if err := decodeJSON(s, &r); err != nil {
		return Receipt{}, fmt.Errorf("%w: receipt: %v", ErrMalformed, err)
	}
	if r.Status != "success" || r.Method == "" || r.Reference == "" {
		return Receipt{}, fmt.Errorf("%w: receipt lacks status "+
			"\"success\", a method or a reference", ErrMalformed)
	}
	return r, nil
}
