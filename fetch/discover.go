package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/tokens"
)

// ManifestPath is where a seller publishes its discovery manifest (the
// L402 discovery specification, lightninglabs/L402 PR 27; RFC 8615).
const ManifestPath = "/.well-known/l402.json"

// ManifestMax is the largest manifest Discover reads.
const ManifestMax = 1 << 20

// The conditions of Discover.
var (
	// ErrNoManifest: the origin publishes no free manifest (404, 410,
	// or a 401, 402 or 403 where the spec says the manifest is free).
	ErrNoManifest = fault.New("no_manifest", "no discovery manifest")

	// ErrBadManifest: the manifest is not JSON, is over ManifestMax, or
	// lacks a member the spec requires or has one of the wrong type.
	ErrBadManifest = fault.New("invalid_discovery",
		"invalid discovery manifest")
)

// errManifestElsewhere: the manifest's URL redirected to another origin.
var errManifestElsewhere = errors.New("a manifest is its origin's own, " +
	"and is not followed to another")

// DiscoverOptions are what Discover is asked: the origin, and how to reach
// it (RunOptions' transport settings).
type DiscoverOptions struct {
	// URL is the origin, or any URL of it: the manifest is read at the
	// origin's ManifestPath.
	URL string

	// Timeout bounds connecting and waiting for the answer; nil is
	// DefaultTimeout.
	Timeout  *time.Duration
	Insecure bool
	CACert   string

	// Log receives each step (verbose); nil is silent.
	Log io.Writer
}

// Discovery is an origin's manifest as Discover read it; `l402 discover
// --json` prints it and its field names are stable for agents.
type Discovery struct {
	// URL is the manifest's, Origin the origin's (scheme://host:port).
	URL    string `json:"url"`
	Origin string `json:"origin"`

	// StatusCode is the answer's status, also with ErrNoManifest.
	StatusCode int `json:"status_code"`

	Manifest Manifest `json:"manifest"`

	// Warnings name what the manifest does that the spec says it should
	// not, where the rest can still be read.
	Warnings []string `json:"warnings"`
}

// Manifest is the discovery manifest (the spec's section 5). Members the
// spec does not define are ignored, as it requires; the JSON is the
// manifest's own member names.
type Manifest struct {
	Version          string                `json:"version"`
	Provider         Provider              `json:"provider"`
	Currencies       []string              `json:"currencies"`
	MacaroonVersions []int                 `json:"macaroon_versions,omitempty"`
	PaymentMethods   []string              `json:"payment_methods"`
	QuoteEndpoint    string                `json:"quote_endpoint,omitempty"`
	OpenAPI          string                `json:"openapi,omitempty"`
	Services         []Service             `json:"services"`
	Caveats          map[string]CaveatSpec `json:"caveats,omitempty"`
}

// Provider is who serves the manifest.
type Provider struct {
	Name       string `json:"name"`
	URI        string `json:"uri,omitempty"`
	NodePubkey string `json:"node_pubkey,omitempty"`
}

// Service is one service of the catalog.
type Service struct {
	Name         string     `json:"name"`
	Description  string     `json:"description,omitempty"`
	Tiers        []Tier     `json:"tiers,omitempty"`
	Capabilities []string   `json:"capabilities,omitempty"`
	Resources    []Resource `json:"resources"`
}

