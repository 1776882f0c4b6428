package handlers_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/handlers"
)

var wantHeaders = map[string]string{
	"Content-Security-Policy":    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "same-origin",
	"X-Frame-Options":            "DENY",
	"Cross-Origin-Opener-Policy": "same-origin",
}

// responsesOfEveryKind covers a normal page, the JSON API, static files
// and each way a request can fail (404, handler error, panic, 413): headers
// must not depend on the path a response took.
func responsesOfEveryKind(t *testing.T, s *testServer) map[string]*httptest.ResponseRecorder {
	t.Helper()
	s.e.GET("/test/fail", func(echo.Context) error { return errors.New("boom") })
	s.e.GET("/test/panic", func(echo.Context) error { panic("kaboom") })
	s.e.POST("/test/upload", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })

	big := httptest.NewRequest(http.MethodPost, "/test/upload", strings.NewReader(strings.Repeat("x", 4096)))
	return map[string]*httptest.ResponseRecorder{
		"page":          s.get("/"),
		"static":        s.get("/static/app.css"),
		"not found":     s.get("/no/such/page"),
		"handler error": s.get("/test/fail"),
		"panic":         s.get("/test/panic"),
		"api error":     s.get("/api/nothing"),
		"too large":     s.do(big),
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s := newTestServer(t, func(o *handlers.Options) { o.BodyLimit = "1K" })
	for name, rec := range responsesOfEveryKind(t, s) {
		t.Run(name, func(t *testing.T) {
			for h, want := range wantHeaders {
				if got := rec.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if got := rec.Header().Get("Permissions-Policy"); !strings.Contains(got, "camera=()") {
				t.Errorf("Permissions-Policy = %q, want camera disabled", got)
			}
			if got := rec.Header().Get("Strict-Transport-Security"); got != "" {
				t.Errorf("HSTS sent without TLS: %q", got)
			}
			if rec.Header().Get(echo.HeaderXRequestID) == "" {
				t.Error("no X-Request-ID")
			}
		})
	}
}

func TestHSTSOnlyWithTLS(t *testing.T) {
	s := newTestServer(t, func(o *handlers.Options) { o.TLS = true; o.BodyLimit = "1K" })
	for name, rec := range responsesOfEveryKind(t, s) {
		if got, want := rec.Header().Get("Strict-Transport-Security"), "max-age=63072000; includeSubDomains"; got != want {
			t.Errorf("%s: HSTS = %q, want %q", name, got, want)
		}
	}
}

func TestPagesAreNotCached(t *testing.T) {
	s := newTestServer(t)
	for _, path := range []string{"/", "/no/such/page"} {
		if got := s.get(path).Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", path, got)
		}
	}
}

// TestNoInlineScriptOrStyle guards the CSP: a page that needed inline code
// would break in the browser, so none may be rendered.
func TestNoInlineScriptOrStyle(t *testing.T) {
	s := newTestServer(t)
	s.e.GET("/test/fail", func(echo.Context) error { return errors.New("boom") })
	for _, path := range []string{"/", "/no/such/page", "/test/fail"} {
		t.Run(path, func(t *testing.T) {
			rec := s.get(path)
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("Content-Type = %q, want HTML", rec.Header().Get("Content-Type"))
			}
			doc := parseHTML(t, rec.Body)
			if n := doc.Find("link[rel=stylesheet]").Length(); n == 0 {
				t.Error("page links no stylesheet; the check below would prove nothing about styling")
			}
			if n := doc.Find("style").Length(); n != 0 {
				t.Errorf("%d <style> elements", n)
			}
			if n := doc.Find("[style]").Length(); n != 0 {
				t.Errorf("%d elements with a style= attribute", n)
			}
			doc.Find("script").Each(func(_ int, sc *goquery.Selection) {
				if _, ok := sc.Attr("src"); !ok || strings.TrimSpace(sc.Text()) != "" {
					t.Errorf("inline script: %q", sc.Text())
				}
			})
			for _, n := range doc.Find("*").Nodes {
				for _, a := range n.Attr {
					if strings.HasPrefix(strings.ToLower(a.Key), "on") {
						t.Errorf("<%s> has inline handler %s", n.Data, a.Key)
					}
					if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
						t.Errorf("<%s %s> uses a javascript: URL", n.Data, a.Key)
					}
				}
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	s := newTestServer(t, func(o *handlers.Options) { o.BodyLimit = "1K" })
	s.e.POST("/test/echo", func(c echo.Context) error {
		b, err := readAll(c)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, b)
	})

	small := httptest.NewRequest(http.MethodPost, "/test/echo", strings.NewReader("hello"))
	if rec := s.do(small); rec.Code != http.StatusOK || rec.Body.String() != "hello" {
		t.Fatalf("small body: %d %q", rec.Code, rec.Body.String())
	}

	declared := httptest.NewRequest(http.MethodPost, "/test/echo", strings.NewReader(strings.Repeat("x", 2048)))
	if rec := s.do(declared); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body with Content-Length: %d, want 413", rec.Code)
	}

	// A client can omit Content-Length (chunked); the limit must still hold
	// while the handler reads.
	chunked := httptest.NewRequest(http.MethodPost, "/test/echo", strings.NewReader(strings.Repeat("x", 2048)))
	chunked.ContentLength = -1
	if rec := s.do(chunked); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body without Content-Length: %d, want 413", rec.Code)
	}
}

func readAll(c echo.Context) (string, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	return string(b), nil
}

func TestRequestIDFromClientOnlyWhenWellFormed(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"proxy-7f3a.42", true},
		{`<script>alert(1)</script>`, false},
		{strings.Repeat("a", 129), false},
		{"line\nbreak", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/no/such/page", nil)
		req.Header.Set(echo.HeaderXRequestID, tc.in)
		rec := s.do(req)
		got := rec.Header().Get(echo.HeaderXRequestID)
		if tc.keep != (got == tc.in) || got == "" {
			t.Errorf("incoming %q: response id %q, keep=%v", tc.in, got, tc.keep)
		}
		if shown := testID(parseHTML(t, rec.Body), "request-id").Text(); shown != got {
			t.Errorf("page shows request id %q, header says %q", shown, got)
		}
	}
}
