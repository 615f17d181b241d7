// Package testpaywall is a minimal seller of the L402 and Payment (MPP)
// schemes built from their protocol cores and any lightning.Node, for the
// tests of clients: it sells one service at a price, and can be made to
// send hostile challenges.
package testpaywall

import (
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
)

// Service is the one service the paywall sells.
const Service = "svc"

// Paywall is an http.Handler that answers 402 with a real invoice from
// Seller, and the paid content to a valid token.
type Paywall struct {
	Seller lightning.Node

	// Rewrite, when set, replaces the WWW-Authenticate values of each
	// challenge; it gets the honest ones and the invoice (the L402
	// one, or the Payment charge's when L402 is off).
	Rewrite func(honest []string, inv lightning.Invoice) []string

	mu         sync.Mutex
	price      int64
	expiry     time.Duration
	rootKeys   map[l402.Identifier][]byte
	issued     []l402.Hash
	challenges int
	served     int
	lastBody   string

	// The Payment scheme's state: whether each scheme is offered, the
	// challenge secret, the charges already claimed, and what was seen.
	l402On, mppOn bool
	header        string
	chargeTTL     time.Duration
	verifier      mpp.Verifier
	rewriteCharge func(*mpp.ChargeRequest, *mpp.Challenge)
	receipt       func(string) string
	claimed       map[l402.Hash]bool
	credentials   []string
	fields        []string
	chargesServed int

	// Sessions: the deposit multiplier (0: none offered), the sessions
	// by id, and what was seen.
	multiplier    int64
	sessions      map[l402.Hash]*session
	sessionCounts SessionCounts
}

// New returns a paywall selling at price sats, with the L402 scheme.
func New(seller lightning.Node, price int64) *Paywall {
	secret := make([]byte, 32)
	rand.Read(secret)
	return &Paywall{Seller: seller, price: price, expiry: time.Hour,
		rootKeys: map[l402.Identifier][]byte{}, l402On: true,
		chargeTTL: 5 * time.Minute, claimed: map[l402.Hash]bool{},
		verifier: mpp.Verifier{Secret: secret, Realm: Realm}}
}

// Realm is the realm of the paywall's Payment challenges.
const Realm = "testpaywall"

// SetSchemes chooses the schemes of the next challenges, as serve's
// authscheme names them: "l402", "mpp" (a Payment charge challenge) or
// "l402+mpp" (LSAT, L402, then Payment, each with its own invoice, as
// Aperture v0.5.0 sends them).
func (p *Paywall) SetSchemes(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case "l402":
		p.l402On, p.mppOn = true, false
	case "mpp":
		p.l402On, p.mppOn = false, true
	case "l402+mpp":
		p.l402On, p.mppOn = true, true
	default:
		panic("testpaywall: unknown schemes " + s)
	}
}

// SetChargeTTL changes how long the next Payment challenges are valid
// (five minutes by default).
func (p *Paywall) SetChargeTTL(d time.Duration) {
	p.mu.Lock()
	p.chargeTTL = d
	p.mu.Unlock()
}

// SetCredentialHeader makes the next Payment challenges select the
// Payment-Authorization field for their credential
// (draft-httpauth-payment-01's header parameter).
func (p *Paywall) SetCredentialHeader(on bool) {
	p.mu.Lock()
	p.header = ""
	if on {
		p.header = mpp.HeaderPaymentAuthorization
	}
	p.mu.Unlock()
}

// RewriteCharge, when set, changes each Payment charge challenge and its
// request before the challenge is bound, so that its id is valid: a
// hostile request a verifier of this paywall would still accept.
func (p *Paywall) RewriteCharge(f func(*mpp.ChargeRequest, *mpp.Challenge)) {
	p.mu.Lock()
	p.rewriteCharge = f
	p.mu.Unlock()
}

// RewriteReceipt, when set, replaces the Payment-Receipt of each paid
// charge ("" sends none).
func (p *Paywall) RewriteReceipt(f func(honest string) string) {
	p.mu.Lock()
	p.receipt = f
	p.mu.Unlock()
}

// Credentials returns every Payment credential received, in order,
// repeats included; Fields the header field each came in.
func (p *Paywall) Credentials() (tokens, fields []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.credentials...),
		append([]string(nil), p.fields...)
}

// ChargesServed returns how many requests a Payment charge paid for.
func (p *Paywall) ChargesServed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.chargesServed
}

