package macaroons

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"gopkg.in/macaroon.v2"
)

// The first-party caveat conditions lnd checks, written as lnd's
// macaroons package writes them (lnd v0.21.3, macaroons/constraints.go):
// TimeoutConstraint adds checkers.TimeBeforeCaveat(t).Condition, that is
// "time-before " + t.UTC().Format(time.RFC3339Nano) (macaroon-bakery
// v2.0.1, bakery/checkers/time.go); IPLockConstraint adds "ipaddr " +
// net.ParseIP(addr).String(); IPRangeLockConstraint adds "iprange " + the
// parsed network's String().
const (
	condTimeBefore = "time-before"
	condIPAddr     = "ipaddr"
	condIPRange    = "iprange"
)

// AttenuateOptions are the restrictions Attenuate adds. At least one must
// be set.
type AttenuateOptions struct {
	// Timeout makes the macaroon expire Timeout after Now (lnd's
	// time-before caveat). Zero adds no expiry; negative is an error.
	Timeout time.Duration

	// IP locks the macaroon to one client address, as lnd sees the
	// client (lnd's ipaddr caveat).
	IP string

	// IPRange locks the macaroon to a network in CIDR notation (lnd's
	// iprange caveat).
	IPRange string

	// Now is the time Timeout counts from; zero means time.Now().
	Now time.Time
}

// Attenuate returns the macaroon with opts' restrictions added as
// first-party caveats, in lnd's binary form. A caveat only ever narrows a
// macaroon, so this needs no node and no root key. The input may be
// binary (lnd's .macaroon files) or hex.
func Attenuate(mac []byte, opts AttenuateOptions) ([]byte, error) {
	caveats, err := opts.caveats()
	if err != nil {
		return nil, err
	}
	m, err := decodeMacaroon(mac)
	if err != nil {
		return nil, err
	}

	for _, c := range caveats {
		if err := m.AddFirstPartyCaveat([]byte(c)); err != nil {
			return nil, fmt.Errorf("unable to add caveat %q: %w", c, err)
		}
	}
	out, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("unable to encode the attenuated "+
			"macaroon: %w", err)
	}
	return out, nil
}

// caveats checks the options and returns the caveats they add, in lnd's
// formats.
func (o AttenuateOptions) caveats() ([]string, error) {
	var out []string
	switch {
	case o.Timeout < 0:
		return nil, fmt.Errorf("timeout %v is negative: give how long "+
			"the macaroon stays valid, such as 1h", o.Timeout)
	case o.Timeout > 0:
		now := o.Now
		if now.IsZero() {
			now = time.Now()
		}
		until := now.Add(o.Timeout).UTC().Format(time.RFC3339Nano)
		out = append(out, condTimeBefore+" "+until)
	}

	if o.IP != "" {
		ip, err := parseIP(o.IP)
		if err != nil {
			return nil, err
		}
		out = append(out, condIPAddr+" "+ip)
	}

	if o.IPRange != "" {
		_, network, err := net.ParseCIDR(o.IPRange)
		if err != nil {
			return nil, fmt.Errorf("IP range %q is not in CIDR "+
				"notation such as 10.0.0.0/8", o.IPRange)
		}
		out = append(out, condIPRange+" "+network.String())
	}

	if len(out) == 0 {
		return nil, errors.New("nothing to add: give a timeout, an IP " +
			"address or an IP range")
	}
	return out, nil
}

// parseIP returns a client address as lnd writes it into an ipaddr
// caveat.
func parseIP(s string) (string, error) {
	ip := net.ParseIP(s)
	switch {
	case ip != nil:
		return ip.String(), nil
	case strings.Contains(s, "/"):
		return "", fmt.Errorf("IP address %q is a range: lock to a "+
			"range with the IP range option instead", s)
	case strings.Contains(s, ":") && net.ParseIP(hostOf(s)) != nil:
		return "", fmt.Errorf("IP address %q has a port: give the "+
			"address alone, such as %s", s, hostOf(s))
	}
	return "", fmt.Errorf("%q is not an IP address such as 203.0.113.7 "+
		"or 2001:db8::7 (host names are not allowed)", s)
}

// hostOf returns the host of host:port, or s when it has no port.
func hostOf(s string) string {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return s
	}
	return host
}

// decodeMacaroon parses a macaroon given in binary form (v1 or v2) or as
// hex. The error never repeats the input, which may be a secret.
func decodeMacaroon(b []byte) (*macaroon.Macaroon, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("the macaroon is empty")
	}

	// A binary macaroon is never all hex digits: v2 starts with byte 2,
	// and v1's packets hold spaces and newlines. A binary macaroon may
	// end in whitespace, so only the hex form is trimmed.
	data := b
	if t := bytes.TrimSpace(b); isHex(t) {
		data = make([]byte, len(t)/2)
		if _, err := hex.Decode(data, t); err != nil {
			return nil, fmt.Errorf("the macaroon is not valid hex: %w",
				err)
		}
	}

	m := &macaroon.Macaroon{}
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("not a macaroon (neither lnd's binary "+
			"form nor hex): %w", err)
	}
	return m, nil
}

// isHex reports whether b is a non-empty, even-length run of hex digits.
func isHex(b []byte) bool {
	if len(b) == 0 || len(b)%2 != 0 {
		return false
	}
	for _, c := range b {
		isDigit := c >= '0' && c <= '9'
		isLetter := (c|0x20) >= 'a' && (c|0x20) <= 'f'
		if !isDigit && !isLetter {
			return false
		}
	}
	return true
}
