package serve

import (
	"fmt"
	"net/http"
	"time"

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
		PingInterval: s.cfg.WSPingInterval,
		PongWait:     s.cfg.WSPongWait,
	})
	if err != nil {
		return fmt.Errorf("config %s: %w", s.opts.ConfigPath, err)
	}
	s.relay, s.relayHTTP = relay, relay.Handler()
	return nil
}

// serveRelay hands a mailbox request to the relay, unless its client is
// on the blocklist of the current config. A relay stream lasts as long as
// its LNC session, hours: readtimeout and writetimeout do not bound it
// (the relay bounds each write itself, and wspinginterval finds dead
// readers).
func (s *server) serveRelay(w http.ResponseWriter, r *http.Request) {
	f := s.filter.Load()
	if f.blocks(f.clientIP(r)) {
		answer(w, r, http.StatusForbidden, grpcPermissionDenied, "forbidden")
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	s.relayHTTP.ServeHTTP(w, r)
}
