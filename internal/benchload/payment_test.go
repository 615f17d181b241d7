package benchload

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestPaymentServeConfig: the Payment figures' serve sells the api
// service through the Payment scheme only, with sessions whose deposit
// outlasts the runs (price 1 sat) and the authenticator keys it is
// given, and leaves the grpc service as it was.
func TestPaymentServeConfig(t *testing.T) {
	var cfg struct {
		Authenticator struct {
			EnableMPP      bool   `yaml:"enablempp"`
			EnableSessions bool   `yaml:"enablesessions"`
			Multiplier     int64  `yaml:"sessiondepositmultiplier"`
			WriteInterval  string `yaml:"sessionwriteinterval"`
		} `yaml:"authenticator"`
		Services []struct {
			Name       string `yaml:"name"`
			Price      int64  `yaml:"price"`
			AuthScheme string `yaml:"authscheme"`
		} `yaml:"services"`
	}
	text := paymentServeConfig("/tmp/x", "127.0.0.1:1", "/tmp/x/tls.cert",
		"/tmp/x", "127.0.0.1:2", "127.0.0.1:3",
		"  sessionwriteinterval: 0s\n")
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	a := cfg.Authenticator
	if !a.EnableMPP || !a.EnableSessions || a.Multiplier != sessionMultiplier ||
		a.WriteInterval != "0s" {
		t.Fatalf("authenticator %+v\n%s", a, text)
	}
	if len(cfg.Services) != 2 || cfg.Services[0].Name != "api" ||
		cfg.Services[0].AuthScheme != "mpp" || cfg.Services[0].Price != 1 ||
		cfg.Services[1].AuthScheme != "" {
		t.Fatalf("services %+v\n%s", cfg.Services, text)
	}
	// Ten million requests: more than any run sends.
	if a.Multiplier*cfg.Services[0].Price < 10_000_000 {
		t.Fatalf("a deposit of %d sat", a.Multiplier)
	}
}

// TestSendEachSendsEveryCredentialOnce: the charge figure's client sends
// each credential of its stock once, and only once, and stops when the
// stock is used up; an answer other than 200 is counted bad.
func TestSendEachSendsEveryCredentialOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		auth := r.Header.Get("Authorization")
		mu.Lock()
		seen[auth]++
		mu.Unlock()
		if auth == "Payment bad" {
			w.WriteHeader(http.StatusPaymentRequired)
		}
	}))
	defer srv.Close()
	auths := make([]string, 500)
	for i := range auths {
		auths[i] = fmt.Sprintf("Payment %d", i)
	}
	auths[7] = "Payment bad"
	// The stock, not the hour, ends the run.
	r, n, err := sendEach(context.Background(), Load{Conns: 8,
		Duration: time.Hour}, srv.URL, auths)
	if err != nil || n != 500 || r.Bad != 1 || r.Err == nil {
		t.Fatalf("%+v %d %v", r, n, err)
	}
	for _, a := range auths {
		if seen[a] != 1 {
			t.Fatalf("%q sent %d times", a, seen[a])
		}
	}
}
