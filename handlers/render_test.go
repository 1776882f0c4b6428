package handlers_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/handlers"
)

func TestRenderWritesStatusAndHTML(t *testing.T) {
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
	page := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, "<p>hi</p>")
		return err
	})
	if err := handlers.Render(c, http.StatusAccepted, page); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusAccepted || rec.Body.String() != "<p>hi</p>" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

// A template that fails halfway must not leave a half page under a 200: the
// error goes back to the caller and nothing is written.
func TestRenderFailureWritesNothing(t *testing.T) {
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
	boom := errors.New("template exploded")
	page := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, _ = io.WriteString(w, "<p>half")
		return boom
	})
	err := handlers.Render(c, http.StatusOK, page)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the template error wrapped", err)
	}
	if c.Response().Committed || rec.Body.Len() != 0 {
		t.Errorf("response written despite the failure: committed=%v body=%q", c.Response().Committed, rec.Body.String())
	}
}
