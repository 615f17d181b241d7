package serve

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/l402/l402/internal/store"
)

// Where a service comes from, as the admin API says.
const (
	sourceConfig = "config"     // serve.yaml
	sourceAPI    = "api"        // created through the admin API
	sourceBoth   = "config+api" // serve.yaml's, changed through the API
)

// effectiveService is one service in force and where it comes from.
type effectiveService struct {
	cfg    ServiceConfig
	source string
}

// mergeServices returns the services in force: those created through the
// admin API first, in the order of their creation (so that a catch-all
// service of the file does not hide them), then the file's in its order,
// each overlaid field by field by its row, and without those the API
// deleted. A row that does not make a valid service (written by a newer
// l402, say) is left out and reported in bad, so that the others still
// apply.
func mergeServices(file []ServiceConfig, rows []store.ServiceRow) (
	out []effectiveService, bad []error) {

	byName := make(map[string]store.ServiceRow, len(rows))
	for _, r := range rows {
		byName[r.Name] = r
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if !r.Created || r.Deleted {
			continue
		}
		sc, err := overlay(ServiceConfig{Name: r.Name}, r, seen)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, effectiveService{cfg: sc, source: sourceAPI})
	}
	for _, sc := range file {
		r, ok := byName[sc.Name]
		switch {
		case !ok:
			if !seen[sc.Name] {
				seen[sc.Name] = true
				out = append(out, effectiveService{cfg: sc,
					source: sourceConfig})
			}
			continue
		case r.Deleted || r.Created:
			continue // deleted, or replaced by the API's own
		}
		merged, err := overlay(sc, r, seen)
		if err != nil {
			bad = append(bad, err)
			merged, seen[sc.Name] = sc, true
			out = append(out, effectiveService{cfg: merged,
				source: sourceConfig})
			continue
		}
		out = append(out, effectiveService{cfg: merged, source: sourceBoth})
	}
	return out, bad
}

// overlay returns base with the row's fields set over it, checked as the
// config file's services are; seen holds the names taken so far.
func overlay(base ServiceConfig, r store.ServiceRow, seen map[string]bool) (
	ServiceConfig, error) {

	sc := base
	sc.Headers = maps.Clone(base.Headers)
	if r.Address != nil {
		sc.Address = *r.Address
	}
	if r.Protocol != nil {
		sc.Protocol = *r.Protocol
	}
	var errs []error
	re := func(field string, v *string, dst *Regexp) {
		if v == nil {
			return
		}
		if *v == "" {
			*dst = Regexp{}
			return
		}
		c, err := regexp.Compile(*v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			return
		}
		*dst = Regexp{Regexp: c}
	}
	re("host_regexp", r.HostRegexp, &sc.HostRegexp)
	re("path_regexp", r.PathRegexp, &sc.PathRegexp)
	if r.Price != nil {
		sc.Price = *r.Price
	}
	if r.Auth != nil {
		level, err := ParseAuthLevel(*r.Auth)
		if err != nil {
			errs = append(errs, err)
		}
		sc.Auth = level
	}
	if r.AuthScheme != nil {
		sc.AuthScheme = *r.AuthScheme
	}
	if len(errs) > 0 {
		return sc, fmt.Errorf("service %q: %v", r.Name, errs[0])
	}
	if problems := sc.check(0, seen); len(problems) > 0 {
		return sc, problems[0]
	}
	return sc, nil
}

// ParseAuthLevel reads Aperture's auth level: "on" (or "", "true"), "off"
// (or "false"), or "freebie N".
func ParseAuthLevel(s string) (AuthLevel, error) {
	fields := strings.Fields(strings.ToLower(s))
	switch {
	case len(fields) == 0 || (len(fields) == 1 && (fields[0] == "on" ||
		fields[0] == "true")):
		return AuthLevel{}, nil
	case len(fields) == 1 && (fields[0] == "off" || fields[0] == "false"):
		return AuthLevel{Off: true}, nil
	case len(fields) == 2 && fields[0] == "freebie":
		count, err := strconv.Atoi(fields[1])
		if err != nil || count < 1 {
			return AuthLevel{}, fmt.Errorf("auth %q: freebie needs a "+
				"count of at least 1", s)
		}
		return AuthLevel{Freebies: count}, nil
	}
	return AuthLevel{}, fmt.Errorf("auth %q is not on, off or freebie N", s)
}

// String returns the level as Aperture writes it: "on", "off" or
// "freebie N".
func (a AuthLevel) String() string {
	switch {
	case a.Off:
		return "off"
	case a.Freebies > 0:
		return "freebie " + strconv.Itoa(a.Freebies)
	}
	return "on"
}
