package serve

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// PaymentStore is what the Payment scheme keeps in the database: the
// single-use claims of charges and deposits, and the sessions.
// *store.Store is one; a store without it cannot serve the scheme.
type PaymentStore interface {
	ClaimPayment(ctx context.Context, hash [32]byte, challengeID string,
		expires, now time.Time) error
	OpenSession(ctx context.Context, n store.NewSession) error
	DrawSession(ctx context.Context, id [32]byte, service string,
		price int64, now time.Time, idle time.Duration) (int64, error)
	TopUpSession(ctx context.Context, t store.TopUp) (int64, error)
	CloseSession(ctx context.Context, id [32]byte, service string,
		now time.Time) (store.Closed, error)
	RecordRefund(ctx context.Context, id [32]byte, status string) error
	SettleSessionDraw(ctx context.Context, id [32]byte, service string,
		drawnSat, costSat int64) (int64, error)
}

// challengeRecorder is a PaymentStore that also records each Payment
// challenge's invoice as a transaction of the admin API (*store.Store),
// and tells by it whether an invoice was one of its challenges'.
type challengeRecorder interface {
	RecordChallenge(ctx context.Context, c store.Challenge)
	ChallengeIssuance(ctx context.Context, c store.Challenge) (
		store.Issuance, error)
}

// Memos of the Payment scheme's invoices: a payment hash without its
// transaction is taken only on an invoice serve wrote for the scheme.
const (
	chargeMemoPrefix  = "Payment for "
	depositMemoPrefix = "Payment session deposit for "
)

// checkIssued holds the invoice a charge or a session deposit names
// (c: its payment hash, service, amount and scheme) to having been
// issued here for what c says (issuedHere), before it buys anything,
// once per invoice: the challenge id proves only that the challenge was
// bound with the secret, and the secret is in the database, so a reader
// of it could bind a challenge for a payment hash of its own and pay
// nothing, or for a cheap invoice it paid as a dear one (a large
// deposit, a dearer service). Its transaction must say what c says
// (Store.ChallengeIssuance), or, with none for its payment hash, its
// invoice must be for c's amount with the memo serve writes for c (memo
// and its service); the transaction is then queued again. A refusal is
// mpp.ErrTampered; a store or node that cannot answer is
// ErrCannotVerify (503: the buyer may have paid).
func (s *paymentScheme) checkIssued(ctx context.Context, c store.Challenge,
	memo string) error {

	r, ok := s.store.(challengeRecorder)
	if !ok || s.issued.Contains(c.PaymentHash) {
		return nil
	}
	err := issuedHere(ctx, s.node, issuance{
		hash: c.PaymentHash, refusal: mpp.ErrTampered,
		recorded: func(ctx context.Context) (store.Issuance, error) {
			return r.ChallengeIssuance(ctx, c)
		},
		written: func(inv lightning.Invoice) bool {
			return inv.Memo == memo+c.Service && inv.AmountSat == c.PriceSat
		},
		record: func(ctx context.Context, inv lightning.Invoice) {
			s.record(ctx, inv, c.Service, c.PriceSat, c.Scheme,
				inv.CreatedAt)
		}})
	if err != nil {
		return err
	}
	s.issued.Add(c.PaymentHash, struct{}{})
	return nil
}

// record queues the transaction of a Payment challenge's invoice, when
// the store keeps them: the admin API lists it with its scheme, and the
// node's settlement settles it as an L402 one. The challenge does not
// wait for it: it protects no money (a charge's claim is its own row),
// and a row not written is the store's failure handler's to report.
func (s *paymentScheme) record(ctx context.Context, inv lightning.Invoice,
	service string, priceSat int64, scheme string, now time.Time) {

	r, ok := s.store.(challengeRecorder)
	if !ok {
		return
	}
	r.RecordChallenge(ctx, store.Challenge{
		PaymentHash: inv.PaymentHash, Service: service, PriceSat: priceSat,
		Scheme: scheme, AddIndex: inv.AddIndex, CreatedAt: now})
}

// PaymentOptions are what the Payment scheme needs besides the config,
// set up by Run when authenticator.enablempp is on.
type PaymentOptions struct {
	// Store holds the claims and the sessions.
	Store PaymentStore

	// Secret binds the challenge ids: the store's, the same on every
	// replica.
	Secret []byte

	// Node mints the invoices (the Authenticator's).
	Node lightning.Node

	// Refunds pays the refunds of closed sessions; required with
	// sessions.
	Refunds lightning.Node

	// Network is the node's, l402's name for it ("" when the node did
	// not say: each invoice's prefix says then).
	Network string
}

