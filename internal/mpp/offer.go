package mpp

import (
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
)

// Offer is a charge challenge a buyer has vetted: its decoded request and
// what the invoice must match. The invoice itself is vetted by the caller
// with a full BOLT11 decode, as for L402, and then held against the offer
// with CheckInvoice.
type Offer struct {
	Challenge Challenge
	Request   ChargeRequest

	// Invoice is the BOLT11 invoice to pay.
	Invoice string

	// AmountSat is the request's price.
	AmountSat int64

	// PaymentHash is the request's payment hash, when HasHash.
	PaymentHash l402.Hash
	HasHash     bool

	// Expires is the challenge's expiry; zero when it has none.
	Expires time.Time
}

// VetCharge checks a Payment challenge a buyer might pay at time now: the
// lightning method and the charge intent, a request that decodes (a
// positive amount in sats, an invoice, a well-formed payment hash), an
// expiry (when present) still ahead, and an amount no higher than maxSat.
func VetCharge(ch Challenge, maxSat int64, now time.Time) (Offer, error) {
	if ch.Method != MethodLightning || ch.Intent != IntentCharge {
		return Offer{}, fmt.Errorf("%w: method %q intent %q, want %s "+
			"%s", ErrUnsupported, truncate(ch.Method),
			truncate(ch.Intent), MethodLightning, IntentCharge)
	}
	if err := ch.complete(); err != nil {
		return Offer{}, err
	}
	req, err := DecodeChargeRequest(ch.Request)
	if err != nil {
		return Offer{}, err
	}
	o := Offer{Challenge: ch, Request: req,
		Invoice: req.MethodDetails.Invoice}
	o.AmountSat, _ = req.AmountSat()
	o.PaymentHash, o.HasHash, _ = req.PaymentHash()

	expires, ok, err := ch.ExpiresAt()
	if err != nil {
		return Offer{}, err
	}
	if ok {
		o.Expires = expires
		if !now.Before(expires) {
			return o, fmt.Errorf("%w at %s", ErrExpired, ch.Expires)
		}
	}
	if o.AmountSat > maxSat {
		return o, fmt.Errorf("%w: %d sat is above %d sat",
			ErrOverBudget, o.AmountSat, maxSat)
	}
	return o, nil
}

// CheckInvoice holds the decoded invoice's payment hash, amount and
// network against the offer's request: the hash must be the request's
// (ErrHashMismatch), the amount exactly the request's, and the network,
// when the request names one, the invoice's (ErrRequestMismatch). The
// invoice is authoritative, and a request that disagrees with it is
// refused rather than trusted.
func (o Offer) CheckInvoice(hash l402.Hash, amountMsat int64,
	network string) error {

	if o.HasHash && hash != o.PaymentHash {
		return fmt.Errorf("%w: the invoice's is %s, the request's %s",
			ErrHashMismatch, hash, o.PaymentHash)
	}
	if amountMsat != o.AmountSat*1000 {
		return fmt.Errorf("%w: the invoice asks %d msat, the request "+
			"%d sat", ErrRequestMismatch, amountMsat, o.AmountSat)
	}
	if n := o.Request.MethodDetails.Network; n != "" &&
		!sameNetwork(n, network) {

		return fmt.Errorf("%w: the invoice is for %s, the request "+
			"says %s", ErrRequestMismatch, network, truncate(n))
	}
	return nil
}

// sameNetwork compares a request's network name with l402's name for the
// invoice's network. The drafts name mainnet, regtest and signet; testnet
// (testnet3 or testnet4, which share a BOLT11 prefix) is matched too.
func sameNetwork(request, invoice string) bool {
	if request == invoice {
		return true
	}
	return request == "testnet" && invoice == "testnet4"
}

// Credential returns the charge credential for the offer once its invoice
// is paid, after checking that preimage is the payment's.
func (o Offer) Credential(preimage l402.Preimage) (Credential, error) {
	if o.HasHash && preimage.Hash() != o.PaymentHash {
		return Credential{}, fmt.Errorf("%w: the payment's preimage is "+
			"not the request's", ErrBadPreimage)
	}
	return ChargeCredential(o.Challenge, preimage)
}