// Tier is one tier of a service; 0 is the base tier.
type Tier struct {
	Tier        uint8  `json:"tier"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// Resource is what a client pays for: an entry point and its price.
type Resource struct {
	// Path is a template (the spec); Aperture writes its pathregexp.
	Path string `json:"path,omitempty"`

	// Method is GET when the manifest names none.
	Method      string                `json:"method"`
	Capability  string                `json:"capability,omitempty"`
	Pricing     Pricing               `json:"pricing"`
	Constraints map[string]Constraint `json:"constraints,omitempty"`
}

// Pricing is a resource's price: fixed (PriceMsat), formula (BaseMsat plus
// Components) or dynamic (ask the quote endpoint).
type Pricing struct {
	Model      string      `json:"model"`
	PriceMsat  *int64      `json:"price_msat,omitempty"`
	BaseMsat   *int64      `json:"base_msat,omitempty"`
	Components []Component `json:"components,omitempty"`
}

// Component is one per-unit charge of a formula price:
// PriceMsatPerUnit * ceil(value / Unit).
type Component struct {
	Constraint       string `json:"constraint"`
	PriceMsatPerUnit *int64 `json:"price_msat_per_unit"`

	// Unit is 1 when the manifest names none.
	Unit int64 `json:"unit"`
}

// Constraint bounds a value a client may choose for a caveat.
type Constraint struct {
	Type               string `json:"type"`
	Min                *int64 `json:"min,omitempty"`
	Max                *int64 `json:"max,omitempty"`
	MaxDurationSeconds *int64 `json:"max_duration_seconds,omitempty"`
	Values             []any  `json:"values,omitempty"`
}

// CaveatSpec is one caveat condition the provider enforces.
type CaveatSpec struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Attenuation string `json:"attenuation,omitempty"`
}

// Discover reads the discovery manifest of an origin, never paying and
// sending no token: a manifest is free. A manifest that is not there is
// ErrNoManifest, one that is not a manifest ErrBadManifest; both come with
// the Discovery's URL and status. It is `l402 discover`, mcp's discover
// tool, and what a dry run can show beside a 402's price.
func Discover(ctx context.Context, o DiscoverOptions) (Discovery, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return Discovery{}, badOptions(fmt.Errorf("bad URL: %w", err))
	}
	origin, err := tokens.Origin(u)
	if err != nil {
		return Discovery{}, badOptions(err)
	}
	d := Discovery{Origin: origin, URL: manifestURL(u), Warnings: []string{}}

	timeout := or(o.Timeout, DefaultTimeout)
	if timeout <= 0 {
		return d, badLimit(LimitTimeout, "%s must be positive, got %s",
			timeout)
	}
	t, err := RunOptions{Insecure: o.Insecure, CACert: o.CACert}.transport(
		timeout)
	if err != nil {
		return d, err
	}
	defer t.CloseIdleConnections()
	hc := &http.Client{Transport: t, CheckRedirect: func(next *http.Request,
		via []*http.Request) error {

		// The manifest is the origin's own: it is not followed to
		// another one.
		if o, err := tokens.Origin(next.URL); err != nil || o != origin {
			return fmt.Errorf("%s redirected to %s: %w", d.URL,
				next.URL.Redacted(), errManifestElsewhere)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL, nil)
	if err != nil {
		return d, badOptions(err)
	}
	req.Header.Set("Accept", "application/json")
	progress(o.Log, "reading the discovery manifest %s", d.URL)
	resp, err := hc.Do(req)
	if errors.Is(err, errManifestElsewhere) {
		return d, ErrNoManifest.Mark(err)
	}
	if err != nil {
		return d, networkError(err)
	}
	defer resp.Body.Close()
	d.StatusCode = resp.StatusCode
	progress(o.Log, "%s answered %s", d.URL, resp.Status)

	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		return d, ErrNoManifest.Mark(fmt.Errorf("%s publishes no "+
			"discovery manifest: %s answered %s", origin, d.URL,
			resp.Status))
	case http.StatusPaymentRequired, http.StatusUnauthorized,
		http.StatusForbidden:
		return d, ErrNoManifest.Mark(fmt.Errorf("%s publishes no free "+
			"discovery manifest: %s answered %s (the discovery spec says "+
			"the manifest is free; l402 never pays for one)", origin,
			d.URL, resp.Status))
	default:
		return d, httpError(resp, d.URL)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, ManifestMax+1))
	if err != nil {
		return d, networkError(fmt.Errorf("reading %s: %w", d.URL, err))
	}
	if len(body) > ManifestMax {
		return d, ErrBadManifest.Mark(fmt.Errorf("%s is over %d bytes",
			d.URL, ManifestMax))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get(
		"Content-Type")); mt != "application/json" {
		d.Warnings = append(d.Warnings, fmt.Sprintf("served as %q, not "+
			"application/json", resp.Header.Get("Content-Type")))
	}
	m, warnings, err := ParseManifest(body)
	if err != nil {
		return d, ErrBadManifest.Mark(fmt.Errorf("%s: %w", d.URL, err))
	}
	d.Manifest, d.Warnings = m, append(d.Warnings, warnings...)
	return d, nil
}

// manifestURL returns the manifest's URL on u's origin, without the
// scheme's default port, as a browser would name it.
func manifestURL(u *url.URL) string {
	m := url.URL{Scheme: strings.ToLower(u.Scheme),
		Host: strings.ToLower(u.Host), Path: ManifestPath}
	if port := map[string]string{"https": "443", "http": "80"}[m.Scheme]; port ==
		u.Port() {
		m.Host = strings.TrimSuffix(m.Host, ":"+port)
	}
	return m.String()
}

// ParseManifest reads a manifest strictly: it must be one JSON object
// with every member the spec requires, each of its type (an integer where
// it says integer, not a string or a fraction), a fixed price for a
// fixed resource, and a known pricing model. Members it does not define
// are ignored, as the spec requires. The warnings name what it should not
// do but which leaves it readable: another major version, a formula or
// dynamic price without a quote endpoint.
func ParseManifest(b []byte) (Manifest, []string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Manifest{}, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	for _, member := range []string{"version", "provider", "currencies",
		"services"} {
		if v, ok := raw[member]; !ok || string(v) == "null" {
			return Manifest{}, nil, fmt.Errorf("no %q: the spec requires "+
				"it", member)
		}
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, nil, err
	}

	var warnings []string
	major, _, _ := strings.Cut(m.Version, ".")
	switch {
	case m.Version == "":
		return m, nil, errors.New("version is empty")
	case major != "1":
		warnings = append(warnings, fmt.Sprintf("version %q: l402 reads "+
			"version 1 and took the members it knows", m.Version))
	}
	if m.Provider.Name == "" {
		return m, nil, errors.New("provider.name is missing or empty")
	}
	if !contains(m.Currencies, "msat") {
		return m, nil, fmt.Errorf("currencies %q lacks msat, the unit of "+
			"every price", m.Currencies)
	}
	if len(m.PaymentMethods) == 0 {
		m.PaymentMethods = []string{"bolt11"}
	}
	for i := range m.Services {
		w, err := checkService(&m.Services[i], m.QuoteEndpoint != "")
		if err != nil {
			return m, nil, fmt.Errorf("services[%d]: %w", i, err)
		}
		warnings = append(warnings, w...)
	}
	return m, warnings, nil
}

// checkService checks one service of the catalog and fills in its
// defaults; quotes says the manifest names a quote endpoint.
func checkService(s *Service, quotes bool) ([]string, error) {
	if s.Name == "" {
		return nil, errors.New("name is missing or empty")
	}
	if s.Resources == nil {
		return nil, fmt.Errorf("service %s has no resources: the spec "+
			"requires them", s.Name)
	}
	var warnings []string
	for i := range s.Resources {
		r := &s.Resources[i]
		where := fmt.Sprintf("service %s, resources[%d]", s.Name, i)
		if r.Method == "" {
			r.Method = http.MethodGet
		}
		r.Method = strings.ToUpper(r.Method)
		if r.Capability != "" && s.Capabilities != nil &&
			!contains(s.Capabilities, r.Capability) {
			return nil, fmt.Errorf("%s: capability %q is not one of the "+
				"service's %q", where, r.Capability, s.Capabilities)
		}
		if err := checkPricing(&r.Pricing); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if r.Pricing.Model != "fixed" && !quotes {
			warnings = append(warnings, fmt.Sprintf("%s is priced %s but "+
				"the manifest names no quote_endpoint, which the spec "+
				"requires for it", where, r.Pricing.Model))
		}
		for key, c := range r.Constraints {
			switch c.Type {
			case "integer", "timestamp", "string", "enum":
			default:
				return nil, fmt.Errorf("%s: constraint %s has type %q: "+
					"integer, timestamp, string or enum", where, key,
					c.Type)
			}
		}
	}
	return warnings, nil
}

// checkPricing checks a pricing object and fills in its components'
// default unit.
func checkPricing(p *Pricing) error {
	negative := func(v *int64) bool { return v != nil && *v < 0 }
	switch p.Model {
	case "fixed":
		if p.PriceMsat == nil {
			return errors.New("a fixed price needs price_msat")
		}
	case "formula":
		if p.BaseMsat == nil || p.Components == nil {
			return errors.New("a formula price needs base_msat and " +
				"components")
		}
	case "dynamic":
	case "":
		return errors.New("pricing.model is missing")
	default:
		return fmt.Errorf("pricing model %q: fixed, formula or dynamic",
			p.Model)
	}
	if negative(p.PriceMsat) || negative(p.BaseMsat) {
		return errors.New("a price cannot be negative")
	}
	for i := range p.Components {
		c := &p.Components[i]
		switch {
		case c.Constraint == "" || c.PriceMsatPerUnit == nil:
			return fmt.Errorf("components[%d] needs constraint and "+
				"price_msat_per_unit", i)
		case negative(c.PriceMsatPerUnit) || c.Unit < 0:
			return fmt.Errorf("components[%d]: a price or unit cannot be "+
				"negative", i)
		case c.Unit == 0:
			c.Unit = 1
		}
	}
	return nil
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
