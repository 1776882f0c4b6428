package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestMetricsCountRequestsByRoutePattern(t *testing.T) {
	s := newTestServer(t)
	s.e.GET("/test/requests/:id", func(c echo.Context) error { return c.String(http.StatusOK, c.Param("id")) })

	s.get("/healthz")
	s.get("/healthz")
	s.get("/test/requests/41")
	s.get("/test/requests/42")
	s.get("/scanner/probe-0c9e1d")

	rec := s.get("/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`countersign_http_requests_total{code="200",method="GET",route="/healthz"} 2`,
		`countersign_http_requests_total{code="200",method="GET",route="/test/requests/:id"} 2`,
		`countersign_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`countersign_http_request_duration_seconds_count{method="GET",route="/healthz"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Raw paths must never become labels: they are unbounded.
	for _, raw := range []string{"/test/requests/41", "probe-0c9e1d"} {
		if strings.Contains(body, raw) {
			t.Errorf("metrics contain raw path %q", raw)
		}
	}
}

func TestMetricsLabelInventedMethodsAsOther(t *testing.T) {
	s := newTestServer(t)
	req := newRequest("BREW", "/healthz")
	s.do(req)
	body := s.get("/metrics").Body.String()
	if strings.Contains(body, "BREW") || !strings.Contains(body, `method="OTHER"`) {
		t.Errorf("invented method not folded into OTHER:\n%s", grepLines(body, "countersign_http_requests_total"))
	}
}

func TestMetricsCountPanicsAs500(t *testing.T) {
	s := newTestServer(t)
	s.e.GET("/test/panic", func(echo.Context) error { panic("boom") })
	s.get("/test/panic")
	want := `countersign_http_requests_total{code="500",method="GET",route="/test/panic"} 1`
	if body := s.get("/metrics").Body.String(); !strings.Contains(body, want) {
		t.Errorf("metrics lack %s:\n%s", want, grepLines(body, "countersign_http_requests_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
