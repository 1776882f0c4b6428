package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestStylesheetsAreFingerprintedAndCached(t *testing.T) {
	s := newTestServer(t)
	doc := parseHTML(t, s.get("/").Body)
	links := doc.Find("link[rel=stylesheet], link[rel=icon], script[src]")
	if links.Length() != 6 {
		t.Fatalf("%d stylesheets, icons and scripts linked, want pico, app.css, audit.css, the favicon, copy.js and passkey.js", links.Length())
	}
	for _, n := range links.Nodes {
		var href string
		for _, a := range n.Attr {
			if a.Key == "href" || a.Key == "src" {
				href = a.Val
			}
		}
		if !strings.HasPrefix(href, "/static/") || !strings.Contains(href, "?v=") {
			t.Fatalf("href %q is not a fingerprinted /static/ URL", href)
		}
		rec := s.get(href)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", href, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") && !strings.HasPrefix(ct, "image/svg+xml") && !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("%s: Content-Type %q", href, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("%s: Cache-Control %q, want long-lived", href, cc)
		}

		// Without the fingerprint (or with a stale one) the browser must
		// revalidate, and the ETag makes that a 304.
		plain, _, _ := strings.Cut(href, "?")
		for _, u := range []string{plain, plain + "?v=0000000000000000"} {
			rec := s.get(u)
			if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("%s: Cache-Control %q, want no-cache", u, cc)
			}
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatalf("%s: no ETag", u)
			}
			req := newRequest(http.MethodGet, u)
			req.Header.Set("If-None-Match", etag)
			if rec := s.do(req); rec.Code != http.StatusNotModified {
				t.Errorf("%s with matching If-None-Match: %d, want 304", u, rec.Code)
			}
		}
	}
}

func TestStaticServesOnlyEmbeddedFiles(t *testing.T) {
	s := newTestServer(t)
	for _, p := range []string{
		"/static/nope.css",
		"/static/../go.mod",
		"/static/%2e%2e/go.mod",
		"/static/static.go",
		"/static/vendor",
		"/static/",
	} {
		if rec := s.get(p); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
	}
	if rec := s.get("/static/favicon.svg"); rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "image/svg+xml") {
		t.Errorf("favicon: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := s.get("/static/vendor/LICENSE.md"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "MIT") {
		t.Errorf("vendored licence not served: %d", rec.Code)
	}
}
