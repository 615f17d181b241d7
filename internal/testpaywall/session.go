package testpaywall

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
)

// session is one Payment session the paywall holds.
type session struct {
	balance       int64
	returnInvoice string
	closed        bool
}

// SessionCounts are what the paywall saw of sessions: opens, requests
// served from a balance (the open's included), top-ups, closes, and the
// refund sats paid.
type SessionCounts struct {
	Opens, Draws, TopUps, Closes int
	RefundedSat                  int64
}

// SetSessions makes the next 402s with the Payment scheme on offer a
// session challenge too, whose deposit is the price times multiplier (0
// turns sessions off).
func (p *Paywall) SetSessions(multiplier int64) {
	p.mu.Lock()
	p.multiplier = multiplier
	if p.sessions == nil {
		p.sessions = map[l402.Hash]*session{}
	}
	p.mu.Unlock()
}

// Sessions returns what the paywall saw of sessions.
func (p *Paywall) Sessions() SessionCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessionCounts
}

// SessionBalance returns a session's balance at the paywall, and false
// when it holds no such session.
func (p *Paywall) SessionBalance(id l402.Hash) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[id]
	if !ok {
		return 0, false
	}
	return s.balance, true
}

// CloseSessionHere closes a session at the paywall without a refund, as
// an idle timeout would.
func (p *Paywall) CloseSessionHere(id l402.Hash) {
	p.mu.Lock()
	if s, ok := p.sessions[id]; ok {
		s.closed = true
	}
	p.mu.Unlock()
}

// session answers a request with a session credential: ok says it is
// answered (served, or topUp's and close's own answers); otherwise prob
// is the refusal's problem, to be sent with fresh challenges. A request
// without a session credential is neither.
func (p *Paywall) session(w http.ResponseWriter, r *http.Request,
	body []byte) (bool, *mpp.Problem) {

	h := http.Header{}
	for _, v := range r.Header.Values("Authorization") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if strings.EqualFold(scheme, mpp.Scheme) {
			h.Add("Authorization", v)
		}
	}
	cred, err := mpp.ParseCredential(h)
	if err != nil || cred.Challenge.Intent != mpp.IntentSession {
		return false, nil
	}
	p.mu.Lock()
	p.credentials = append(p.credentials, h.Get("Authorization"))
	p.fields = append(p.fields, "Authorization")
	p.mu.Unlock()
	now := time.Now()
	g, err := p.verifier.Session(cred, now)
	refuse := func(err error) (bool, *mpp.Problem) {
		prob := mpp.ProblemFor(err)
		prob.ChallengeID = cred.Challenge.ID
		return false, &prob
	}
	if err != nil {
		return refuse(err)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sessions[g.SessionID]
	switch g.Action {
	case mpp.ActionOpen:
		if p.claimed[g.DepositHash] {
			return refuse(mpp.ErrReused)
		}
		nets, derr := lightning.InvoiceNetworks(g.ReturnInvoice)
		var ret lightning.PayReq
		if derr == nil {
			ret, derr = lightning.DecodeInvoice(g.ReturnInvoice, nets[0])
		}
		if derr != nil || ret.AmountMsat != 0 {
			return refuse(mpp.ErrBadReturnInvoice)
		}
		p.claimed[g.DepositHash] = true
		p.sessions[g.SessionID] = &session{
			balance:       g.DepositSat - g.UnitPriceSat,
			returnInvoice: g.ReturnInvoice}
		p.sessionCounts.Opens++
		p.sessionCounts.Draws++

	case mpp.ActionBearer:
		switch {
		case s == nil:
			return refuse(mpp.ErrUnknownSession)
		case s.closed:
			return refuse(mpp.ErrSessionClosed)
		case s.balance < g.UnitPriceSat:
			return refuse(mpp.ErrInsufficient)
		}
		s.balance -= g.UnitPriceSat
		p.sessionCounts.Draws++

	case mpp.ActionTopUp:
		switch {
		case s == nil:
			return refuse(mpp.ErrUnknownSession)
		case s.closed:
			return refuse(mpp.ErrSessionClosed)
		case p.claimed[g.DepositHash]:
			return refuse(mpp.ErrReused)
		}
		p.claimed[g.DepositHash] = true
		s.balance += g.DepositSat
		p.sessionCounts.TopUps++
		p.receiptFor(w, g)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
		return true, nil

	case mpp.ActionClose:
		switch {
		case s == nil:
			return refuse(mpp.ErrUnknownSession)
		case s.closed:
			return refuse(mpp.ErrSessionClosed)
		}
		s.closed = true
		refund, status := s.balance, mpp.RefundSkipped
		if refund > 0 {
			status = mpp.RefundSucceeded
			_, err := p.Seller.Pay(r.Context(), lightning.PayRequest{
				PaymentRequest: s.returnInvoice, AmountSat: refund,
				MaxFeeSat: 10, Timeout: time.Minute})
			if err != nil {
				status = mpp.RefundFailed
			} else {
				p.sessionCounts.RefundedSat += refund
			}
		}
		s.balance = 0
		p.sessionCounts.Closes++
		receipt := mpp.NewReceipt(g.SessionID.String(), g.ChallengeID, now)
		receipt.RefundSats, receipt.RefundStatus = &refund, status
		v, _ := receipt.Header()
		w.Header().Set(mpp.HeaderReceipt, v)
		b, _ := mpp.Canonical(mpp.CloseReply{Status: "closed",
			RefundSats: refund, RefundStatus: status})
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return true, nil

	default:
		return refuse(errors.New("unknown action"))
	}
	p.receiptFor(w, g)
	p.served++
	p.lastBody = string(body)
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "paid content for "+r.Method)
	return true, nil
}

// receiptFor sets the Payment-Receipt of a session action. The lock is
// held.
func (p *Paywall) receiptFor(w http.ResponseWriter, g mpp.SessionGrant) {
	v, _ := mpp.NewReceipt(g.SessionID.String(), g.ChallengeID,
		time.Now()).Header()
	w.Header().Set(mpp.HeaderReceipt, v)
}

// sessionChallenge mints a deposit invoice of price times the multiplier
// and the session challenge for it, bound to the service (any path of it
// draws from the session).
func (p *Paywall) sessionChallenge(r *http.Request, price,
	multiplier int64, expiry time.Duration) (string, error) {

	deposit := price * multiplier
	inv, err := p.Seller.AddInvoice(r.Context(), lightning.InvoiceRequest{
		AmountSat: deposit, Memo: Service + " session", Expiry: expiry})
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.issued = append(p.issued, inv.PaymentHash)
	ttl := p.chargeTTL
	p.mu.Unlock()
	req, err := mpp.EncodeRequest(mpp.SessionRequest{
		Amount: mpp.FormatAmount(price), Currency: mpp.CurrencySat,
		UnitType: "request", DepositInvoice: inv.PaymentRequest,
		DepositAmount: mpp.FormatAmount(deposit),
		PaymentHash:   inv.PaymentHash.String(), IdleTimeout: "300"})
	if err != nil {
		return "", err
	}
	opaque, _ := mpp.EncodeOpaque(map[string]string{"service": Service})
	ch, err := mpp.Bind(p.verifier.Secret, mpp.Challenge{Realm: Realm,
		Method: mpp.MethodLightning, Intent: mpp.IntentSession,
		Request: req, Opaque: opaque,
		Expires: mpp.FormatExpires(time.Now().Add(ttl))})
	if err != nil {
		return "", err
	}
	return ch.WWWAuthenticate()
}
