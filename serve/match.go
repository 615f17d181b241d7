package serve

import (
	"net"
	"net/http"
	"strings"
)

// route is one configured service as the stages see it: its config, and
// its index in the config's services, by which each stage finds the
// pieces it built for that service.
type route struct {
	index int
	cfg   *ServiceConfig
}

// matchStage finds the service a request is for: the first whose
// hostregexp matches the (normalised) Host and whose pathregexp, if any,
// matches the path. Requests for no service get 404.
type matchStage struct {
	chained
	routes []route
}

// newMatchStage builds the routes of cfg's services, in their order.
func newMatchStage(cfg *Config) *matchStage {
	s := &matchStage{}
	for i := range cfg.Services {
		s.routes = append(s.routes, route{index: i, cfg: &cfg.Services[i]})
	}
	return s
}

// serve implements stage.
func (s *matchStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	f.route = s.match(r)
	if f.route == nil {
		http.Error(w, "no service at this address", http.StatusNotFound)
		return
	}
	s.next.serve(w, r, f)
}

// match returns the first route whose host and path regexps match.
func (s *matchStage) match(r *http.Request) *route {
	host := normalHost(r.Host)
	for i := range s.routes {
		rt := &s.routes[i]
		if !rt.cfg.HostRegexp.MatchString(host) {
			continue
		}
		if rt.cfg.PathRegexp.Regexp != nil &&
			!rt.cfg.PathRegexp.MatchString(r.URL.Path) {
			continue
		}
		return rt
	}
	return nil
}

// anyMatch reports whether path matches one of the regexps.
func anyMatch(res []Regexp, path string) bool {
	for _, re := range res {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// normalHost lower-cases a Host, drops its port and a trailing dot from
// its name, so that hostregexp sees one spelling of each host whatever
// port the client named: "API.Example.:80" is "api.example", and an IPv6
// literal keeps its brackets ("[::1]:8081" is "[::1]", as a Host without
// a port is written).
func normalHost(h string) string {
	// Only a Host with a port after its last ']' can split; asking
	// SplitHostPort of one without would allocate its error.
	if strings.LastIndexByte(h, ':') > strings.LastIndexByte(h, ']') {
		if name, _, err := net.SplitHostPort(h); err == nil {
			h = name
			if strings.Contains(name, ":") {
				h = "[" + name + "]"
			}
		}
	}
	if !strings.ContainsAny(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		!strings.HasSuffix(h, ".") {
		return h // the usual case: nothing to change, nothing to allocate
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
