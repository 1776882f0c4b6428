package handlers

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/web/session"
)

// FinishStepUp completes a decision after the IdP's answer to its step-up.
// The new identity must be the session's person (same issuer and subject),
// must have authenticated at or after the challenge, and must meet the
// step-up policy; only then is the session rotated with the new login
// (its evidence and the roles its groups map to now) and the decision
// recorded with it. The pending decision was already
// taken from the session, so a replayed callback finds nothing to finish.
func (h *Decisions) FinishStepUp(c echo.Context, s *session.Session, r StepUpResult) error {
	p := r.Pending
	if p == nil {
		logEvent(h.log, c, slog.LevelWarn, "step-up refused", slog.String("reason", "no pending decision"))
		return echo.NewHTTPError(http.StatusBadRequest, "There is no decision waiting for this sign-in. Open the request and decide again.")
	}
	if r.Err != nil {
		ap := classifyAuthError(r.Err)
		if ap.message == "" {
			return fmt.Errorf("step-up: complete: %w", r.Err)
		}
		logEvent(h.log, c, slog.LevelWarn, "step-up refused", slog.String("request", p.RequestID), slog.String("sub", p.Subject), errAttr(r.Err))
		return h.refused(c, ap.status, ap.message, p)
	}
	u, id := s.User, r.Identity
	switch {
	case u == nil || id == nil || r.User == nil:
		logEvent(h.log, c, slog.LevelWarn, "step-up refused", slog.String("request", p.RequestID), slog.String("reason", "session has no user"))
		return h.refused(c, http.StatusUnauthorized, "Your session ended. Sign in and decide again.", p)
	case id.Issuer != p.Issuer || id.Subject != p.Subject || id.Issuer != u.Issuer || id.Subject != u.Subject:
		logEvent(h.log, c, slog.LevelWarn, "step-up refused", slog.String("request", p.RequestID),
			slog.String("reason", "authenticated as a different person"), slog.String("sub", u.Subject), slog.String("got_sub", id.Subject))
		return h.refused(c, http.StatusForbidden, "You confirmed as a different person than the one who started this decision.", p)
	case id.AuthTime.IsZero() || id.AuthTime.Unix() < p.ChallengedAt.Unix():
		// auth_time has whole seconds: anything in the challenge's second
		// or later counts as a new authentication.
		logEvent(h.log, c, slog.LevelWarn, "step-up refused", slog.String("request", p.RequestID),
			slog.String("reason", "auth_time missing or older than the challenge"), slog.String("sub", u.Subject))
		return h.refused(c, http.StatusForbidden, "Your identity provider did not confirm a new sign-in. You have to enter your credentials again.", p)
	}
	// The same person signed in again, after the challenge: the session
	// carries this login from now on, whatever this decision's fate — its
	// evidence, and the roles its groups grant today (a role the IdP
	// withdrew is gone from here on).
	nu := r.User
	if _, err := h.sessions.Reauthenticate(c, s, nu, id.RawIDToken); err != nil {
		if isSignInProblem(err) {
			logEvent(h.log, c, slog.LevelWarn, "step-up refused", slog.String("request", p.RequestID), slog.String("sub", u.Subject), errAttr(err))
			return h.refused(c, http.StatusUnauthorized, "Your session ended while you were confirming. Sign in and decide again.", p)
		}
		return fmt.Errorf("step-up: rotate session: %w", err)
	}
	// Prepare again: the request may have moved, and the conversation may
	// have changed while the person signed in again.
	prep, err := h.svc.PrepareDecision(c.Request().Context(), nu.Approver(), p.RequestID, p.ContentHash)
	if err != nil {
		return h.refusedEarly(c, p.RequestID, u.Subject, err)
	}
	if err := prep.StepUp.Check(nu.StepUp(), h.now()); err != nil {
		ap := classifyAuthError(err)
		logEvent(h.log, c, slog.LevelWarn, "step-up refused", slog.String("request", p.RequestID), slog.String("sub", u.Subject), errAttr(err))
		return h.refused(c, ap.status, ap.message, p)
	}
	logEvent(h.log, c, slog.LevelInfo, "step-up completed", slog.String("request", p.RequestID), slog.String("sub", nu.Subject),
		slog.String("acr", nu.ACR), slog.Any("amr", nu.AMR))
	return h.decide(c, approval.Decision{
		RequestID: p.RequestID, Approver: nu.Approver(), Verdict: models.Verdict(p.Verdict),
		Comment: p.Comment, ContentHash: p.ContentHash, StepUp: nu.StepUp(),
	}, prep.ChatUnchecked)
}

// refused renders the page for a step-up that did not count: what went
// wrong, that nothing was recorded, and the way back to the request.
func (h *Decisions) refused(c echo.Context, status int, message string, p *session.PendingDecision) error {
	return Render(c, status, pages.DecisionRefused(pages.DecisionRefusedView{
		Status: status, Message: message, RequestID: p.RequestID, RequestURL: requestPath(p.RequestID), TraceID: requestID(c),
	}))
}
