package handlers_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
)

// TestAccessLoggerTakesOnlyRequestLines: with an AccessLogger the
// per-request lines go there and nowhere else, while a failing request's
// error is still written to Logger (the demo keeps that one in the
// terminal and the access lines in a file).
func TestAccessLoggerTakesOnlyRequestLines(t *testing.T) {
	var main, access bytes.Buffer
	e, err := handlers.New(handlers.Options{
		DB: fakeDB{}, Registry: prometheus.NewRegistry(),
		Logger:       slog.New(slog.NewJSONHandler(&main, nil)),
		AccessLogger: slog.New(slog.NewJSONHandler(&access, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/boom", func(echo.Context) error { return errors.New("disk on fire") })
	for _, path := range []string{"/healthz", "/boom"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if n := strings.Count(access.String(), `"msg":"http request"`); n != 2 {
		t.Errorf("access log has %d request lines, want 2:\n%s", n, access.String())
	}
	if strings.Contains(main.String(), `"msg":"http request"`) {
		t.Errorf("request lines reached the main log:\n%s", main.String())
	}
	if !strings.Contains(main.String(), "disk on fire") || strings.Contains(access.String(), "disk on fire") {
		t.Errorf("the error belongs in the main log only; main:\n%s\naccess:\n%s", main.String(), access.String())
	}
}
