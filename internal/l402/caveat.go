package l402

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const (
	// CondServices is the condition listing the services a token is for.
	CondServices = "services"

	// CondCapabilitiesSuffix follows a service name in the condition that
	// lists the capabilities a token grants for that service.
	CondCapabilitiesSuffix = "_capabilities"

	// CondValidUntilSuffix follows a service name in the condition that
	// limits a token's life for that service, in unix seconds.
	CondValidUntilSuffix = "_valid_until"

	// CondResourceSuffix follows a service name in the condition that
	// binds a token to one request path, for dynamically priced services
	// whose price depends on the path.
	CondResourceSuffix = "_resource"

	// CondPreimage carries the preimage inside the macaroon for the
	// header-less gRPC credential form.
	CondPreimage = "preimage"
)

var (
	// ErrCaveatMalformed is returned for a caveat that cannot be decoded.
	ErrCaveatMalformed = errors.New("malformed caveat")

	// ErrCaveatWidens is returned when a later caveat grants more than an
	// earlier one with the same condition.
	ErrCaveatWidens = errors.New("caveat widens an earlier one")

	// ErrServiceNotAllowed is returned when a token is not for the
	// service asked for.
	ErrServiceNotAllowed = errors.New("token is not valid for this service")

	// ErrCapabilityNotAllowed is returned when a token lacks a capability
	// the request needs.
	ErrCapabilityNotAllowed = errors.New("token lacks a required capability")

	// ErrResourceNotAllowed is returned when a token bound to one path is
	// used for another.
	ErrResourceNotAllowed = errors.New("token is for another path")

	// ErrTokenExpired is returned when a token's valid_until has passed.
	ErrTokenExpired = errors.New("token has expired")
)

// Bounds on what a token may carry. A client may add caveats to a token it
// holds, so without bounds one paid token could make every check of it
// arbitrarily slow. Real tokens carry a handful of caveats.
const (
	// MaxCaveats is the most caveats a token may carry.
	MaxCaveats = 64

	// MaxListEntries is the most services or capabilities one caveat
	// may list.
	MaxListEntries = 64
)

// Caveat is a first-party caveat of the form condition=value.
type Caveat struct {
	Condition string
	Value     string
}

// String returns the caveat's wire form, condition=value.
func (c Caveat) String() string { return c.Condition + "=" + c.Value }

// DecodeCaveat splits a caveat at its first '='. The condition must not be
// empty or contain white space; the value may be empty.
func DecodeCaveat(s string) (Caveat, error) {
	cond, value, ok := strings.Cut(s, "=")
	if !ok {
		return Caveat{}, fmt.Errorf("%w: %q has no '='", ErrCaveatMalformed,
			truncate(s))
	}
	if cond == "" {
		return Caveat{}, fmt.Errorf("%w: empty condition", ErrCaveatMalformed)
	}
	if strings.ContainsAny(cond, " \t\r\n") {
		return Caveat{}, fmt.Errorf("%w: condition %q contains white space",
			ErrCaveatMalformed, truncate(cond))
	}
	return Caveat{Condition: cond, Value: value}, nil
}

// Service names one service and the tier a token grants on it.
type Service struct {
	Name string
	Tier uint8
}

// ValidName reports whether s can be used as a service or capability name
// inside a caveat without being confused with the caveat's separators:
// not empty, and without ',', ':', '=', white space or control characters
// (anywhere in Unicode). serve's config and setup's flags hold names to it.
func ValidName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return strings.ContainsRune(",:=", r) || unicode.IsSpace(r) ||
			unicode.IsControl(r)
	}) >= 0 {
		return fmt.Errorf("name %q contains one of ',', ':', '=', white "+
			"space or a control character", truncate(s))
	}
	return nil
}

// ServicesCaveat returns the caveat services=name:tier[,name:tier].
func ServicesCaveat(services ...Service) (Caveat, error) {
	if len(services) == 0 {
		return Caveat{}, errors.New("services caveat needs at least one " +
			"service")
	}

	parts := make([]string, len(services))
	for i, s := range services {
		if err := ValidName(s.Name); err != nil {
			return Caveat{}, fmt.Errorf("service: %w", err)
		}
		parts[i] = s.Name + ":" + strconv.Itoa(int(s.Tier))
	}
	return Caveat{Condition: CondServices, Value: strings.Join(parts, ",")}, nil
}