// SetExpiry changes the expiry of the next challenges' invoices (an hour
// by default).
func (p *Paywall) SetExpiry(d time.Duration) {
	p.mu.Lock()
	p.expiry = d
	p.mu.Unlock()
}

// SetPrice changes the price of the next challenges.
func (p *Paywall) SetPrice(sats int64) {
	p.mu.Lock()
	p.price = sats
	p.mu.Unlock()
}

// RootKey implements l402.RootKeyLookup.
func (p *Paywall) RootKey(id l402.Identifier) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ok := p.rootKeys[id]
	if !ok {
		return nil, l402.ErrUnknownToken
	}
	return k, nil
}

// Forget drops every root key, so that every token sold is refused.
func (p *Paywall) Forget() {
	p.mu.Lock()
	p.rootKeys = map[l402.Identifier][]byte{}
	p.mu.Unlock()
}

// Challenges returns how many 402s were sent.
func (p *Paywall) Challenges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.challenges
}

// Served returns how many paid requests were answered.
func (p *Paywall) Served() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served
}

// LastBody returns the body of the last paid request.
func (p *Paywall) LastBody() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastBody
}

// Issued returns the payment hashes of every invoice issued.
func (p *Paywall) Issued() []l402.Hash {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]l402.Hash(nil), p.issued...)
}

// ServeHTTP implements http.Handler: a request with a valid L402 token
// or an unused Payment charge credential for its path gets the content,
// any other a 402 with fresh challenges.
func (p *Paywall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	problem := mpp.PaymentRequired("payment required")
	if ok, prob := p.session(w, r, body); ok {
		return
	} else if prob != nil {
		p.challenge(w, r, *prob)
		return
	}
	switch ok, prob := p.charge(w, r); {
	case ok:
		p.serve(w, r, body)
		return
	case prob != nil:
		problem = *prob
	default:
		cred, err := l402.ParseCredential(r.Header)
		if err == nil {
			_, err = l402.Verify(cred.Macaroon, cred.Preimage, p,
				l402.Target{Service: Service, Now: time.Now()})
			if err == nil {
				p.serve(w, r, body)
				return
			}
		}
	}
	p.challenge(w, r, problem)
}

// serve answers a paid request.
func (p *Paywall) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	p.mu.Lock()
	p.served++
	p.lastBody = string(body)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "paid content for "+r.Method)
}

// charge checks the request's Payment credential, if any: ok when it
// pays for this request (its receipt is then set), else the problem of
// its refusal; neither when it carries none.
func (p *Paywall) charge(w http.ResponseWriter, r *http.Request) (bool,
	*mpp.Problem) {

	h := http.Header{}
	for _, f := range []string{"Authorization",
		mpp.HeaderPaymentAuthorization} {
		for _, v := range r.Header.Values(f) {
			h.Add("Authorization", v)
			scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
			if strings.EqualFold(scheme, mpp.Scheme) {
				p.mu.Lock()
				p.credentials = append(p.credentials, v)
				p.fields = append(p.fields, f)
				p.mu.Unlock()
			}
		}
	}
	cred, err := mpp.ParseCredential(h)
	if errors.Is(err, mpp.ErrNoCredential) {
		return false, nil
	}
	if err != nil {
		prob := mpp.ProblemFor(err)
		return false, &prob
	}
	grant, err := p.verifier.Charge(cred, time.Now())
	if err == nil && grant.Opaque["path"] != r.URL.Path {
		err = mpp.ErrTampered
	}
	if err == nil {
		p.mu.Lock()
		if p.claimed[grant.PaymentHash] {
			err = mpp.ErrReused
		}
		p.claimed[grant.PaymentHash] = true
		p.mu.Unlock()
	}
	if err != nil {
		prob := mpp.ProblemFor(err)
		prob.ChallengeID = cred.Challenge.ID
		return false, &prob
	}

	receipt, _ := mpp.NewReceipt(grant.PaymentHash.String(),
		grant.ChallengeID, time.Now()).Header()
	p.mu.Lock()
	p.chargesServed++
	if p.receipt != nil {
		receipt = p.receipt(receipt)
	}
	p.mu.Unlock()
	if receipt != "" {
		w.Header().Set(mpp.HeaderReceipt, receipt)
	}
	return true, nil
}

