package mpp

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// TestVerifyCharge checks a good charge credential: the grant names the
// payment hash to claim, the challenge and its expiry.
func TestVerifyCharge(t *testing.T) {
	ch := chargeChallenge(t)
	c, err := ChargeCredential(ch, testPreimage)
	if err != nil {
		t.Fatal(err)
	}
	g, err := testVerifier.Charge(roundTrip(t, c), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if g.PaymentHash != testPreimage.Hash() || g.ChallengeID != ch.ID ||
		!g.Expires.Equal(testNow.Add(15*time.Minute)) ||
		g.AmountSat != 100 {
		t.Fatalf("grant %+v", g)
	}
}

// TestVerifyChargeRefuses checks every refusal of a charge credential,
// each with its condition.
func TestVerifyChargeRefuses(t *testing.T) {
	good := chargeChallenge(t)
	otherReq, err := EncodeRequest(ChargeRequest{Amount: "1",
		Currency: "sat", MethodDetails: ChargeDetails{Invoice: "lnbc1",
			PaymentHash: testPreimage.Hash().String()}})
	if err != nil {
		t.Fatal(err)
	}
	noHashReq, _ := EncodeRequest(ChargeRequest{Amount: "100",
		Currency: "sat", MethodDetails: ChargeDetails{Invoice: "lnbc1"}})
	rebind := func(c *Challenge) {
		b, err := Bind(testSecret, *c)
		if err != nil {
			t.Fatal(err)
		}
		*c = b
	}

	tests := []struct {
		name     string
		edit     func(*Challenge)
		preimage string
		now      time.Time
		want     error
	}{
		{name: "expired", now: testNow.Add(15 * time.Minute),
			want: ErrExpired},
		{name: "long expired", now: testNow.Add(24 * time.Hour),
			want: ErrExpired},
		{name: "wrong realm", want: ErrWrongRealm, edit: func(c *Challenge) {
			c.Realm = "other.example.com"
			rebind(c)
		}},
		{name: "tampered request (cheaper)", want: ErrTampered,
			edit: func(c *Challenge) { c.Request = otherReq }},
		{name: "tampered expiry", want: ErrTampered, edit: func(c *Challenge) {
			c.Expires = FormatExpires(testNow.Add(time.Hour))
		}},
		{name: "expiry dropped", want: ErrTampered, edit: func(c *Challenge) {
			c.Expires = ""
		}},
		{name: "no expiry, even bound", want: ErrTampered,
			edit: func(c *Challenge) {
				c.Expires = ""
				rebind(c)
			}},
		{name: "tampered id", want: ErrTampered, edit: func(c *Challenge) {
			c.ID = "x" + c.ID[1:]
		}},
		{name: "bound under another secret", want: ErrTampered,
			edit: func(c *Challenge) {
				b, _ := Bind([]byte("another secret of 32 bytes......"), *c)
				*c = b
			}},
		{name: "session intent", want: ErrUnsupported,
			edit: func(c *Challenge) {
				c.Intent = IntentSession
				rebind(c)
			}},
		{name: "another method", want: ErrUnsupported,
			edit: func(c *Challenge) {
				c.Method = "tempo"
				rebind(c)
			}},
		{name: "request without a hash", want: ErrMalformed,
			edit: func(c *Challenge) {
				c.Request = noHashReq
				rebind(c)
			}},
		{name: "wrong preimage", want: ErrBadPreimage,
			preimage: testPreimage2.String()},
		{name: "upper-case preimage", want: ErrMalformed,
			preimage: upper(testPreimage.String())},
		{name: "short preimage", want: ErrMalformed,
			preimage: testPreimage.String()[:62]},
		{name: "no preimage", want: ErrMalformed, preimage: "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := good
			if tc.edit != nil {
				tc.edit(&ch)
			}
			payload := ChargePayload{Preimage: testPreimage.String()}
			switch tc.preimage {
			case "":
			case "-":
				payload.Preimage = ""
			default:
				payload.Preimage = tc.preimage
			}
			c, err := NewCredential(ch, payload)
			if err != nil {
				t.Fatal(err)
			}
			now := testNow
			if !tc.now.IsZero() {
				now = tc.now
			}
			g, err := testVerifier.Charge(c, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %+v, %v; want %v", g, err, tc.want)
			}
		})
	}
}

