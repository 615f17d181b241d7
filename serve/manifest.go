package serve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// ManifestPath is where serve publishes its discovery manifest: the
// L402 discovery specification's well-known URI (lightninglabs/L402 PR
// 27, RFC 8615), as Aperture's discovery package serves it (Aperture PR
// 241). docs/serve.md describes the document.
const ManifestPath = "/.well-known/l402.json"

// ManifestVersion is the version of the spec's manifest serve writes.
const ManifestVersion = "1.0"

// manifestMaxAge is how long a client or cache may keep the manifest
// (Cache-Control max-age, in seconds): a price changed through the admin
// API shows in it within a minute, and the price a client pays is always
// the invoice's.
const manifestMaxAge = 60

// manifestDoc is the discovery manifest (the spec's section 5), with
// l402's members on services; clients ignore members they do not know,
// as the spec requires.
type manifestDoc struct {
	Version          string                      `json:"version"`
	Provider         manifestProvider            `json:"provider"`
	Currencies       []string                    `json:"currencies"`
	MacaroonVersions []int                       `json:"macaroon_versions"`
	PaymentMethods   []string                    `json:"payment_methods"`
	Services         []manifestService           `json:"services"`
	Caveats          map[string]manifestCaveat   `json:"caveats"`
	hosts            []Regexp                    // by service: its hostregexp
	vocab            []map[string]manifestCaveat // by service: its caveats
}

// manifestProvider is who serves the manifest.
type manifestProvider struct {
	Name       string `json:"name"`
	NodePubkey string `json:"node_pubkey,omitempty"`
}

// manifestService is one service of the catalog. Schemes, TimeoutSeconds
// and Freebies are l402's members.
type manifestService struct {
	Name           string             `json:"name"`
	Tiers          []manifestTier     `json:"tiers"`
	Capabilities   []string           `json:"capabilities,omitempty"`
	Resources      []manifestResource `json:"resources"`
	Schemes        []string           `json:"schemes"`
	TimeoutSeconds int64              `json:"timeout_seconds,omitempty"`
	Freebies       int                `json:"freebies,omitempty"`
}

// manifestTier is a tier of a service; serve mints the base tier only.
type manifestTier struct {
	Tier int    `json:"tier"`
	Name string `json:"name"`
}

// manifestResource is what a client pays for: the service's pathregexp
// and its price.
type manifestResource struct {
	Path    string          `json:"path,omitempty"`
	Pricing manifestPricing `json:"pricing"`
}

// manifestPricing is a fixed price in millisatoshis, or "dynamic" (the
// price server's, or a metered service's bundle, learned from the 402).
type manifestPricing struct {
	Model     string `json:"model"`
	PriceMsat *int64 `json:"price_msat,omitempty"`
}

// manifestCaveat is a caveat condition serve enforces.
type manifestCaveat struct {
	Type        string `json:"type"`
	Attenuation string `json:"attenuation,omitempty"`
}

// manifestStage answers GET and HEAD of ManifestPath before any service
// is matched, so that a catch-all service does not hide it: free,
// cacheable (Cache-Control, ETag, 304), readable by any page (CORS *).
// The manifest lists the services whose hostregexp matches the request's
// host; the stage is rebuilt with the handler, so that services changed
// through the admin API or a reload show at once.
type manifestStage struct {
	chained
	doc manifestDoc
}

// newManifestStage builds the manifest of cfg's services, or returns nil
// when discovery is off.
func newManifestStage(cfg *Config, node lightning.Info) *manifestStage {
	if !cfg.DiscoveryOn() {
		return nil
	}
	doc := manifestDoc{
		Version:          ManifestVersion,
		Provider:         manifestProvider{Name: providerName(cfg, node), NodePubkey: node.Pubkey},
		Currencies:       []string{"msat"},
		MacaroonVersions: []int{int(l402.IdentifierVersion0)},
		PaymentMethods:   []string{"bolt11"},
	}
	for _, sc := range cfg.Services {
		if !listed(cfg, sc) {
			continue
		}
		doc.Services = append(doc.Services, manifestEntry(sc,
			offeredSchemes(sc, cfg.Authenticator.MPP)))
		doc.hosts = append(doc.hosts, sc.HostRegexp)
		doc.vocab = append(doc.vocab, manifestCaveats(sc))
	}
	return &manifestStage{doc: doc}
}

// DiscoveryOn reports whether serve publishes its discovery manifest:
// unless `discovery: false`.
func (c *Config) DiscoveryOn() bool {
	return c.Discovery == nil || *c.Discovery
}

