package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// validRequestID reports whether an incoming X-Request-ID may be kept: at
// most 128 letters, digits or ._:- characters. A reverse proxy's id is worth
// keeping (its logs and ours then line up), but the value is echoed in pages
// and logs, so anything else is replaced by a fresh id.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '_', r == ':', r == '-':
		default:
			return false
		}
	}
	return true
}

// requestIDs gives every request an id, sent back in X-Request-ID, written to
// every log line and shown on error pages so a user can quote it.
func requestIDs() echo.MiddlewareFunc {
	ids := middleware.RequestID()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withID := ids(next)
		return func(c echo.Context) error {
			h := c.Request().Header
			if id := h.Get(echo.HeaderXRequestID); id != "" && !validRequestID(id) {
				h.Del(echo.HeaderXRequestID)
			}
			return withID(c)
		}
	}
}
