package serve

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/l402/l402/internal/l402"
)

// TestL402Scheme: no L402 credential is ErrNoCredential, so that another
// scheme is asked; a valid one grants a per-token key, and the
// Authorization form for the backend when it came in the hex form; a
// refused one keeps its l402 error for rejectReason.
func TestL402Scheme(t *testing.T) {
	e := newAuthEnv(t)
	s := l402Scheme{auth: e.auth}
	ctx := context.Background()
	target := l402.Target{Service: "api"}

	for _, h := range []http.Header{{}, {"Authorization": {"Basic eA=="}}} {
		if _, err := s.Authenticate(ctx, h, target); !errors.Is(err,
			ErrNoCredential) {
			t.Fatalf("%v: %v, want ErrNoCredential", h, err)
		}
	}

	h := e.buy(t, Offer{Service: "api", PriceSat: 10})
	g, err := s.Authenticate(ctx, h, target)
	if err != nil || !strings.HasPrefix(g.Key, "token:") ||
		len(g.Key) != len("token:")+64 || g.Forward != "" {
		t.Fatalf("valid: %+v %v", g, err)
	}
	cred, err := l402.ParseCredential(h)
	if err != nil {
		t.Fatal(err)
	}
	hexMac, _ := cred.MacaroonHex()
	g2, err := s.Authenticate(ctx, http.Header{"Grpc-Metadata-Macaroon": {
		hexMac}}, target)
	if err != nil || g2.Key != g.Key || !strings.HasPrefix(g2.Forward,
		"L402 ") {
		t.Fatalf("hex form: %+v %v", g2, err)
	}
	fwd, err := l402.ParseCredential(http.Header{"Authorization": {
		g2.Forward}})
	if err != nil || fwd.Preimage != cred.Preimage {
		t.Fatalf("forwarded credential %q: %v", g2.Forward, err)
	}

	_, err = s.Authenticate(ctx, h, l402.Target{Service: "other"})
	if rejectReason(err) != "wrong_service" {
		t.Fatalf("another service: %v", err)
	}

	strip := http.Header{"Authorization": {h.Get("Authorization"),
		"Basic eA==", "lsat x:y"}, "Macaroon": {"ab"},
		"Grpc-Metadata-Macaroon": {"cd"}}
	s.StripCredential(strip)
	if len(strip) != 1 || strings.Join(strip.Values("Authorization"), ",") !=
		"Basic eA==" {
		t.Fatalf("stripped: %v", strip)
	}
}
