package serve

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CORSConfig lets browser pages of other origins call the services (ours;
// Aperture has CORS for its admin API only). It is off unless
// alloworigins names an origin. With it on, serve answers preflight
// requests itself, without payment, and exposes the challenge
// (WWW-Authenticate) to the page's script.
type CORSConfig struct {
	// AllowOrigins are the origins (scheme://host[:port]) whose pages
	// may call; "*" is every origin. The request's own origin is sent
	// back, never "*".
	AllowOrigins []string `yaml:"alloworigins"`

	// AllowMethods and AllowHeaders answer preflights (defaults: GET,
	// HEAD, POST, PUT, PATCH, DELETE; Authorization, Content-Type).
	// Authorization, which carries the L402 credential, is always
	// allowed.
	AllowMethods []string `yaml:"allowmethods"`
	AllowHeaders []string `yaml:"allowheaders"`

	// ExposeHeaders are response headers of the backends the page may
	// read, besides those serve sends (WWW-Authenticate,
	// Payment-Receipt, Retry-After).
	ExposeHeaders []string `yaml:"exposeheaders"`

	// AllowCredentials lets pages send cookies and read the responses
	// to them (Access-Control-Allow-Credentials); not with "*".
	AllowCredentials bool `yaml:"allowcredentials"`

	// MaxAge is how long a browser may keep a preflight's answer;
	// 0 leaves it to the browser (seconds, at most).
	MaxAge time.Duration `yaml:"maxage"`
}

// The CORS defaults, and the headers serve itself sends that a page's
// script must read: the challenge, the Payment scheme's receipt and the
// wait of a 429 or 503.
var (
	defaultCORSMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH",
		"DELETE"}
	defaultCORSHeaders = []string{"Authorization", "Content-Type"}
	servedHeaders      = []string{"WWW-Authenticate", "Payment-Receipt",
		"Retry-After"}
)

// corsHeaders are the response headers serve owns when CORS is on; a
// backend's are dropped so that the browser sees one answer.
var corsHeaders = []string{"Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Expose-Headers",
	"Access-Control-Max-Age"}

// on reports whether CORS is configured.
func (c CORSConfig) on() bool { return len(c.AllowOrigins) > 0 }

// check validates the cors block.
func (c *CORSConfig) check() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("cors: "+format, args...))
	}
	if !c.on() {
		if len(c.AllowMethods)+len(c.AllowHeaders)+len(c.ExposeHeaders) >
			0 || c.AllowCredentials || c.MaxAge != 0 {
			bad("alloworigins is required: without it CORS is off and " +
				"the other cors keys do nothing")
		}
		return errs
	}
	for i, o := range c.AllowOrigins {
		switch norm, err := origin(o); {
		case err != nil:
			bad("alloworigins: %v", err)
		case norm == "*" && c.AllowCredentials:
			bad("allowcredentials with alloworigins \"*\" would let " +
				"every site send the user's cookies: name the origins")
		default:
			c.AllowOrigins[i] = norm
		}
	}
	for i, m := range c.AllowMethods {
		if !isToken(m) {
			bad("allowmethods: %q is not a method", m)
		}
		c.AllowMethods[i] = strings.ToUpper(m)
	}
	for _, list := range [][]string{c.AllowHeaders, c.ExposeHeaders} {
		for _, h := range list {
			if !isToken(h) || h == "*" {
				bad("%q is not a header name", h)
			}
		}
	}
	if c.MaxAge < 0 {
		bad("maxage cannot be negative")
	}
	return errs
}

// origin checks and lower-cases an allowed origin: "*", or scheme://host
// with an optional port and nothing after it.
func origin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	if strings.EqualFold(o, "null") {
		return "", errors.New(`"null" is the origin of sandboxed and ` +
			`file pages, which any site can open: name real origins`)
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an origin such as "+
			"https://app.example.com", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// corsStage follows filter when CORS is on: it answers preflights itself
// (204, or 403 for an origin not allowed), so that they need no token,
// and marks other requests from an allowed origin so that their answers
// (a 402, a refusal, the backend's response) may be read by the page. It
// is not in the chain when CORS is off.
type corsStage struct {
	chained
	anyOrigin   bool
	origins     map[string]bool
	credentials bool

	// The header values, joined once.
	methods, headers, expose, maxAge string
}

// newCORSStage builds the stage of a checked cors block, or returns nil
// when CORS is off.
func newCORSStage(c CORSConfig) *corsStage {
	if !c.on() {
		return nil
	}
	s := &corsStage{origins: map[string]bool{},
		credentials: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			s.anyOrigin = true
		}
		s.origins[o] = true
	}
	methods := c.AllowMethods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	headers := c.AllowHeaders
	if len(headers) == 0 {
		headers = defaultCORSHeaders
	}
	if !containsFold(headers, "Authorization") {
		headers = append([]string{"Authorization"}, headers...)
	}
	s.methods = strings.Join(methods, ", ")
	s.headers = strings.Join(headers, ", ")
	s.expose = strings.Join(append(append([]string(nil), servedHeaders...),
		c.ExposeHeaders...), ", ")
	if secs := int64(c.MaxAge / time.Second); secs > 0 {
		s.maxAge = strconv.FormatInt(secs, 10)
	}
	return s
}

// serve implements stage.
func (s *corsStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	h := w.Header()
	// Answers differ by Origin: a cache must not hand one page's answer
	// to another's.
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	allowed := origin != "" && s.allows(origin)

	if r.Method == http.MethodOptions && origin != "" &&
		r.Header.Get("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if !allowed {
			http.Error(w, "CORS: origin "+origin+" is not allowed",
				http.StatusForbidden)
			return
		}
		s.allow(h, origin)
		h.Set("Access-Control-Allow-Methods", s.methods)
		h.Set("Access-Control-Allow-Headers", s.headers)
		if s.maxAge != "" {
			h.Set("Access-Control-Max-Age", s.maxAge)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if allowed {
		s.allow(h, origin)
		h.Set("Access-Control-Expose-Headers", s.expose)
	}
	s.next.serve(w, r, f)
}

// allows reports whether a request's Origin is allowed.
func (s *corsStage) allows(origin string) bool {
	return s.anyOrigin || s.origins[strings.ToLower(origin)]
}

// allow sets the headers that let the page of origin read the answer.
func (s *corsStage) allow(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	if s.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// containsFold reports whether list holds s, whatever the case.
func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2),
// the form of a method and of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z',
			c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
