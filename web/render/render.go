// Package render writes templ components as HTTP responses.
//
// It is its own package, not part of package web, because web imports the
// handlers to register routes, so handlers cannot import web; both import
// this instead. web.Render is the same function for code inside web.
package render

import (
	"bytes"
	"fmt"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// Component renders t into a buffer first and only then writes the status
// and body. A template that fails halfway therefore returns an error (which
// the error handler turns into a proper error page) instead of sending a
// half-written page under a 200.
func Component(c echo.Context, status int, t templ.Component) error {
	var buf bytes.Buffer
	if err := t.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render: %s %s: %w", c.Request().Method, c.Path(), err)
	}
	if err := c.HTMLBlob(status, buf.Bytes()); err != nil {
		return fmt.Errorf("render: write response: %w", err)
	}
	return nil
}
