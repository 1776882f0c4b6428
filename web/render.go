package web

import (
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/web/render"
)

// Render writes t as an HTML response with the given status, rendering it
// fully before anything is sent. Handlers use render.Component directly
// (package web imports handlers, so handlers cannot import web).
func Render(c echo.Context, status int, t templ.Component) error {
	return render.Component(c, status, t)
}
