package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// sessionIntent is the Payment scheme's session intent
// (draft-lightning-session-00): a deposit of the price times the
// multiplier opens a session, which every request then pays its price
// from. The balance lives in the store, shared by the replicas and kept
// across restarts, and every change to it is atomic there.
//
// Every request a session credential lets through to the backend costs
// the unit price: open draws it from the new deposit, bearer from the
// balance. topUp and close are answered by serve itself, as the draft
// says, and cost nothing: topUp adds its deposit ({"status":"ok"}), close
// refunds the balance to the return invoice the open named
// ({"status":"closed","refundSats":N,"refundStatus":...}).
type sessionIntent struct {
	scheme     *paymentScheme
	multiplier int64
	idle       time.Duration
	refunds    *refunder

	// bearers are the bearer credentials verified so far, by the
	// sha256 of their token: a session's requests repeat one.
	bearers *lru.Cache[[32]byte, bearer]
}

// bearer is a verified bearer credential: what its draws need.
type bearer struct {
	id          [32]byte
	price       int64
	challengeID string
	expires     time.Time
	binding     binding

	// ref is the session id in hex, key the grant's; receipts holds the
	// receipt of the last second a request drew in.
	ref, key string
	receipts *receiptCache
}

// newBearer returns the verified bearer credential of session id.
func newBearer(id [32]byte, price int64, challengeID string,
	expires time.Time, b binding) bearer {

	ref := hex.EncodeToString(id[:])
	return bearer{id: id, price: price, challengeID: challengeID,
		expires: expires, binding: b, ref: ref, key: "session:" + ref,
		receipts: &receiptCache{}}
}

// receiptCache is a bearer credential's Payment-Receipt value for one
// second. A receipt names the session, its challenge and the second it
// was made in, so that the requests of one second share one: it is
// encoded (JCS, base64url) once a second, not per request.
type receiptCache struct {
	last atomic.Pointer[secondReceipt]
}

// secondReceipt is the receipt value of the second unix.
type secondReceipt struct {
	unix   int64
	header string
}

// receipt returns the committed outcome of b's draw at now.
func (b bearer) receipt(now time.Time) (committed, error) {
	sec := now.Unix()
	if r := b.receipts.last.Load(); r != nil && r.unix == sec {
		return committed{receipt: r.header}, nil
	}
	done, err := receiptOf(mpp.NewReceipt(b.ref, b.challengeID, now))
	if err == nil {
		b.receipts.last.Store(&secondReceipt{unix: sec,
			header: done.receipt})
	}
	return done, err
}

// bearerCacheSize bounds the verified bearer credentials kept.
const bearerCacheSize = 10_000

// newSessionIntent returns the session intent of scheme p.
func newSessionIntent(p *paymentScheme, multiplier int64,
	idle time.Duration, refunds *refunder) *sessionIntent {

	cache, _ := lru.New[[32]byte, bearer](bearerCacheSize)
	return &sessionIntent{scheme: p, multiplier: multiplier, idle: idle,
		refunds: refunds, bearers: cache}
}

// cached returns the grant of a bearer credential verified before, when
// its challenge is still valid and it is for t; a miss goes the long way,
// which also says why a credential is refused.
func (s *sessionIntent) cached(token string, t l402.Target) (Grant, bool) {
	b, ok := s.bearers.Get(sha256.Sum256([]byte(token)))
	now := s.scheme.now()
	if !ok || !now.Before(b.expires) ||
		s.scheme.allowed(b.binding, t) != nil {
		return Grant{}, false
	}
	return s.bearerGrant(b, t, now), true
}

// bearerGrant returns the grant of bearer b for t at now: its commit
// draws the price from the session.
func (s *sessionIntent) bearerGrant(b bearer, t l402.Target,
	now time.Time) Grant {

	draw := func(ctx context.Context, price int64) (committed, int64,
		error) {

		balance, err := s.scheme.store.DrawSession(ctx, b.id, t.Service,
			price, now, s.idle)
		if err != nil {
			return committed{}, 0, err
		}
		done, err := b.receipt(now)
		return done, balance, err
	}
	return Grant{Key: b.key,
		meter:  MeterKey{Kind: MeterSession, ID: b.id},
		drawAt: draw,
		commit: func(ctx context.Context) (committed, error) {
			done, _, err := draw(ctx, b.price)
			return done, err
		}}
}

