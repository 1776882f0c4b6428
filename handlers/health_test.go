package handlers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/storetest"
)

// pingFunc adapts a function to Readiness so each test states its database.
type pingFunc func(ctx context.Context) error

func (f pingFunc) Ready(ctx context.Context) error { return f(ctx) }

func serve(t *testing.T, h echo.HandlerFunc, path string) *httptest.ResponseRecorder {
	t.Helper()
	e := echo.New()
	e.GET(path, h)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestLiveIgnoresDatabase(t *testing.T) {
	down := pingFunc(func(context.Context) error { return errors.New("down") })
	h := NewHealth(down, slog.New(slog.DiscardHandler))
	rec := serve(t, h.Live, "/healthz")
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("/healthz: %d %q, want 200 ok", rec.Code, rec.Body.String())
	}
}

func TestReady(t *testing.T) {
	const internal = "dial tcp 10.0.0.5:5432: password authentication failed for user countersign"
	cases := []struct {
		name   string
		ping   pingFunc
		status int
	}{
		{"database up", func(context.Context) error { return nil }, http.StatusOK},
		{"database down", func(context.Context) error { return errors.New(internal) }, http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := NewHealth(tc.ping, slog.New(slog.NewJSONHandler(&logs, nil)))
			rec := serve(t, h.Ready, "/readyz")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if strings.Contains(rec.Body.String(), "password") || strings.Contains(rec.Body.String(), "10.0.0.5") {
				t.Errorf("body reveals the database error: %q", rec.Body.String())
			}
			if tc.status != http.StatusOK && !strings.Contains(logs.String(), "password authentication failed") {
				t.Errorf("the reason is not logged:\n%s", logs.String())
			}
		})
	}
}

func TestReadyBoundsThePing(t *testing.T) {
	var left time.Duration
	var hasDeadline bool
	h := NewHealth(pingFunc(func(ctx context.Context) error {
		var deadline time.Time
		deadline, hasDeadline = ctx.Deadline()
		left = time.Until(deadline)
		return nil
	}), slog.New(slog.DiscardHandler))
	serve(t, h.Ready, "/readyz")
	if !hasDeadline {
		t.Fatal("Ready got a context without deadline; a hung database would hang the probe")
	}
	if left > defaultReadyTimeout {
		t.Errorf("Ready may take %v, want at most %v", left, defaultReadyTimeout)
	}

	// A database that never answers: the probe gives up when the deadline
	// passes (shortened here so the test does not wait 2 s).
	h = NewHealth(pingFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}), slog.New(slog.DiscardHandler))
	h.timeout = time.Millisecond
	if rec := serve(t, h.Ready, "/readyz"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("hung database: %d, want 503", rec.Code)
	}
}

// TestReadyOnAFullDisk probes a real SQLite store: ready, then 503 while
// its disk is full (reads still work, changes would fail), then ready
// again once space is freed.
func TestReadyOnAFullDisk(t *testing.T) {
	dir := storetest.SmallDisk(t, 48<<20)
	s := storetest.OpenDSN(t, "sqlite:"+filepath.Join(dir, "cs.db"))
	h := NewHealth(s, slog.New(slog.DiscardHandler))
	if rec := serve(t, h.Ready, "/readyz"); rec.Code != http.StatusOK {
		t.Fatalf("empty disk: %d", rec.Code)
	}
	free := storetest.FillDisk(t, dir)
	if rec := serve(t, h.Ready, "/readyz"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("full disk: %d, want 503", rec.Code)
	}
	free()
	if rec := serve(t, h.Ready, "/readyz"); rec.Code != http.StatusOK {
		t.Fatalf("after freeing space: %d", rec.Code)
	}
}
