package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// get sends a request to the handler.
func get(t *testing.T, method, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, r)
	return rec
}

// TestDashboardFiles: the page and its files are served with their
// types, an ETag (304 when it matches), revalidation on every load, and
// a policy that allows only the dashboard's own scripts, styles and
// connections and no framing; other paths are 404, other methods 405,
// and the prefix without its slash redirects.
func TestDashboardFiles(t *testing.T) {
	for path, typ := range map[string]string{
		Prefix:                "text/html; charset=utf-8",
		Prefix + "app.js":     "text/javascript; charset=utf-8",
		Prefix + "app.css":    "text/css; charset=utf-8",
		Prefix + "icon.svg":   "image/svg+xml",
		Prefix + "index.html": "text/html; charset=utf-8",
	} {
		rec := get(t, "GET", path)
		h := rec.Header()
		if rec.Code != 200 || h.Get("Content-Type") != typ ||
			rec.Body.Len() == 0 || h.Get("Cache-Control") != "no-cache" ||
			h.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(h.Get("Content-Security-Policy"),
				"script-src 'self'") ||
			!strings.Contains(h.Get("Content-Security-Policy"),
				"frame-ancestors 'none'") {
			t.Errorf("%s: %d %v", path, rec.Code, h)
		}
		again := get(t, "GET", path, "If-None-Match", h.Get("ETag"))
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("%s with its ETag: %d", path, again.Code)
		}
	}
	if rec := get(t, "GET", Prefix+"nope.js"); rec.Code != 404 {
		t.Errorf("unknown file: %d", rec.Code)
	}
	if rec := get(t, "GET", Prefix+"../admin.go"); rec.Code != 404 {
		t.Errorf("a path out: %d", rec.Code)
	}
	if rec := get(t, "POST", Prefix); rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
	if rec := get(t, "HEAD", Prefix+"app.js"); rec.Code != 200 ||
		rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d %d bytes", rec.Code, rec.Body.Len())
	}
	rec := get(t, "GET", strings.TrimSuffix(Prefix, "/"))
	if rec.Code != http.StatusMovedPermanently ||
		rec.Header().Get("Location") != Prefix {
		t.Errorf("without the slash: %d %v", rec.Code, rec.Header())
	}
	if !Is(Prefix+"app.js") || !Is(strings.TrimSuffix(Prefix, "/")) ||
		Is("/api/admin/services") {
		t.Error("Is")
	}
}

// TestDashboardIsSelfContained: no file loads anything from elsewhere (no
// CDN, no font or script of another origin), the page's script and
// styles are files (the policy refuses inline ones), every file the page
// names is embedded, and nothing puts the macaroon in a URL or in
// localStorage.
func TestDashboardIsSelfContained(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	files := map[string]string{}
	fs.WalkDir(static, "static", func(p string, d fs.DirEntry, _ error) error {
		if !d.IsDir() {
			b, _ := static.ReadFile(p)
			files[strings.TrimPrefix(p, "static/")] = string(b)
		}
		return nil
	})
	for name, body := range files {
		for _, m := range url.FindAllString(body, -1) {
			if m != "http://www.w3.org" { // the SVG namespace, a name
				t.Errorf("%s names another origin: %s", name, m)
			}
		}
	}
	page := files["index.html"]
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") ||
		strings.Contains(page, " on") && regexp.MustCompile(
			` on[a-z]+=`).MatchString(page) {
		t.Error("index.html has inline script or style")
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"#]+)"`).
		FindAllStringSubmatch(page, -1) {
		if _, ok := files[m[1]]; !ok {
			t.Errorf("index.html names %s, which is not embedded", m[1])
		}
	}
	js := files["app.js"]
	if !strings.Contains(js, "sessionStorage") ||
		strings.Contains(js, "localStorage") ||
		!strings.Contains(js, `"Grpc-Metadata-Macaroon"`) ||
		strings.Contains(js, "innerHTML") {
		t.Error("app.js: the macaroon goes in sessionStorage and a header " +
			"only, and no HTML is made from data")
	}
}
