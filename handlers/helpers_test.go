package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models/storetest"
)

// fakeDB is a Readiness whose answer the test chooses.
type fakeDB struct{ err error }

func (f fakeDB) Ready(context.Context) error { return f.err }

// logBuffer collects JSON log lines; safe for the server goroutines in the
// Serve test.
type logBuffer struct{ storetest.SyncBuffer }

// lines decodes every log line; a line that is not JSON fails the test,
// because the log is meant to be machine-readable.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// testServer is a fully wired portal with its log and metrics registry.
type testServer struct {
	e    *echo.Echo
	logs *logBuffer
	reg  *prometheus.Registry
}

func newTestServer(t *testing.T, mutate ...func(*handlers.Options)) *testServer {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	opts := handlers.Options{
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DB:        fakeDB{},
		Registry:  reg,
		PublicURL: "http://127.0.0.1:8080",
		Version:   "v9.9.9-test",
	}
	for _, m := range mutate {
		m(&opts)
	}
	e, err := handlers.New(opts)
	if err != nil {
		t.Fatalf("handlers.New: %v", err)
	}
	return &testServer{e: e, logs: logs, reg: reg}
}

func (s *testServer) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	return rec
}

func (s *testServer) get(path string) *httptest.ResponseRecorder {
	return s.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func parseHTML(t *testing.T, body io.Reader) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(body)
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return doc
}

func testID(doc *goquery.Document, id string) *goquery.Selection {
	return doc.Find(`[data-testid="` + id + `"]`)
}