// providerName is the manifest's provider name: servername (the domain
// autocert serves), else the node's alias, else "l402 serve".
func providerName(cfg *Config, node lightning.Info) string {
	switch {
	case cfg.ServerName != "":
		return cfg.ServerName
	case node.Alias != "":
		return node.Alias
	}
	return "l402 serve"
}

// listed reports whether a service is in the manifest: those a client
// pays for. A service without payment (auth off, authenticator.disable)
// and one in shadow mode (free until it is switched on) are not.
func listed(cfg *Config, sc ServiceConfig) bool {
	return !cfg.Authenticator.Disable && !sc.Auth.Off && !sc.shadow()
}

// manifestEntry is a service as the manifest lists it, with the schemes
// its 402 offers.
func manifestEntry(sc ServiceConfig, schemes []string) manifestService {
	res := manifestResource{Pricing: manifestPricing{Model: "dynamic"}}
	if sc.PathRegexp.Regexp != nil {
		res.Path = sc.PathRegexp.String()
	}
	if !sc.DynamicPrice.Enabled && sc.Meter == nil {
		msat := sc.Price * 1000
		res.Pricing = manifestPricing{Model: "fixed", PriceMsat: &msat}
	}
	return manifestService{
		Name:           sc.Name,
		Tiers:          []manifestTier{{Tier: 0, Name: "base"}},
		Capabilities:   sc.CapabilityList(),
		Resources:      []manifestResource{res},
		Schemes:        schemes,
		TimeoutSeconds: sc.Timeout,
		Freebies:       sc.Auth.Freebies,
	}
}

// offeredSchemes names the schemes a service's 402 offers (its
// authscheme, or L402 and, with enablempp, the Payment scheme), as the
// WWW-Authenticate fields and lnget's --prefer-scheme name them: "L402"
// (whose challenge is also sent under its old name LSAT) and "Payment".
func offeredSchemes(sc ServiceConfig, m MPPConfig) []string {
	withL402, withPayment := sc.schemes(m)
	var out []string
	if withL402 {
		out = append(out, "L402")
	}
	if withPayment {
		out = append(out, "Payment")
	}
	return out
}

// manifestCaveats is the caveat vocabulary a service's tokens carry and serve
// checks: its capabilities, its validity and, dynamically priced, the
// resource the token is bound to.
func manifestCaveats(sc ServiceConfig) map[string]manifestCaveat {
	v := map[string]manifestCaveat{}
	if len(sc.CapabilityList()) > 0 {
		v[sc.Name+l402.CondCapabilitiesSuffix] = manifestCaveat{
			Type: "string", Attenuation: "subset"}
	}
	if sc.Timeout > 0 {
		v[sc.Name+l402.CondValidUntilSuffix] = manifestCaveat{
			Type: "timestamp", Attenuation: "earlier"}
	}
	if sc.DynamicPrice.Enabled && !sc.metered() {
		// A repeated resource caveat must name the same path: no
		// attenuation of the spec's fits it. A metered token buys a
		// bundle for the whole service.
		v[sc.Name+l402.CondResourceSuffix] = manifestCaveat{Type: "string"}
	}
	return v
}

// forHost returns the manifest of the services a host reaches, as JSON.
func (d *manifestDoc) forHost(host string) []byte {
	out := *d
	out.Services = []manifestService{}
	out.Caveats = map[string]manifestCaveat{
		l402.CondServices: {Type: "service_list", Attenuation: "subset"}}
	for i, s := range d.Services {
		if !d.hosts[i].MatchString(host) {
			continue
		}
		out.Services = append(out.Services, s)
		for cond, c := range d.vocab[i] {
			out.Caveats[cond] = c
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(out) // plain values: cannot fail
	return b.Bytes()
}

// isManifestRequest reports whether a request is for the manifest.
func isManifestRequest(r *http.Request) bool {
	return r.URL.Path == ManifestPath
}

// serve implements stage.
func (s *manifestStage) serve(w http.ResponseWriter, r *http.Request,
	f *flow) {

	if !isManifestRequest(r) || isGRPC(r) {
		s.next.serve(w, r, f)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD")
		h.Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "the manifest is read with GET",
			http.StatusMethodNotAllowed)
		return
	}
	body := s.doc.forHost(normalHost(r.Host))
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(manifestMaxAge))
	h.Set("ETag", etag)
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// matchesETag reports whether an If-None-Match header names etag (or is
// "*"), weak or strong.
func matchesETag(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || v == etag {
			return true
		}
	}
	return false
}
