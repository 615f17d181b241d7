package fetch

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// brokenTracker is a node that cannot say what became of a payment.
type brokenTracker struct{ lightning.Node }

// TrackPayment implements lightning.Node, failing.
func (brokenTracker) TrackPayment(context.Context, l402.Hash) (
	lightning.Payment, error) {

	return lightning.Payment{}, errors.New("connection refused")
}

// TestForgetPending: a pending payment is forgotten only once the node
// says it failed or has no record of it; one that succeeded becomes the
// token and the ledger's entry; one in flight, or one the node cannot be
// asked about, stays pending with a code of its own.
func TestForgetPending(t *testing.T) {
	ctx := context.Background()

	// pay makes the pending payment p at the node with the outcome
	// given, as a run killed after asking the node would leave it.
	pay := func(e *env, p tokens.Pending, outcome lightning.PayOutcome) {
		e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
			return outcome
		})
		defer e.buyer.SetPayHook(nil)
		pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		e.buyer.Pay(pctx, lightning.PayRequest{PaymentRequest: p.Invoice,
			MaxFeeSat: 10})
	}

	tests := []struct {
		name     string
		node     func(e *env, p tokens.Pending) lightning.Node
		outcome  string
		status   string
		reason   string
		wantCode string
		kept     bool
	}{
		{name: "never made", node: func(e *env, _ tokens.Pending) lightning.Node {
			return e.buyer
		}, outcome: "forgotten", status: "not_found"},
		{name: "failed", node: func(e *env, p tokens.Pending) lightning.Node {
			pay(e, p, lightning.PayOutcome{
				FailureReason: "FAILURE_REASON_NO_ROUTE"})
			return e.buyer
		}, outcome: "forgotten", status: "failed",
			reason: "FAILURE_REASON_NO_ROUTE"},
		{name: "succeeded", node: func(e *env, p tokens.Pending) lightning.Node {
			pay(e, p, lightning.PayOutcome{FeeMsat: 1000})
			return e.buyer
		}, outcome: "completed", status: "succeeded"},
		{name: "in flight", node: func(e *env, p tokens.Pending) lightning.Node {
			pay(e, p, lightning.PayOutcome{Hold: true})
			return e.buyer
		}, wantCode: "payment_pending", kept: true},
		{name: "node cannot say", node: func(e *env, _ tokens.Pending) lightning.Node {
			return brokenTracker{e.buyer}
		}, wantCode: "payment_pending", kept: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 10, "regtest")
			_, p := e.recordPending(t)
			e.client.Node = tc.node(e, p)

			rep, err := e.client.ForgetPending(ctx, p.PaymentHash,
				50*time.Millisecond)
			pend, _ := e.store.PendingFor(ctx, "")
			if tc.kept {
				if cli.Code(err) != tc.wantCode ||
					cli.ExitCode(err) != cli.ExitPayment ||
					!errors.Is(err, ErrStillPending) || len(pend) != 1 {
					t.Fatalf("got %+v %v, pending %d; want it kept with %s",
						rep, err, len(pend), tc.wantCode)
				}
				return
			}
			if err != nil || rep.Outcome != tc.outcome ||
				rep.NodeStatus != tc.status ||
				rep.FailureReason != tc.reason ||
				rep.PaymentHash != p.PaymentHash.String() ||
				rep.Origin != e.origin() || rep.AmountSat != 10 ||
				len(pend) != 0 {
				t.Fatalf("got %+v %v, pending %d", rep, err, len(pend))
			}
			tok, terr := e.store.Token(ctx, e.origin())
			if tc.outcome == "completed" {
				if terr != nil || tok.PaymentHash != p.PaymentHash ||
					e.spent(t) != 11_000 || rep.FeeSat != 1 {
					t.Fatalf("completed: token %+v %v, spent %d, %+v", tok,
						terr, e.spent(t), rep)
				}
				return
			}
			if !errors.Is(terr, tokens.ErrNotFound) || e.spent(t) != 0 {
				t.Fatalf("forgotten: token %v, spent %d", terr, e.spent(t))
			}
		})
	}

	// An unknown hash, and no node to ask.
	e := newEnv(t, 10, "regtest")
	if _, err := e.client.ForgetPending(ctx, l402.Hash{1},
		time.Second); !errors.Is(err, tokens.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	_, p := e.recordPending(t)
	e.client.Node = nil
	if _, err := e.client.ForgetPending(ctx, p.PaymentHash,
		time.Second); !errors.Is(err, ErrNoNode) {
		t.Fatalf("no node: %v", err)
	}
}

// TestForgetRun: Forget reads fetch.yaml for the node and the store, as
// fetch does.
func TestForgetRun(t *testing.T) {
	r := newRunEnv(t, 10, "")
	ctx := context.Background()
	cfg, err := LoadConfig(r.config, true)
	if err != nil {
		t.Fatal(err)
	}
	store, err := tokens.Open(ctx, cfg.TokenStore)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r.env.store = store
	_, p := r.recordPending(t)

	var log strings.Builder
	rep, err := Forget(ctx, ForgetOptions{ConfigPath: r.config,
		Store: store, Hash: p.PaymentHash, Log: &log,
		Node: func(Config, io.Writer) (lightning.Node, error) {
			return r.node, nil
		}})
	if err != nil || rep.Outcome != "forgotten" || r.node.closes.Load() != 1 {
		t.Fatalf("%+v %v, node closed %d times", rep, err,
			r.node.closes.Load())
	}
	if !strings.Contains(log.String(), p.PaymentHash.String()) {
		t.Fatalf("log %q", log.String())
	}
}