// challengeGrace is how long a Payment challenge outlives its invoice: a
// buyer who pays at the last moment still has time to present the
// credential.
const challengeGrace = 5 * time.Minute

// paymentScheme is the Payment HTTP authentication scheme (MPP) with its
// Lightning method, as a Scheme: the charge intent (one invoice buys one
// request, claimed once in the store) and, when sessions is set, the
// session intent (scheme_session.go). Its challenges bind the service
// (and, dynamically priced, the path) in their opaque data, so that a
// challenge of one service buys nothing at another.
type paymentScheme struct {
	verifier mpp.Verifier
	store    PaymentStore
	node     lightning.Node
	network  string

	// invoiceExpiry is how long the invoices can be paid; challenges
	// expire challengeGrace later.
	invoiceExpiry time.Duration

	// caps are each service's capabilities; a service without any
	// grants every capability (no capabilityrules can need one).
	caps map[string]map[string]bool

	sessions *sessionIntent // nil without enablesessions

	// metered are the metered services (meter.go): a charge there keys
	// a bundle, and is presented again until the bundle is spent.
	metered map[string]bool

	// issued holds the payment hashes found issued here (checkIssued),
	// so that a metered charge presented again costs no read.
	issued *lru.Cache[l402.Hash, struct{}]

	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics
}

// newPaymentScheme builds the Payment scheme of cfg.
func newPaymentScheme(cfg *Config, p *PaymentOptions, now func() time.Time,
	log *slog.Logger, m *Metrics) (*paymentScheme, error) {

	switch {
	case p == nil || p.Store == nil:
		return nil, errors.New("authenticator.enablempp: serve has no " +
			"store that can hold the single-use claims of Payment " +
			"charges, so a credential could be used twice")
	case p.Node == nil:
		return nil, errors.New("authenticator.enablempp: no node to " +
			"issue the Payment challenges' invoices")
	case len(p.Secret) < mpp.MinSecretSize:
		return nil, errors.New("authenticator.enablempp: no challenge " +
			"secret")
	}
	expiry := cfg.InvoiceExpiry
	if expiry <= 0 {
		expiry = DefaultInvoiceExpiry
	}
	mc := cfg.Authenticator.MPP
	issued, err := lru.New[l402.Hash, struct{}](DefaultKeyCacheSize)
	if err != nil {
		return nil, err
	}
	s := &paymentScheme{issued: issued,
		verifier: mpp.Verifier{Secret: p.Secret,
			Realm: mc.Realm(cfg.ListenAddr)},
		store: p.Store, node: p.Node, network: p.Network,
		invoiceExpiry: expiry, caps: map[string]map[string]bool{},
		metered: map[string]bool{}, now: now, log: log, metrics: m,
	}
	for _, sc := range cfg.Services {
		s.metered[sc.Name] = sc.metered()
		if caps := sc.CapabilityList(); len(caps) > 0 {
			set := map[string]bool{}
			for _, c := range caps {
				set[c] = true
			}
			s.caps[sc.Name] = set
		}
	}
	if mc.EnableSessions {
		if p.Refunds == nil {
			return nil, errors.New("authenticator.enablesessions: no " +
				"node to pay the refunds of closed sessions with")
		}
		s.sessions = newSessionIntent(s, mc.DepositMultiplier(),
			mc.IdleTimeout(), &refunder{store: p.Store, node: p.Refunds,
				log: log, metrics: m})
	}
	return s, nil
}

// kind implements Scheme.
func (*paymentScheme) kind() schemeKind { return kindPayment }