// challenge answers 402 with the challenges of the schemes on, each with
// an invoice of its own.
func (p *Paywall) challenge(w http.ResponseWriter, r *http.Request,
	problem mpp.Problem) {

	p.mu.Lock()
	price, expiry := p.price, p.expiry
	l402On, mppOn, multiplier := p.l402On, p.mppOn, p.multiplier
	p.challenges++
	p.mu.Unlock()

	var (
		values []string
		inv    lightning.Invoice
	)
	if l402On {
		v, i, err := p.l402Challenge(r, price, expiry)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		values, inv = v, i
	}
	if mppOn {
		v, i, err := p.chargeChallenge(r, price, expiry)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		values = append(values, v)
		if !l402On {
			inv = i
		}
	}
	if mppOn && multiplier > 0 {
		v, err := p.sessionChallenge(r, price, multiplier, expiry)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		values = append(values, v)
	}
	if p.Rewrite != nil {
		values = p.Rewrite(values, inv)
	}
	for _, v := range values {
		w.Header().Add("WWW-Authenticate", v)
	}
	if mppOn {
		w.Header().Set("Content-Type", mpp.ProblemContentType)
		w.WriteHeader(http.StatusPaymentRequired)
		w.Write(problem.JSON())
		return
	}
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
}

// l402Challenge mints an invoice and a macaroon for it: the LSAT and L402
// challenge values.
func (p *Paywall) l402Challenge(r *http.Request, price int64,
	expiry time.Duration) ([]string, lightning.Invoice, error) {

	inv, err := p.Seller.AddInvoice(r.Context(), lightning.InvoiceRequest{
		AmountSat: price, Memo: Service, Expiry: expiry})
	if err != nil {
		return nil, inv, err
	}
	rootKey := make([]byte, l402.RootKeySize)
	var tid l402.TokenID
	rand.Read(rootKey)
	rand.Read(tid[:])
	id := l402.NewIdentifier(inv.PaymentHash, tid)
	svc, _ := l402.ServicesCaveat(l402.Service{Name: Service})
	mac, err := l402.Mint(rootKey, id, svc)
	if err != nil {
		return nil, inv, err
	}
	p.mu.Lock()
	p.rootKeys[id] = rootKey
	p.issued = append(p.issued, inv.PaymentHash)
	p.mu.Unlock()
	values, err := l402.BuildChallenges(mac, inv.PaymentRequest)
	return values, inv, err
}

// chargeChallenge mints an invoice and the Payment charge challenge for
// it, bound to the request's path (as Aperture binds the resource in
// opaque).
func (p *Paywall) chargeChallenge(r *http.Request, price int64,
	expiry time.Duration) (string, lightning.Invoice, error) {

	inv, err := p.Seller.AddInvoice(r.Context(), lightning.InvoiceRequest{
		AmountSat: price, Memo: Service, Expiry: expiry})
	if err != nil {
		return "", inv, err
	}
	// The network the invoice is for (a seller's invoice macaroon may
	// not ask the node).
	nets, err := lightning.InvoiceNetworks(inv.PaymentRequest)
	if err != nil {
		return "", inv, err
	}
	p.mu.Lock()
	p.issued = append(p.issued, inv.PaymentHash)
	ttl, header, rewrite := p.chargeTTL, p.header, p.rewriteCharge
	p.mu.Unlock()

	req := mpp.ChargeRequest{Amount: mpp.FormatAmount(price),
		Currency: mpp.CurrencySat, MethodDetails: mpp.ChargeDetails{
			Invoice: inv.PaymentRequest, Network: nets[0],
			PaymentHash: inv.PaymentHash.String()}}
	opaque, _ := mpp.EncodeOpaque(map[string]string{"path": r.URL.Path})
	ch := mpp.Challenge{Realm: Realm, Method: mpp.MethodLightning,
		Intent: mpp.IntentCharge, Opaque: opaque, Header: header,
		Expires: mpp.FormatExpires(time.Now().Add(ttl))}
	if rewrite != nil {
		rewrite(&req, &ch)
	}
	if ch.Request, err = mpp.EncodeRequest(req); err != nil {
		return "", inv, err
	}
	if ch, err = mpp.Bind(p.verifier.Secret, ch); err != nil {
		return "", inv, err
	}
	v, err := ch.WWWAuthenticate()
	return v, inv, err
}