// challenge returns the session challenge for the offer: a deposit
// invoice of the price times the multiplier, the unit price and the idle
// timeout.
func (s *sessionIntent) challenge(ctx context.Context, o Offer,
	opaque string, now time.Time) (string, error) {

	price := o.PriceSat
	if o.SessionPriceSat > 0 {
		price = o.SessionPriceSat
	}
	if price > MaxPriceSat/s.multiplier {
		return "", fmt.Errorf("service %q: a deposit of %d x %d sat is "+
			"above what an invoice can ask", o.Service, s.multiplier,
			price)
	}
	deposit := price * s.multiplier
	if o.SessionDepositSat >= price {
		deposit = o.SessionDepositSat
	}
	p := s.scheme
	inv, err := p.node.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: deposit,
		Memo:      depositMemoPrefix + o.Service,
		Expiry:    p.invoiceExpiry,
	})
	if err != nil {
		return "", fmt.Errorf("unable to create the deposit invoice: %w",
			err)
	}
	p.record(ctx, inv, o.Service, deposit, store.SchemePaymentSession, now)
	request, err := mpp.EncodeRequest(mpp.SessionRequest{
		Amount:         mpp.FormatAmount(price),
		Currency:       mpp.CurrencySat,
		UnitType:       "request",
		DepositInvoice: inv.PaymentRequest,
		DepositAmount:  mpp.FormatAmount(deposit),
		PaymentHash:    inv.PaymentHash.String(),
		IdleTimeout:    fmt.Sprint(int64(s.idle / time.Second)),
	})
	if err != nil {
		return "", err
	}
	return p.bind(mpp.IntentSession, request, opaque, now)
}

// authenticate verifies a session credential for t (no node or database
// call) and returns the grant whose commit does the action in the store.
func (s *sessionIntent) authenticate(cred mpp.Credential, t l402.Target,
	token string) (Grant, error) {

	p := s.scheme
	now := p.now()
	g, err := p.verifier.Session(cred, now)
	if err != nil {
		return Grant{}, err
	}
	if err := p.allowed(bindingOf(g.Opaque), t); err != nil {
		return Grant{}, err
	}
	id := [32]byte(g.SessionID)
	ref := hex.EncodeToString(id[:])
	receipt := mpp.NewReceipt(ref, g.ChallengeID, now)
	grant := Grant{Key: "session:" + ref,
		meter: MeterKey{Kind: MeterSession, ID: id}}

	switch g.Action {
	case mpp.ActionOpen:
		if err := s.checkReturnInvoice(g, now); err != nil {
			return Grant{}, err
		}
		grant.drawn, grant.left = g.UnitPriceSat, g.DepositSat-g.UnitPriceSat
		grant.drawMore = func(ctx context.Context, price int64) (int64,
			error) {
			return p.store.DrawSession(ctx, id, t.Service, price, now,
				s.idle)
		}
		grant.commit = func(ctx context.Context) (committed, error) {
			if err := p.checkIssued(ctx, store.Challenge{
				PaymentHash: l402.Hash(id), Service: t.Service,
				PriceSat: g.DepositSat, Scheme: store.SchemePaymentSession},
				depositMemoPrefix); err != nil {
				return committed{}, err
			}
			err := p.store.OpenSession(ctx, store.NewSession{ID: id,
				Service: t.Service, ReturnInvoice: g.ReturnInvoice,
				DepositSat: g.DepositSat, DrawSat: g.UnitPriceSat,
				ChallengeID: g.ChallengeID, ChallengeExpires: g.Expires,
				Now: now})
			if err != nil {
				return committed{}, err
			}
			p.metrics.sessionsOpened.WithLabelValues(t.Service).Inc()
			p.metrics.sessionDeposits.WithLabelValues(t.Service).Add(
				float64(g.DepositSat))
			p.log.Info("payment session opened", "service", t.Service,
				"session", ref, "deposit_sat", g.DepositSat)
			return receiptOf(receipt)
		}

	case mpp.ActionBearer:
		b := newBearer(id, g.UnitPriceSat, g.ChallengeID, g.Expires,
			bindingOf(g.Opaque))
		if token != "" {
			s.bearers.Add(sha256.Sum256([]byte(token)), b)
		}
		return s.bearerGrant(b, t, now), nil

	case mpp.ActionTopUp:
		grant.commit = func(ctx context.Context) (committed, error) {
			if err := p.checkIssued(ctx, store.Challenge{
				PaymentHash: g.DepositHash, Service: t.Service,
				PriceSat: g.DepositSat, Scheme: store.SchemePaymentSession},
				depositMemoPrefix); err != nil {
				return committed{}, err
			}
			balance, err := p.store.TopUpSession(ctx, store.TopUp{ID: id,
				Service: t.Service, DepositHash: [32]byte(g.DepositHash),
				DepositSat: g.DepositSat, ChallengeID: g.ChallengeID,
				ChallengeExpires: g.Expires, Now: now, Idle: s.idle})
			if err != nil {
				return committed{}, err
			}
			p.metrics.sessionDeposits.WithLabelValues(t.Service).Add(
				float64(g.DepositSat))
			p.log.Info("payment session topped up", "service", t.Service,
				"session", ref, "deposit_sat", g.DepositSat,
				"balance_sat", balance)
			done, err := receiptOf(receipt)
			done.reply = []byte(`{"status":"ok"}`)
			return done, err
		}

	case mpp.ActionClose:
		grant.commit = func(ctx context.Context) (committed, error) {
			closed, err := p.store.CloseSession(ctx, id, t.Service, now)
			if err != nil {
				return committed{}, err
			}
			status := s.refunds.refund(ctx, id, t.Service, closed,
				"closed")
			receipt.RefundSats, receipt.RefundStatus = &closed.RefundSat,
				status
			done, err := receiptOf(receipt)
			if err != nil {
				return committed{}, err
			}
			done.reply, err = mpp.Canonical(mpp.CloseReply{Status: "closed",
				RefundSats: closed.RefundSat, RefundStatus: status})
			return done, err
		}
	}
	return grant, nil
}

