package fetch

import (
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
)

// vetPaymentChallenge picks the first lightning charge challenge of a
// 402 (session challenges are not bought) and checks it as docs/mpp.md
// says a buyer does: the challenge (mpp.VetCharge: a request that
// decodes, in sat, not expired), then the embedded invoice exactly as an
// L402 one (vetInvoice), held against the request: its payment hash, its
// amount and its network must be the request's.
func vetPaymentChallenge(h http.Header, network string, maxCostSat int64,
	maxExpiry time.Duration, now time.Time) (offer, error) {

	chs, err := mpp.ParseChallenges(h.Values("WWW-Authenticate"))
	if err != nil {
		return offer{}, refused(ErrInvalidChallenge, "the "+
			"server's 402 carries no usable Payment challenge: %v", err)
	}
	var ch *mpp.Challenge
	for i := range chs {
		if chs[i].Method == mpp.MethodLightning &&
			chs[i].Intent == mpp.IntentCharge {
			ch = &chs[i]
			break
		}
	}
	if ch == nil {
		return offer{}, refused(ErrInvalidChallenge, "the "+
			"server's 402 offers no lightning charge Payment challenge")
	}

	// The price is judged on the invoice, below, as for L402; the
	// request's amount must be the invoice's.
	o, err := mpp.VetCharge(*ch, math.MaxInt64, now)
	if err != nil {
		return offer{}, refused(ErrInvalidChallenge, "refusing "+
			"the Payment challenge: %v", err)
	}
	inv, err := vetInvoice(o.Invoice, network, func(
		inv lightning.PayReq) error {

		err := o.CheckInvoice(inv.PaymentHash, inv.AmountMsat, inv.Network)
		if errors.Is(err, mpp.ErrHashMismatch) ||
			errors.Is(err, mpp.ErrRequestMismatch) {
			return refused(ErrInvalidInvoice, "refusing to pay: %v", err)
		}
		return err
	}, maxCostSat, maxExpiry, now)
	if err != nil && inv == (lightning.PayReq{}) {
		return offer{}, err
	}
	return offer{scheme: SchemePayment, charge: o, invoice: inv}, err
}