// Authenticate implements Scheme: a Payment credential of the charge
// intent (or the session intent, when offered) is verified without a
// node or database call; the claim of its payment is its grant's
// commit.
func (s *paymentScheme) Authenticate(ctx context.Context, h http.Header,
	t l402.Target) (Grant, error) {

	// A session's bearer credential comes back on every request: one
	// verified before is taken from the cache.
	token := paymentToken(h)
	if s.sessions != nil && token != "" {
		if g, ok := s.sessions.cached(token, t); ok {
			return g, nil
		}
	}
	cred, err := mpp.ParseCredential(h)
	switch {
	case errors.Is(err, mpp.ErrNoCredential):
		return Grant{}, ErrNoCredential
	case err != nil:
		return Grant{}, err
	}
	if cred.Challenge.Method == mpp.MethodLightning &&
		cred.Challenge.Intent == mpp.IntentSession {
		if s.sessions == nil {
			return Grant{}, fmt.Errorf("%w: this server offers no "+
				"sessions", mpp.ErrUnsupported)
		}
		return s.sessions.authenticate(cred, t, token)
	}

	now := s.now()
	metered := s.metered[t.Service]
	g, err := s.verifier.Charge(cred, now)
	if metered && errors.Is(err, mpp.ErrExpired) {
		// At a metered service a charge is the key to its bundle,
		// which lasts until it is spent: the challenge's expiry bounds
		// its payment, not its use.
		g, err = s.chargeUnexpired(cred)
	}
	if err != nil {
		return Grant{}, err
	}
	if err := s.allowed(bindingOf(g.Opaque), t); err != nil {
		return Grant{}, err
	}
	hash := [32]byte(g.PaymentHash)
	reference := hex.EncodeToString(hash[:])
	return Grant{Key: "payment:" + reference,
		meter: MeterKey{Kind: MeterPayment, ID: hash},
		commit: func(ctx context.Context) (committed, error) {
			if err := s.checkIssued(ctx, store.Challenge{
				PaymentHash: g.PaymentHash, Service: t.Service,
				PriceSat: g.AmountSat, Scheme: store.SchemePayment},
				chargeMemoPrefix); err != nil {
				return committed{}, err
			}
			err := s.store.ClaimPayment(ctx, hash, g.ChallengeID,
				g.Expires, now)
			if metered && errors.Is(err, mpp.ErrReused) {
				// Its first use was recorded; its bundle pays on.
				err = nil
			}
			if err != nil {
				return committed{}, err
			}
			return receiptOf(mpp.NewReceipt(reference, g.ChallengeID, now))
		}}, nil
}

// chargeUnexpired verifies a charge credential of a metered service whose
// challenge expired, as of just before it did: every other check (the
// id's binding, the preimage) holds as ever.
func (s *paymentScheme) chargeUnexpired(cred mpp.Credential) (
	mpp.ChargeGrant, error) {

	expires, ok, err := cred.Challenge.ExpiresAt()
	if err != nil || !ok {
		return mpp.ChargeGrant{}, fmt.Errorf("%w: the challenge names no "+
			"expiry: %v", mpp.ErrMalformed, err)
	}
	return s.verifier.Charge(cred, expires.Add(-time.Second))
}

// paymentToken returns the token of the request's one Payment
// credential, "" when there is none or it is not alone (ParseCredential
// says why).
func paymentToken(h http.Header) string {
	token := ""
	for _, v := range h["Authorization"] {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, mpp.Scheme) {
			continue
		}
		if token != "" {
			return ""
		}
		token = strings.TrimSpace(rest)
	}
	return token
}

// allowed checks a verified credential against the request: its
// challenge was made for this service (and path and query, when
// dynamically priced), and the service's capabilities cover what the
// request needs.
func (s *paymentScheme) allowed(b binding, t l402.Target) error {
	if b.service != t.Service || b.resource != t.Resource {
		return fmt.Errorf("%w: the challenge was made for %q %q, not %q "+
			"%q", mpp.ErrWrongResource, truncateName(b.service),
			truncateName(b.resource), t.Service, t.Resource)
	}
	if caps := s.caps[t.Service]; caps != nil {
		for _, c := range t.Capabilities {
			if !caps[c] {
				return fmt.Errorf("%w: %s", l402.ErrCapabilityNotAllowed,
					c)
			}
		}
	}
	return nil
}

// The opaque members a challenge binds what it was made for in: the
// service, and the path and query of a dynamically priced request. Two
// members, not Aperture's one string of both, which a service named
// "api/x" could share with the path /x of a service named "api".
const (
	opaqueService  = "service"
	opaqueResource = "resource"
)

// binding is what a challenge was made for.
type binding struct {
	service, resource string
}

// bindingOf reads a challenge's binding from its decoded opaque data.
func bindingOf(opaque map[string]string) binding {
	return binding{service: opaque[opaqueService],
		resource: opaque[opaqueResource]}
}

// opaqueFor returns the opaque data of a challenge for the offer.
func opaqueFor(o Offer) (string, error) {
	m := map[string]string{opaqueService: o.Service}
	if o.Resource != "" {
		m[opaqueResource] = o.Resource
	}
	return mpp.EncodeOpaque(m)
}