// checkReturnInvoice checks an open's return invoice: BOLT11 on the
// network of the deposit invoice this server made, without an amount (the
// refund's is the server's to choose), and not expired.
func (s *sessionIntent) checkReturnInvoice(g mpp.SessionGrant,
	now time.Time) error {

	network := s.scheme.network
	if network == "" {
		nets, err := lightning.InvoiceNetworks(g.Request.DepositInvoice)
		if err != nil || len(nets) == 0 {
			return fmt.Errorf("%w: the deposit invoice names no network",
				mpp.ErrBadReturnInvoice)
		}
		network = nets[0]
	}
	inv, err := lightning.DecodeInvoice(g.ReturnInvoice, network)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", mpp.ErrBadReturnInvoice, err)
	case inv.AmountMsat != 0:
		return fmt.Errorf("%w: it asks %d msat; it must name no amount",
			mpp.ErrBadReturnInvoice, inv.AmountMsat)
	case !now.Before(inv.ExpiresAt()):
		return fmt.Errorf("%w: it expired at %s", mpp.ErrBadReturnInvoice,
			inv.ExpiresAt().UTC().Format(time.RFC3339))
	}
	return nil
}

// refunder pays the refunds of closed sessions through the seller's node
// and records their outcome: the close stage's and the pruner's.
type refunder struct {
	store   PaymentStore
	node    lightning.Node
	log     *slog.Logger
	metrics *Metrics
}

// Refunds: how long one may take, and its routing fee limit (the seller
// pays the fee on top of the refund).
const (
	refundTimeout    = time.Minute
	refundFeeBaseSat = 10
	refundFeePercent = 1
)

// refund pays what a closed session had left to its return invoice and
// returns the receipt's refundStatus: skipped when nothing was left,
// succeeded, or failed (the session's row then keeps the refund owed, for
// the operator). It runs to the end even when the request that closed
// the session goes away. why says why the session closed, for the logs
// and metrics.
func (r *refunder) refund(ctx context.Context, id [32]byte, service string,
	c store.Closed, why string) string {

	ref := hex.EncodeToString(id[:])
	r.metrics.sessionsClosed.WithLabelValues(service, why).Inc()
	if c.RefundSat == 0 {
		r.log.Info("payment session closed", "service", service,
			"session", ref, "why", why, "refund_sat", 0)
		return mpp.RefundSkipped
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx),
		refundTimeout+10*time.Second)
	defer cancel()
	p, err := r.node.Pay(ctx, lightning.PayRequest{
		PaymentRequest: c.ReturnInvoice, AmountSat: c.RefundSat,
		MaxFeeSat: refundFeeBaseSat + c.RefundSat*refundFeePercent/100,
		Timeout:   refundTimeout})
	status := mpp.RefundSucceeded
	switch {
	case err == nil && p.Status == lightning.PaymentSucceeded:
	case p.Status == lightning.PaymentInFlight:
		// Neither paid nor failed yet: the row stays pending, for the
		// operator to see how it ended; the buyer is told it failed.
		r.log.Warn("payment session refund still in flight", "service",
			service, "session", ref, "refund_sat", c.RefundSat, "err", err)
		r.metrics.sessionRefunds.WithLabelValues(service, "in_flight").Add(
			float64(c.RefundSat))
		return mpp.RefundFailed
	default:
		status = mpp.RefundFailed
		r.log.Error("payment session refund failed: the balance is owed "+
			"to the buyer", "service", service, "session", ref,
			"refund_sat", c.RefundSat, "err", err)
	}
	if err := r.store.RecordRefund(ctx, id, status); err != nil {
		r.log.Error("unable to record a session refund", "session", ref,
			"status", status, "err", err)
	}
	r.metrics.sessionRefunds.WithLabelValues(service, status).Add(
		float64(c.RefundSat))
	if status == mpp.RefundSucceeded {
		r.log.Info("payment session closed and refunded", "service",
			service, "session", ref, "why", why, "refund_sat", c.RefundSat,
			"fee_msat", p.FeeMsat)
	}
	return status
}
