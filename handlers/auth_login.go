package handlers

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// Login serves GET /login?next=/path: it starts an OIDC sign-in, keeps its
// secrets (state, nonce, PKCE verifier) in the browser's server-side
// session and sends the browser to the IdP. A person already signed in
// goes straight to next.
func (h *Auth) Login(c echo.Context) error {
	next := SafeNext(c.QueryParam("next"))
	if s, ok := session.From(c); ok && s.SignedIn() {
		return c.Redirect(http.StatusSeeOther, next)
	}
	s, err := h.sessions.Ensure(c)
	if err != nil {
		return fmt.Errorf("sign-in: start session: %w", err)
	}
	var opts oidcrp.AuthOptions
	if h.cfg.SignInStepUp != nil {
		opts = authOptionsFor(*h.cfg.SignInStepUp)
		opts.Advisory = true
	}
	authURL, pending, err := h.rp.Begin(opts)
	if err != nil {
		logEvent(h.log, c, slog.LevelWarn, "sign-in not started", errAttr(err))
		return authError(fmt.Errorf("sign-in: begin: %w", err))
	}
	if err := h.sessions.SetPending(c, s, session.PendingLogin{OIDC: pending, Next: next}, nil); err != nil {
		return fmt.Errorf("sign-in: save pending sign-in: %w", err)
	}
	logEvent(h.log, c, slog.LevelDebug, "sign-in started")
	return c.Redirect(http.StatusSeeOther, authURL)
}
