package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/web/session"
)

// Logout serves POST /logout (CSRF-checked like every form). It deletes
// the server-side session — the cookie is worthless from then on — and,
// when the IdP advertises an end_session_endpoint, sends the browser there
// to end the IdP session too (with id_token_hint, and PublicURL + "/" to
// come back to). Otherwise it returns to the start page.
func (h *Auth) Logout(c echo.Context) error {
	s, ok := session.From(c)
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	idToken := s.IDToken
	sub := ""
	if s.User != nil {
		sub = s.User.Subject
	}
	if err := h.sessions.End(c, s); err != nil {
		return fmt.Errorf("sign-out: end session: %w", err)
	}
	logEvent(h.log, c, slog.LevelInfo, "signed out", slog.String("sub", sub))
	if idToken != "" {
		back := strings.TrimRight(h.cfg.PublicURL, "/") + "/"
		if endURL, ok := h.rp.EndSessionURL(idToken, back); ok {
			return c.Redirect(http.StatusSeeOther, endURL)
		}
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