// DecodeServices parses the value of a services caveat.
func DecodeServices(value string) ([]Service, error) {
	if value == "" {
		return nil, fmt.Errorf("%w: services caveat is empty",
			ErrCaveatMalformed)
	}

	parts := strings.Split(value, ",")
	if len(parts) > MaxListEntries {
		return nil, fmt.Errorf("%w: services caveat lists more than %d "+
			"services", ErrCaveatMalformed, MaxListEntries)
	}
	services := make([]Service, 0, len(parts))
	for _, p := range parts {
		name, tier, ok := strings.Cut(p, ":")
		if !ok {
			return nil, fmt.Errorf("%w: service %q has no tier",
				ErrCaveatMalformed, truncate(p))
		}
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("%w: service: %v", ErrCaveatMalformed,
				err)
		}
		t, err := strconv.ParseUint(tier, 10, 8)
		if err != nil {
			return nil, fmt.Errorf("%w: service %q has a bad tier %q",
				ErrCaveatMalformed, truncate(name), truncate(tier))
		}
		services = append(services, Service{Name: name, Tier: uint8(t)})
	}
	return services, nil
}

// CapabilitiesCaveat returns <service>_capabilities=a,b.
func CapabilitiesCaveat(service string, caps ...string) (Caveat, error) {
	if err := ValidName(service); err != nil {
		return Caveat{}, fmt.Errorf("service: %w", err)
	}
	if len(caps) == 0 {
		return Caveat{}, errors.New("capabilities caveat needs at least " +
			"one capability")
	}
	for _, c := range caps {
		if err := ValidName(c); err != nil {
			return Caveat{}, fmt.Errorf("capability: %w", err)
		}
	}
	return Caveat{
		Condition: service + CondCapabilitiesSuffix,
		Value:     strings.Join(caps, ","),
	}, nil
}

// decodeCapabilities parses the value of a capabilities caveat.
func decodeCapabilities(value string) ([]string, error) {
	caps := strings.Split(value, ",")
	if len(caps) > MaxListEntries {
		return nil, fmt.Errorf("%w: capabilities caveat lists more than "+
			"%d capabilities", ErrCaveatMalformed, MaxListEntries)
	}
	for _, c := range caps {
		if err := ValidName(c); err != nil {
			return nil, fmt.Errorf("%w: capability: %v",
				ErrCaveatMalformed, err)
		}
	}
	return caps, nil
}

// ValidUntilCaveat returns <service>_valid_until=<unix seconds>.
func ValidUntilCaveat(service string, t time.Time) (Caveat, error) {
	if err := ValidName(service); err != nil {
		return Caveat{}, fmt.Errorf("service: %w", err)
	}
	return Caveat{
		Condition: service + CondValidUntilSuffix,
		Value:     strconv.FormatInt(t.Unix(), 10),
	}, nil
}

// decodeValidUntil parses the value of a valid_until caveat.
func decodeValidUntil(value string) (time.Time, error) {
	secs, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: valid_until %q is not unix "+
			"seconds", ErrCaveatMalformed, truncate(value))
	}
	return time.Unix(secs, 0), nil
}

// ResourceCaveat returns <service>_resource=<path>: the token is good for
// that path only.
func ResourceCaveat(service, path string) (Caveat, error) {
	if err := ValidName(service); err != nil {
		return Caveat{}, fmt.Errorf("service: %w", err)
	}
	if path == "" || len(path) > MaxResourceLen {
		return Caveat{}, fmt.Errorf("resource path must be 1 to %d bytes",
			MaxResourceLen)
	}
	return Caveat{Condition: service + CondResourceSuffix, Value: path}, nil
}

// MaxResourceLen bounds a resource caveat's path and query: serve answers
// a longer one with 414 before pricing it.
const MaxResourceLen = 2048

// Target is what a request asks a token for: a service, the capabilities
// the request needs on it (none for a service that declares none), and the
// time of the request.
type Target struct {
	Service      string
	Capabilities []string
	Now          time.Time

	// Resource is the request's path; a token with a resource caveat
	// for the service is good for that path only.
	Resource string
}

// CheckCaveats checks a token's caveats against a target. A services caveat
// must be present. For every condition that concerns the target, each later
// caveat may only narrow the one before it, and the last one must allow the
// target. Conditions this package does not know are ignored.
func CheckCaveats(caveats []Caveat, t Target) error {
	if len(caveats) > MaxCaveats {
		return fmt.Errorf("%w: more than %d caveats", ErrCaveatMalformed,
			MaxCaveats)
	}
	var st caveatState
	for _, c := range caveats {
		if err := st.add(c, t.Service); err != nil {
			return err
		}
	}
	return st.check(t)
}

