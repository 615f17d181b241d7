// Package dashboard is serve's operator dashboard: HTML, CSS and plain
// JavaScript embedded in the binary, which call the admin API's REST
// paths with the admin macaroon the browser keeps for its session
// (docs/dashboard.md).
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Prefix is where the dashboard is served: under the admin API's REST
// prefix, which serve answers before any service is matched, so that it
// takes no path from the services.
const Prefix = "/api/admin/dashboard/"

//go:embed static
var static embed.FS

// asset is one embedded file with its headers' values.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// contentTypes are the types of the files in static/.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// policy is the Content-Security-Policy of every answer: the dashboard's
// own files and the admin API only, no inline script, no frame.
const policy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; form-action 'none'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Handler serves the dashboard's files: GET or HEAD of Prefix (the page)
// and of the files beside it. The files are public (the macaroon is
// entered in the page), so no macaroon is needed for them; every answer
// forbids framing and any script or connection but the dashboard's own.
func Handler() http.Handler {
	assets := map[string]asset{}
	fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		assets[strings.TrimPrefix(p, "static/")] = asset{body: b,
			contentType: contentTypes[path.Ext(p)],
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if r.URL.Path+"/" == Prefix {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		switch {
		case !ok:
			http.NotFound(w, r)
			return
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard is read with GET",
				http.StatusMethodNotAllowed)
			return
		}
		// Revalidated on every load, so that a new serve's files are
		// used at once.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(a.body)
	})
}

// Is reports whether a path is the dashboard's.
func Is(p string) bool {
	return strings.HasPrefix(p, Prefix) || p+"/" == Prefix
}