// TestVerifyChargePayloadNotAString checks that a payload of the wrong
// shape is malformed, not a panic or a pass.
func TestVerifyChargePayloadNotAString(t *testing.T) {
	c := Credential{Challenge: chargeChallenge(t),
		Payload: json.RawMessage(`{"preimage":7}`)}
	if _, err := testVerifier.Charge(c, testNow); !errors.Is(err,
		ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}

// TestVerifySession checks each session action: open and topUp prove the
// deposit's payment, bearer and close the session's preimage; and the
// refusals of each.
func TestVerifySession(t *testing.T) {
	deposit := l402.Preimage{0x5e}
	topUp := l402.Preimage{0x70}
	sid := deposit.Hash().String()
	openCh := sessionChallenge(t, deposit)
	topUpCh := sessionChallenge(t, topUp)

	type tc struct {
		name    string
		ch      Challenge
		payload SessionPayload
		want    error
	}
	tests := []tc{
		{"open", openCh, SessionPayload{Action: ActionOpen,
			Preimage: deposit.String(), ReturnInvoice: "lnbcrt1p"}, nil},
		{"topUp", topUpCh, SessionPayload{Action: ActionTopUp,
			SessionID: sid, TopUpPreimage: topUp.String()}, nil},
		{"bearer", topUpCh, SessionPayload{Action: ActionBearer,
			SessionID: sid, Preimage: deposit.String()}, nil},
		{"close", openCh, SessionPayload{Action: ActionClose,
			SessionID: sid, Preimage: deposit.String()}, nil},

		{"open, wrong preimage", openCh, SessionPayload{Action: ActionOpen,
			Preimage: topUp.String(), ReturnInvoice: "lnbcrt1p"},
			ErrBadPreimage},
		{"open, no return invoice", openCh, SessionPayload{
			Action: ActionOpen, Preimage: deposit.String()}, ErrMalformed},
		{"topUp with the old deposit's preimage", topUpCh, SessionPayload{
			Action: ActionTopUp, SessionID: sid,
			TopUpPreimage: deposit.String()}, ErrBadPreimage},
		{"topUp without a session", topUpCh, SessionPayload{
			Action: ActionTopUp, TopUpPreimage: topUp.String()},
			ErrMalformed},
		{"bearer, another session's preimage", openCh, SessionPayload{
			Action: ActionBearer, SessionID: sid,
			Preimage: topUp.String()}, ErrBadPreimage},
		{"close, no preimage", openCh, SessionPayload{Action: ActionClose,
			SessionID: sid}, ErrMalformed},
		{"unknown action", openCh, SessionPayload{Action: "refund",
			SessionID: sid, Preimage: deposit.String()}, ErrUnsupported},
		{"a charge challenge", chargeChallenge(t), SessionPayload{
			Action: ActionBearer, SessionID: sid,
			Preimage: deposit.String()}, ErrUnsupported},
	}
	tampered := openCh
	tampered.Request = topUpCh.Request
	tests = append(tests, tc{"open, tampered request", tampered,
		SessionPayload{Action: ActionOpen, Preimage: topUp.String(),
			ReturnInvoice: "lnbcrt1p"}, ErrTampered})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCredential(tt.ch, tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			g, err := testVerifier.Session(roundTrip(t, c), testNow)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %+v, %v; want %v", g, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Action != tt.payload.Action || g.SessionID !=
				deposit.Hash() || g.UnitPriceSat != 2 ||
				g.ChallengeID != tt.ch.ID {
				t.Fatalf("grant %+v", g)
			}
			switch g.Action {
			case ActionOpen:
				if g.DepositHash != deposit.Hash() || g.DepositSat != 40 ||
					g.ReturnInvoice != "lnbcrt1p" {
					t.Fatalf("open %+v", g)
				}
			case ActionTopUp:
				if g.DepositHash != topUp.Hash() || g.DepositSat != 40 {
					t.Fatalf("topUp %+v", g)
				}
			}
		})
	}

	// An expired session challenge is refused for every action.
	c, _ := NewCredential(openCh, SessionPayload{Action: ActionBearer,
		SessionID: sid, Preimage: deposit.String()})
	if _, err := testVerifier.Session(c, testNow.Add(time.Hour)); !errors.Is(
		err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
}
