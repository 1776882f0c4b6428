package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/web/session"
)

// Submit serves POST /requests/:id/decision (form fields verdict, comment,
// content_hash and the CSRF token, which middleware has checked). The
// decision is prepared first (so nobody re-authenticates only to be
// refused); when the session's authentication meets the request's step-up
// rule the decision is recorded at once, otherwise it is parked, one-time,
// in the server-side session and the browser is sent to the IdP to
// authenticate again (prompt=login, max_age, acr_values). The callback
// then finishes it in FinishStepUp. A decision signed with a passkey
// (the passkey_* fields) is recorded at once: the passkey is its step-up.
func (h *Decisions) Submit(c echo.Context) error {
	u, ok := session.UserFrom(c)
	s, hasSession := session.From(c)
	if !ok || !hasSession {
		return echo.ErrUnauthorized
	}
	var f decisionForm
	if err := (&echo.DefaultBinder{}).BindBody(c, &f); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	id := models.NormalizeRequestID(c.Param("id"))
	if id == "" || len(id) > 64 {
		return fmt.Errorf("decision: request id %q: %w", c.Param("id"), models.ErrNotFound)
	}
	prep, err := h.svc.PrepareDecision(c.Request().Context(), u.Approver(), id, f.ContentHash)
	if err != nil {
		return h.refusedEarly(c, id, u.Subject, err)
	}
	if p := f.passkeyProof(); p != nil || prep.StepUp.Passkey {
		// A passkey signature is the decision's fresh authentication; a
		// rule that requires one never sends anyone to the IdP.
		return h.decide(c, approval.Decision{
			RequestID: id, Approver: u.Approver(), Verdict: models.Verdict(f.Verdict),
			Comment: f.Comment, ContentHash: f.ContentHash, StepUp: u.StepUp(), Passkey: p,
		}, prep.ChatUnchecked)
	}
	if prep.StepUp.Check(u.StepUp(), h.now()) == nil {
		err := h.decide(c, approval.Decision{
			RequestID: id, Approver: u.Approver(), Verdict: models.Verdict(f.Verdict),
			Comment: f.Comment, ContentHash: f.ContentHash, StepUp: u.StepUp(),
		}, prep.ChatUnchecked)
		if !errors.Is(err, approval.ErrStepUpStale) {
			return err
		}
		// The sign-in aged past the rule between the two checks (they are
		// the same rule, a moment apart): ask for a fresh one rather than
		// refuse.
	}
	return h.challenge(c, s, u, f, id, prep.StepUp)
}

// refusedEarly answers a decision that cannot be made: a changed request
// gets its own page; every other refusal goes to the error handler, which
// maps the domain's errors to 403/404/409.
func (h *Decisions) refusedEarly(c echo.Context, id, sub string, err error) error {
	if errors.Is(err, approval.ErrContentChanged) {
		return h.contentChanged(c, id)
	}
	logEvent(h.log, c, slog.LevelWarn, "decision refused", slog.String("request", id), slog.String("sub", sub), errAttr(err))
	return err
}

// challenge parks the decision in the session and sends the browser to
// the IdP for a fresh, strong authentication meeting rule.
func (h *Decisions) challenge(c echo.Context, s *session.Session, u *session.User, f decisionForm, id string, rule approval.StepUpRule) error {
	opts := authOptionsFor(rule)
	opts.Prompt, opts.LoginHint = "login", loginHint(u)
	authURL, pending, err := h.rp.Begin(opts)
	if err != nil {
		return authError(fmt.Errorf("step-up: begin: %w", err))
	}
	pd := &session.PendingDecision{
		RequestID: id, Verdict: f.Verdict, Comment: f.Comment, ContentHash: f.ContentHash,
		ChallengedAt: h.now().UTC(), Issuer: u.Issuer, Subject: u.Subject,
	}
	login := session.PendingLogin{OIDC: pending, Next: requestPath(id), StepUp: true}
	if err := h.sessions.SetPending(c, s, login, pd); err != nil {
		return fmt.Errorf("step-up: save pending decision: %w", err)
	}
	logEvent(h.log, c, slog.LevelInfo, "step-up required", slog.String("request", id), slog.String("sub", u.Subject), slog.String("verdict", f.Verdict))
	return c.Redirect(http.StatusSeeOther, authURL)
}

// decide records d and redirects to the request page with the result.
func (h *Decisions) decide(c echo.Context, d approval.Decision, chatUnchecked bool) error {
	out, err := h.svc.Decide(c.Request().Context(), d)
	if err != nil {
		return h.refusedEarly(c, d.RequestID, d.Approver.Actor.ID, err)
	}
	logEvent(h.log, c, slog.LevelInfo, "decision recorded",
		slog.String("request", d.RequestID), slog.String("sub", d.Approver.Actor.ID), slog.String("verdict", string(d.Verdict)),
		slog.Int("approvals", out.Approvals), slog.Bool("transitioned", out.Transitioned),
		slog.String("acr", d.StepUp.ACR), slog.Any("amr", d.StepUp.AMR))
	target := requestPath(d.RequestID) + "?decided=" + string(d.Verdict)
	if chatUnchecked {
		target += "&chat=unchecked"
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// contentChanged tells the person the request changed after they opened
// it, and links to the current version. Nothing was recorded.
func (h *Decisions) contentChanged(c echo.Context, id string) error {
	logEvent(h.log, c, slog.LevelInfo, "decision refused", slog.String("request", id), slog.String("reason", "content changed"))
	return Render(c, http.StatusConflict, pages.DecisionChanged(pages.DecisionChangedView{
		RequestID: id, RequestURL: requestPath(id),
	}))
}
