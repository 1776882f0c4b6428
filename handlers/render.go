package handlers

import (
	"bytes"
	"fmt"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// Render writes t as an HTML response with the given status. It renders
// into a buffer first and only then writes the status and body, so a
// template that fails halfway returns an error (which the error handler
// turns into a proper error page) instead of sending a half-written page
// under a 200.
func Render(c echo.Context, status int, t templ.Component) error {
	var buf bytes.Buffer
	if err := t.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render: %s %s: %w", c.Request().Method, c.Path(), err)
	}
	if err := c.HTMLBlob(status, buf.Bytes()); err != nil {
		return fmt.Errorf("render: write response: %w", err)
	}
	return nil
}
