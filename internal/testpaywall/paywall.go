// Package testpaywall is a minimal L402 seller built from the protocol
// core and any lightning.Node, for the tests of clients: it sells one
// service at a price, and can be made to send hostile challenges.
package testpaywall

import (
	"crypto/rand"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// Service is the one service the paywall sells.
const Service = "svc"

// Paywall is an http.Handler that answers 402 with a real invoice from
// Seller, and the paid content to a valid token.
type Paywall struct {
	Seller lightning.Node

	// Rewrite, when set, replaces the WWW-Authenticate values of each
	// challenge; it gets the honest ones and the invoice.
	Rewrite func(honest []string, inv lightning.Invoice) []string

	mu         sync.Mutex
	price      int64
	expiry     time.Duration
	rootKeys   map[l402.Identifier][]byte
	issued     []l402.Hash
	challenges int
	served     int
	lastBody   string
}

// New returns a paywall selling at price sats.
func New(seller lightning.Node, price int64) *Paywall {
	return &Paywall{Seller: seller, price: price, expiry: time.Hour,
		rootKeys: map[l402.Identifier][]byte{}}
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

// ServeHTTP implements http.Handler.
func (p *Paywall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cred, err := l402.ParseCredential(r.Header)
	if err == nil {
		_, err = l402.Verify(cred.Macaroon, cred.Preimage, p,
			l402.Target{Service: Service, Now: time.Now()})
		if err == nil {
			p.mu.Lock()
			p.served++
			p.lastBody = string(body)
			p.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "paid content for "+r.Method)
			return
		}
	}

	p.mu.Lock()
	price, expiry := p.price, p.expiry
	p.challenges++
	p.mu.Unlock()

	inv, err := p.Seller.AddInvoice(r.Context(), lightning.InvoiceRequest{
		AmountSat: price, Memo: Service, Expiry: expiry})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rootKey := make([]byte, l402.RootKeySize)
	var tid l402.TokenID
	rand.Read(rootKey)
	rand.Read(tid[:])
	id := l402.NewIdentifier(inv.PaymentHash, tid)
	svc, _ := l402.ServicesCaveat(l402.Service{Name: Service})
	mac, err := l402.Mint(rootKey, id, svc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.mu.Lock()
	p.rootKeys[id] = rootKey
	p.issued = append(p.issued, inv.PaymentHash)
	p.mu.Unlock()

	values, _ := l402.BuildChallenges(mac, inv.PaymentRequest)
	if p.Rewrite != nil {
		values = p.Rewrite(values, inv)
	}
	for _, v := range values {
		w.Header().Add("WWW-Authenticate", v)
	}
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
}
