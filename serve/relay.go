package serve

import (
	"fmt"
	"net/http"

	"github.com/l402/l402/internal/hashmail"
)

// startRelay builds the mailbox relay when hashmail.enabled is set, and
// the blocklist that guards it.
func (s *server) startRelay() error {
	filter, err := newClientFilter(s.cfg)
	if err != nil {
		return err
	}
	s.filter.Store(filter)

	hm := s.cfg.HashMail
	if !hm.Enabled {
		return nil
	}
	relay, err := hashmail.New(hashmail.Config{
		MsgInterval:  hm.MessageRate,
		MsgBurst:     hm.MessageBurstAllowance,
		StaleTimeout: hm.StaleTimeout,
	})
	if err != nil {
		return fmt.Errorf("config %s: %w", s.opts.ConfigPath, err)
	}
	s.relay, s.relayHTTP = relay, relay.Handler()
	return nil
}

// serveRelay hands a mailbox request to the relay, unless its client is
// on the blocklist of the current config.
func (s *server) serveRelay(w http.ResponseWriter, r *http.Request) {
	f := s.filter.Load()
	if f.blocks(f.clientIP(r)) {
		answer(w, r, http.StatusForbidden, grpcPermissionDenied, "forbidden")
		return
	}
	s.relayHTTP.ServeHTTP(w, r)
}
