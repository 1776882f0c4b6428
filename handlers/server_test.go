package handlers_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
)

func newRequest(method, path string) *http.Request {
	return httptest.NewRequest(method, path, nil)
}

func TestNewRejectsUnusableOptions(t *testing.T) {
	valid := func() handlers.Options {
		return handlers.Options{DB: fakeDB{}, Registry: prometheus.NewRegistry()}
	}
	cases := map[string]func(*handlers.Options){
		"no DB":              func(o *handlers.Options) { o.DB = nil },
		"no registry":        func(o *handlers.Options) { o.Registry = nil },
		"bad body limit":     func(o *handlers.Options) { o.BodyLimit = "lots" },
		"relative URL":       func(o *handlers.Options) { o.PublicURL = "/portal" },
		"non-http URL":       func(o *handlers.Options) { o.PublicURL = "ftp://example.com" },
		"unparseable URL":    func(o *handlers.Options) { o.PublicURL = "http://[::1" },
		"zero body limit":    func(o *handlers.Options) { o.BodyLimit = "0" },
		"negative body size": func(o *handlers.Options) { o.BodyLimit = "-1K" },
	}
	for name, mutate := range cases {
		opts := valid()
		mutate(&opts)
		if _, err := handlers.New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
	if _, err := handlers.New(valid()); err != nil {
		t.Errorf("valid options rejected: %v", err)
	}
}

// Two servers on one registry would double-count or collide; New must say so
// instead of silently sharing.
func TestNewRefusesSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := handlers.New(handlers.Options{DB: fakeDB{}, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	_, err := handlers.New(handlers.Options{DB: fakeDB{}, Registry: reg})
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Errorf("second New on the same registry: %v, want AlreadyRegisteredError", err)
	}
}

func TestProbesAndHome(t *testing.T) {
	s := newTestServer(t)
	if rec := s.get("/healthz"); rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("/healthz: %d %q", rec.Code, rec.Body.String())
	}
	if rec := s.get("/readyz"); rec.Code != http.StatusOK {
		t.Errorf("/readyz with a healthy DB: %d", rec.Code)
	}
	if rec := s.do(newRequest(http.MethodHead, "/healthz")); rec.Code != http.StatusOK {
		t.Errorf("HEAD /healthz: %d", rec.Code)
	}

	down := newTestServer(t, func(o *handlers.Options) { o.DB = fakeDB{err: errors.New("dial tcp " + secret)} })
	rec := down.get("/readyz")
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a failing DB: %d, want 503", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "hunter2") {
		t.Error("readiness body reveals the database error")
	}

	rec = s.get("/")
	if rec.Code != http.StatusOK {
		t.Fatalf("/: %d", rec.Code)
	}
	doc := parseHTML(t, rec.Body)
	if testID(doc, "home-intro").Length() != 1 {
		t.Error("home page has no intro section")
	}
	if got := testID(doc, "version").Text(); got != "v9.9.9-test" {
		t.Errorf("footer version %q, want Options.Version", got)
	}
	if lang, _ := doc.Find("html").Attr("lang"); lang == "" {
		t.Error("<html> has no lang")
	}
}

func TestRequestLogOmitsQueryString(t *testing.T) {
	s := newTestServer(t)
	rec := s.get("/healthz?code=s3cr3t-auth-code&state=xyz")
	rid := rec.Header().Get("X-Request-ID")

	if strings.Contains(s.logs.String(), "s3cr3t-auth-code") {
		t.Fatalf("query string reached the log:\n%s", s.logs.String())
	}
	var line map[string]any
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "http request" {
			line = l
		}
	}
	if line == nil {
		t.Fatalf("no request log line:\n%s", s.logs.String())
	}
	want := map[string]any{
		"method":     "GET",
		"path":       "/healthz",
		"route":      "/healthz",
		"status":     float64(200),
		"bytes":      float64(2),
		"request_id": rid,
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["latency_ms"]; !ok {
		t.Error("log line has no latency")
	}
}

func TestRequestLogRecordsErrorStatus(t *testing.T) {
	s := newTestServer(t)
	s.get("/no/such/page")
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "http request" {
			if l["status"] != float64(404) {
				t.Errorf("request log status %v for a 404", l["status"])
			}
			return
		}
	}
	t.Errorf("no request log line:\n%s", s.logs.String())
}
