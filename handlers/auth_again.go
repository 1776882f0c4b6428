package handlers

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/web/session"
)

// Again serves POST /login/again (form field next): a signed-in person
// asks to sign in again, as strongly and as recently as the step-up rule
// wants — for what needs a fresh sign-in outside a decision, such as
// adding, renaming or revoking a passkey. The provider is asked for a new
// login (prompt=login, max_age, acr_values) with the person's login hint;
// the callback accepts only the same person (finishAgain).
func (h *Auth) Again(c echo.Context) error {
	s, ok := session.From(c)
	if !ok || s.User == nil {
		return authError(session.ErrNoSession)
	}
	u := s.User
	opts := authOptionsFor(h.cfg.Again)
	opts.Prompt, opts.LoginHint = "login", loginHint(u)
	authURL, pending, err := h.rp.Begin(opts)
	if err != nil {
		logEvent(h.log, c, slog.LevelWarn, "sign-in again not started", slog.String("sub", u.Subject), errAttr(err))
		return authError(fmt.Errorf("sign-in again: begin: %w", err))
	}
	login := session.PendingLogin{OIDC: pending, Next: SafeNext(c.FormValue("next")), Again: true}
	if err := h.sessions.SetPending(c, s, login, nil); err != nil {
		return fmt.Errorf("sign-in again: save pending sign-in: %w", err)
	}
	logEvent(h.log, c, slog.LevelInfo, "sign-in again started", slog.String("sub", u.Subject))
	return c.Redirect(http.StatusSeeOther, authURL)
}

// finishAgain completes a sign-in-again: the new login must be the
// session's person (same issuer and subject) — someone else's login
// changes nothing here and is refused — and then replaces the session's
// login (new session id, same absolute deadline, the roles the new token
// maps to) before returning to next.
func (h *Auth) finishAgain(c echo.Context, s *session.Session, nu *session.User, rawIDToken, next string) error {
	u := s.User
	if u == nil {
		logEvent(h.log, c, slog.LevelWarn, "sign-in again refused", slog.String("reason", "session has no user"))
		return authError(session.ErrNoSession)
	}
	if nu.Issuer != u.Issuer || nu.Subject != u.Subject {
		logEvent(h.log, c, slog.LevelWarn, "sign-in again refused", slog.String("reason", "signed in as a different person"),
			slog.String("sub", u.Subject), slog.String("got_sub", nu.Subject))
		return echo.NewHTTPError(http.StatusForbidden, "You signed in again as a different person than this session's. Nothing changed; to switch accounts, sign out first.")
	}
	if _, err := h.sessions.Reauthenticate(c, s, nu, rawIDToken); err != nil {
		if isSignInProblem(err) {
			logEvent(h.log, c, slog.LevelWarn, "sign-in again refused", slog.String("sub", u.Subject), errAttr(err))
			return authError(err)
		}
		return fmt.Errorf("sign-in again: rotate session: %w", err)
	}
	logEvent(h.log, c, slog.LevelInfo, "signed in again", slog.String("sub", nu.Subject), slog.String("acr", nu.ACR), slog.Any("amr", nu.AMR))
	return c.Redirect(http.StatusSeeOther, SafeNext(next))
}