// caveatState is what CheckCaveats has read so far: the last caveat of
// each condition that concerns the target service.
type caveatState struct {
	sawServices bool
	services    []Service
	sawCaps     bool
	caps        []string
	sawUntil    bool
	until       time.Time
	sawResource bool
	resource    string
}

// add reads one caveat, refusing one that widens an earlier caveat of the
// same condition. Of the per-service conditions, only the service's own
// count; they are told apart by suffix, so that no condition name is
// built per check.
func (st *caveatState) add(c Caveat, service string) error {
	if c.Condition == CondServices {
		svcs, err := DecodeServices(c.Value)
		if err != nil {
			return err
		}
		if st.sawServices && !servicesSubset(svcs, st.services) {
			return fmt.Errorf("%w: services %q", ErrCaveatWidens,
				truncate(c.Value))
		}
		st.sawServices, st.services = true, svcs
		return nil
	}
	suffix, ok := strings.CutPrefix(c.Condition, service)
	if !ok {
		return nil
	}

	switch suffix {
	case CondCapabilitiesSuffix:
		caps, err := decodeCapabilities(c.Value)
		if err != nil {
			return err
		}
		if st.sawCaps && !stringsSubset(caps, st.caps) {
			return fmt.Errorf("%w: %s %q", ErrCaveatWidens, c.Condition,
				truncate(c.Value))
		}
		st.sawCaps, st.caps = true, caps

	case CondValidUntilSuffix:
		until, err := decodeValidUntil(c.Value)
		if err != nil {
			return err
		}
		if st.sawUntil && until.After(st.until) {
			return fmt.Errorf("%w: %s %q", ErrCaveatWidens, c.Condition,
				truncate(c.Value))
		}
		st.sawUntil, st.until = true, until

	case CondResourceSuffix:
		// A second resource caveat can only repeat the first.
		if st.sawResource && c.Value != st.resource {
			return fmt.Errorf("%w: %s %q", ErrCaveatWidens, c.Condition,
				truncate(c.Value))
		}
		st.sawResource, st.resource = true, c.Value
	}
	return nil
}

// check holds the target against what the caveats allow: the last caveat
// of each condition decides.
func (st *caveatState) check(t Target) error {
	if !st.sawServices {
		return fmt.Errorf("%w: token names no service", ErrServiceNotAllowed)
	}
	if !containsService(st.services, t.Service) {
		return fmt.Errorf("%w: %q", ErrServiceNotAllowed,
			truncate(t.Service))
	}
	if st.sawCaps {
		for _, want := range t.Capabilities {
			if !containsString(st.caps, want) {
				return fmt.Errorf("%w: %q", ErrCapabilityNotAllowed,
					truncate(want))
			}
		}
	}
	if st.sawResource && st.resource != t.Resource {
		return fmt.Errorf("%w: the token is for %q", ErrResourceNotAllowed,
			truncate(st.resource))
	}
	// Valid while now is before the expiry, as Aperture's timeout
	// satisfier has it: from the _valid_until second on, expired.
	if st.sawUntil && !t.Now.Before(st.until) {
		return fmt.Errorf("%w: valid until %s", ErrTokenExpired,
			st.until.UTC().Format(time.RFC3339))
	}
	return nil
}

// servicesSubset reports whether every service in cur is in prev with a
// tier no higher than before. Both lists are bounded by MaxListEntries.
func servicesSubset(cur, prev []Service) bool {
	tiers := make(map[string]uint8, len(prev))
	for _, p := range prev {
		if t, ok := tiers[p.Name]; !ok || p.Tier > t {
			tiers[p.Name] = p.Tier
		}
	}
	for _, c := range cur {
		if t, ok := tiers[c.Name]; !ok || c.Tier > t {
			return false
		}
	}
	return true
}

// containsService reports whether name is among services.
func containsService(services []Service, name string) bool {
	for _, s := range services {
		if s.Name == name {
			return true
		}
	}
	return false
}

// stringsSubset reports whether every element of cur is in prev.
func stringsSubset(cur, prev []string) bool {
	set := make(map[string]struct{}, len(prev))
	for _, p := range prev {
		set[p] = struct{}{}
	}
	for _, c := range cur {
		if _, ok := set[c]; !ok {
			return false
		}
	}
	return true
}

// containsString reports whether s is in list.
func containsString(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// truncate shortens attacker-controlled text before it goes into an error
// message, so that a hostile token cannot flood the logs.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
