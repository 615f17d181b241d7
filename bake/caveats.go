package bake

import (
	"fmt"
	"net"
	"time"

	"github.com/l402/l402/internal/macaroons"
)

// Caveats are the restrictions Run and Attenuate add, as lnd's own
// caveats.
type Caveats struct {
	// Timeout, when set, expires the macaroon this long from now
	// (lnd's time-before caveat); set, it must be positive.
	Timeout *time.Duration

	// IP locks the macaroon to one client IP address (ipaddr); IPRange
	// to a network in CIDR notation (iprange).
	IP      string
	IPRange string
}

// options checks the caveats and returns them as attenuation options, or
// nil when none was given.
func (c Caveats) options() (*macaroons.AttenuateOptions, error) {
	var timeout time.Duration
	if c.Timeout != nil {
		timeout = *c.Timeout
		if timeout <= 0 {
			return nil, fmt.Errorf("--timeout %v: give a positive "+
				"duration such as 1h (leave --timeout out for no "+
				"expiry)", timeout)
		}
	}
	if c.IP != "" && net.ParseIP(c.IP) == nil {
		return nil, fmt.Errorf("--ip %q is not an IP address such as "+
			"203.0.113.7 or 2001:db8::7 (no host names, ports or "+
			"ranges; --ip-range takes a range)", c.IP)
	}
	if c.IPRange != "" {
		if _, _, err := net.ParseCIDR(c.IPRange); err != nil {
			return nil, fmt.Errorf("--ip-range %q is not a network in "+
				"CIDR notation such as 10.0.0.0/8", c.IPRange)
		}
	}
	if timeout == 0 && c.IP == "" && c.IPRange == "" {
		return nil, nil
	}
	return &macaroons.AttenuateOptions{Timeout: timeout, IP: c.IP,
		IPRange: c.IPRange}, nil
}
