package handlers

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/web/session"
)

// Callback serves GET /auth/callback, where the IdP sends the browser
// back. It takes the session's pending sign-in (once: a replayed callback
// finds nothing), lets the relying party verify the answer, and then
// either signs the person in (new session id) and returns to where they
// were going, or — when the pending sign-in was a step-up — hands over to
// the decision flow.
func (h *Auth) Callback(c echo.Context) error {
	s, ok := session.From(c)
	if !ok {
		logEvent(h.log, c, slog.LevelWarn, "sign-in refused", slog.String("reason", "callback without a session"))
		return authError(session.ErrNoSession)
	}
	login, decision, err := h.sessions.TakePending(c, s)
	if err != nil {
		if isSignInProblem(err) {
			logEvent(h.log, c, slog.LevelWarn, "sign-in refused", slog.String("reason", "no sign-in in progress (replayed or crossed callback)"))
			return authError(err)
		}
		return fmt.Errorf("sign-in: take pending sign-in: %w", err)
	}
	id, err := h.rp.Complete(c.Request().Context(), login.OIDC, c.QueryParams())
	if login.StepUp {
		if h.stepUp == nil {
			return echo.NewHTTPError(http.StatusBadRequest, "There is no decision waiting for this sign-in.")
		}
		var u *session.User
		if err == nil {
			u, err = h.cfg.Mapping.User(id)
		}
		if err != nil {
			id, u = nil, nil
		}
		return h.stepUp.FinishStepUp(c, s, StepUpResult{Identity: id, User: u, Err: err, Pending: decision})
	}
	if err != nil {
		logEvent(h.log, c, slog.LevelWarn, "sign-in refused", errAttr(err))
		return authError(err)
	}
	u, err := h.cfg.Mapping.User(id)
	if err != nil {
		logEvent(h.log, c, slog.LevelWarn, "sign-in refused", slog.String("sub", id.Subject), errAttr(err))
		return authError(err)
	}
	if login.Again {
		return h.finishAgain(c, s, u, id.RawIDToken, login.Next)
	}
	if _, err := h.sessions.SignIn(c, s, u, id.RawIDToken); err != nil {
		if isSignInProblem(err) {
			// The pre-login session ended (expired, or logged out in
			// another tab) while the person was at the IdP.
			logEvent(h.log, c, slog.LevelWarn, "sign-in refused", slog.String("sub", u.Subject), errAttr(err))
			return authError(err)
		}
		return fmt.Errorf("sign-in: rotate session: %w", err)
	}
	if u.MissingRolesClaim != "" {
		logEvent(h.log, c, slog.LevelWarn, "signed in without the roles claim: the identity provider does not release it, so the person has no role",
			slog.String("sub", u.Subject), slog.String("claim", u.MissingRolesClaim))
	}
	logEvent(h.log, c, slog.LevelInfo, "signed in",
		slog.String("sub", u.Subject), slog.String("username", u.Username), slog.Any("roles", u.Roles),
		slog.String("acr", u.ACR), slog.Any("amr", u.AMR))
	return c.Redirect(http.StatusSeeOther, SafeNext(login.Next))
}