// truncateName shortens a client's value before it goes into an error.
func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Challenge implements Scheme: a charge challenge with a fresh invoice for
// the offer's price, then, with sessions and a fixed price, a session
// challenge with a deposit invoice.
func (s *paymentScheme) Challenge(ctx context.Context, o Offer) ([]string,
	error) {

	if o.PriceSat <= 0 {
		return nil, fmt.Errorf("service %q has no price", o.Service)
	}
	now := s.now()
	opaque, err := opaqueFor(o)
	if err != nil {
		return nil, err
	}
	inv, err := s.node.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: o.PriceSat,
		Memo:      chargeMemoPrefix + o.Service,
		Expiry:    s.invoiceExpiry,
	})
	if err != nil {
		return nil, fmt.Errorf("unable to create the invoice: %w", err)
	}
	s.record(ctx, inv, o.Service, o.PriceSat, store.SchemePayment, now)
	request, err := mpp.EncodeRequest(mpp.ChargeRequest{
		Amount:   mpp.FormatAmount(o.PriceSat),
		Currency: mpp.CurrencySat,
		MethodDetails: mpp.ChargeDetails{
			Invoice:     inv.PaymentRequest,
			PaymentHash: inv.PaymentHash.String(),
			Network:     s.requestNetwork(inv.PaymentRequest),
		},
	})
	if err != nil {
		return nil, err
	}
	charge, err := s.bind(mpp.IntentCharge, request, opaque, now)
	if err != nil {
		return nil, err
	}
	values := []string{charge}

	// A dynamically priced request has a price of its own, which a
	// session's unit price cannot be: such services offer charges only.
	if s.sessions != nil && o.Resource == "" {
		session, err := s.sessions.challenge(ctx, o, opaque, now)
		if err != nil {
			return nil, err
		}
		values = append(values, session)
	}
	return values, nil
}

// bind makes the challenge of intent for request, expiring challengeGrace
// after its invoice, and returns it as a WWW-Authenticate value.
func (s *paymentScheme) bind(intent, request, opaque string,
	now time.Time) (string, error) {

	ch, err := mpp.Bind(s.verifier.Secret, mpp.Challenge{
		Realm: s.verifier.Realm, Method: mpp.MethodLightning,
		Intent: intent, Request: request, Opaque: opaque,
		Expires: mpp.FormatExpires(now.Add(s.invoiceExpiry +
			challengeGrace)),
	})
	if err != nil {
		return "", err
	}
	return ch.WWWAuthenticate()
}

// requestNetwork names the network of an invoice of the node as the
// drafts do (mainnet, testnet, regtest, signet), or "" for one they do not
// name.
func (s *paymentScheme) requestNetwork(payReq string) string {
	network := s.network
	if network == "" {
		nets, err := lightning.InvoiceNetworks(payReq)
		if err != nil || len(nets) == 0 {
			return ""
		}
		network = nets[0]
	}
	switch network {
	case "mainnet", "regtest", "signet":
		return network
	case "testnet", "testnet4":
		return "testnet"
	}
	return ""
}

// StripCredential implements Scheme: the Payment credentials go; other
// schemes' Authorization values stay.
func (*paymentScheme) StripCredential(h http.Header) {
	var keep []string
	found := false
	for _, v := range h.Values("Authorization") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if strings.EqualFold(scheme, mpp.Scheme) {
			found = true
			continue
		}
		keep = append(keep, v)
	}
	if !found {
		return
	}
	h.Del("Authorization")
	for _, v := range keep {
		h.Add("Authorization", v)
	}
}

// receiptOf returns what a commit did that only produced receipt r.
func receiptOf(r mpp.Receipt) (committed, error) {
	v, err := r.Header()
	return committed{receipt: v}, err
}

// paymentConditions are the Payment scheme's refusals: a 402 of a service
// that offers the scheme carries the problem of the one that applies.
var paymentConditions = []error{mpp.ErrMalformed, mpp.ErrUnsupported,
	mpp.ErrWrongRealm, mpp.ErrTampered, mpp.ErrExpired,
	mpp.ErrBadPreimage, mpp.ErrReused, mpp.ErrWrongResource,
	mpp.ErrInsufficient, mpp.ErrUnknownSession, mpp.ErrSessionClosed,
	mpp.ErrBadReturnInvoice}

// isPaymentCondition reports whether err is one of the Payment scheme's
// refusals.
func isPaymentCondition(err error) bool {
	for _, c := range paymentConditions {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}
