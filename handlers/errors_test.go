package handlers_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
)

// secret stands for whatever an internal error might carry: a DSN, a
// query, a token. It must reach the log and never the client.
const secret = "postgres://countersign:hunter2@db.internal/prod"

func TestErrorHandlerMapsErrors(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		body   string // text the user must see
	}{
		{"not found", fmt.Errorf("store: load request 42: %w", models.ErrNotFound), http.StatusNotFound, "nothing here"},
		{"forbidden", fmt.Errorf("approval: %w", models.ErrForbidden), http.StatusForbidden, "not allowed"},
		{"invalid", fmt.Errorf("parse %s: %w", secret, models.ErrInvalid), http.StatusBadRequest, "could not be processed"},
		{"validation", fmt.Errorf("form: %w", models.Invalid("purpose", "must not be empty")), http.StatusBadRequest, "purpose: must not be empty"},
		{"conflict", fmt.Errorf("update %s: %w", secret, models.ErrConflict), http.StatusConflict, "Reload the page"},
		{"illegal transition", fmt.Errorf("approve: %w", &models.TransitionError{From: "denied", To: "approved"}), http.StatusConflict, "is denied and can no longer become approved"},
		{"bare illegal transition", fmt.Errorf("approve %s: %w", secret, models.ErrIllegalTransition), http.StatusConflict, "no longer in a state"},
		{"audit unavailable", fmt.Errorf("append %s: %w", secret, models.ErrAudit), http.StatusServiceUnavailable, "nothing was changed"},
		{"echo http error", echo.NewHTTPError(http.StatusTeapot, "short and stout"), http.StatusTeapot, "short and stout"},
		{"echo 5xx message hidden", echo.NewHTTPError(http.StatusBadGateway, secret), http.StatusBadGateway, "went wrong on our side"},
		{"internal", fmt.Errorf("store: query %s: %w", secret, errors.New("connection refused")), http.StatusInternalServerError, "went wrong on our side"},
	}
	s := newTestServer(t)
	for i, tc := range cases {
		path := fmt.Sprintf("/test/err/%d", i)
		s.e.GET(path, func(echo.Context) error { return tc.err })
		t.Run(tc.name, func(t *testing.T) {
			rec := s.get(path)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			rid := rec.Header().Get(echo.HeaderXRequestID)
			doc := parseHTML(t, strings.NewReader(rec.Body.String()))
			if got := testID(doc, "error-status").Text(); got != fmt.Sprint(tc.status) {
				t.Errorf("page status %q, want %d", got, tc.status)
			}
			if got := testID(doc, "error-message").Text(); !strings.Contains(got, tc.body) {
				t.Errorf("message %q does not contain %q", got, tc.body)
			}
			if got := testID(doc, "request-id").Text(); rid == "" || got != rid {
				t.Errorf("page request id %q, header %q", got, rid)
			}
			if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "db.internal") {
				t.Errorf("internal error text leaked to the client:\n%s", rec.Body.String())
			}
		})
	}
}

func TestInternalErrorIsLoggedWithRequestID(t *testing.T) {
	s := newTestServer(t)
	s.e.GET("/test/fail", func(echo.Context) error { return fmt.Errorf("store: query %s: connection refused", secret) })
	rec := s.get("/test/fail")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), secret) {
		t.Fatal("secret in the response body")
	}
	rid := rec.Header().Get(echo.HeaderXRequestID)
	var found bool
	for _, line := range s.logs.lines(t) {
		if line["msg"] == "request failed" {
			found = true
			if line["request_id"] != rid || !strings.Contains(fmt.Sprint(line["error"]), secret) || line["level"] != "ERROR" {
				t.Errorf("error log line %v: want level ERROR, request_id %q and the real error", line, rid)
			}
		}
	}
	if !found {
		t.Errorf("no 'request failed' log line in:\n%s", s.logs.String())
	}
}

func TestPanicGivesGeneric500AndIsLogged(t *testing.T) {
	s := newTestServer(t)
	s.e.GET("/test/panic", func(echo.Context) error { panic("nil map write in " + secret) })
	rec := s.get("/test/panic")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "hunter2") {
		t.Fatal("panic value leaked to the client")
	}
	rid := rec.Header().Get(echo.HeaderXRequestID)
	if got := testID(parseHTML(t, rec.Body), "request-id").Text(); got != rid {
		t.Errorf("page request id %q, want %q", got, rid)
	}
	var logged bool
	for _, line := range s.logs.lines(t) {
		if line["msg"] == "panic recovered" && line["request_id"] == rid && line["stack"] != "" {
			logged = true
		}
	}
	if !logged {
		t.Errorf("panic not logged with request id %q and stack:\n%s", rid, s.logs.String())
	}
}

type errorJSON struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
}

func decodeErrorJSON(t *testing.T, rec *httptest.ResponseRecorder) errorJSON {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON; body %q", ct, rec.Body.String())
	}
	var body errorJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return body
}

func TestJSONErrorsForAPIAndJSONClients(t *testing.T) {
	s := newTestServer(t)
	s.e.GET("/api/v1/requests/:id", func(echo.Context) error {
		return fmt.Errorf("store: load %s: %w", secret, models.ErrNotFound)
	})
	s.e.GET("/test/fail", func(echo.Context) error { return errors.New(secret) })

	t.Run("api path", func(t *testing.T) {
		rec := s.get("/api/v1/requests/42")
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d, want 404", rec.Code)
		}
		body := decodeErrorJSON(t, rec)
		if body.Error == "" || body.RequestID != rec.Header().Get(echo.HeaderXRequestID) {
			t.Errorf("body %+v, header id %q", body, rec.Header().Get(echo.HeaderXRequestID))
		}
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Error("internal text in JSON error")
		}
	})
	t.Run("unknown api path", func(t *testing.T) {
		rec := s.get("/api/nothing")
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d, want 404", rec.Code)
		}
		decodeErrorJSON(t, rec)
	})
	t.Run("accept json", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/test/fail", nil)
		req.Header.Set("Accept", "application/json")
		rec := s.do(req)
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", rec.Code)
		}
		if body := decodeErrorJSON(t, rec); strings.Contains(body.Error, "hunter2") || body.RequestID == "" {
			t.Errorf("body %+v", body)
		}
	})
	t.Run("browser gets html", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/test/fail", nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		rec := s.do(req)
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want HTML", ct)
		}
	})
}

func TestHeadErrorHasNoBody(t *testing.T) {
	s := newTestServer(t)
	rec := s.do(httptest.NewRequest(http.MethodHead, "/no/such/page", nil))
	if rec.Code != http.StatusNotFound || rec.Body.Len() != 0 {
		t.Errorf("HEAD 404: %d with %d body bytes", rec.Code, rec.Body.Len())
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s := newTestServer(t)
	rec := s.do(httptest.NewRequest(http.MethodDelete, "/healthz", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Errorf("DELETE /healthz: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}
