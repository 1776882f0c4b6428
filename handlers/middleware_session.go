package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/templates/layout"
	"github.com/countersign/countersign/web/session"
)

// sessionFree are path prefixes that never need the browser's session:
// probes, metrics and static files would otherwise each cost a database
// read.
var sessionFree = []string{assetURLPrefix, "/healthz", "/readyz", "/metrics"}

// loadSession puts the browser's session (if valid) into the context, with
// the signed-in user, the CSRF token and the header's account for the
// layout. It never creates a session: anonymous visitors cost no row until
// they start signing in.
func (p *portalAuth) loadSession() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			path := c.Request().URL.Path
			if p.isExempt(path) || hasAnyPrefix(path, sessionFree) {
				return next(c)
			}
			if err := p.sessions.Load(c); err != nil {
				return fmt.Errorf("load session: %w", err)
			}
			if u, ok := session.UserFrom(c); ok {
				name := u.Name
				if name == "" {
					name = u.Username
				}
				req := c.Request()
				c.SetRequest(req.WithContext(layout.WithAccount(req.Context(), layout.Account{
					Name: name, CSRFField: session.CSRFField, CSRFToken: session.CSRFToken(c), Auditor: search.MaySearch(u.Roles),
				})))
			}
			return next(c)
		}
	}
}

func hasAnyPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// requireUser guards the portal's pages: a signed-in person passes; an
// anonymous GET is sent to sign in and then back here; anything else gets
// 401.
func requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := session.UserFrom(c); ok {
			return next(c)
		}
		req := c.Request()
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(req.URL.RequestURI()))
		}
		return echo.NewHTTPError(http.StatusUnauthorized, "You need to sign in to do this.")
	}
}
