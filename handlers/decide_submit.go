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
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/render"
	"github.com/countersign/countersign/web/session"
)

// Submit serves POST /requests/:id/decision (form fields verdict, comment,
// content_hash and the CSRF token, which middleware has checked). When the
// session's authentication is fresh and strong enough the decision is
// recorded at once; otherwise it is parked, one-time, in the server-side
// session and the browser is sent to the IdP to authenticate again
// (prompt=login, max_age, acr_values). The callback then finishes it in
// FinishStepUp.
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
	req, err := h.svc.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	// A request the person may not see does not exist for them, as on
	// its page.
	if !h.svc.MayView(req, u.Approver()) {
		return fmt.Errorf("decision: %s hidden from %s: %w", id, u.Subject, models.ErrNotFound)
	}
	// Whether the decision would be accepted now, before anyone is sent
	// to re-authenticate; Decide checks again inside its transaction.
	if err := h.svc.CanDecide(req, u.Approver(), f.ContentHash); err != nil {
		if errors.Is(err, approval.ErrContentChanged) {
			return h.contentChanged(c, id)
		}
		logEvent(h.log, c, slog.LevelWarn, "decision refused", slog.String("request", id), slog.String("sub", u.Subject), errAttr(err))
		return err
	}
	// Read the conversation again before anyone re-authenticates: an
	// edit or deletion since the capture changes the content, and the
	// person is sent back to review it instead of signing in for nothing.
	unchecked, err := h.recheck(c, id, u.Approver().Actor)
	if err != nil {
		return err
	}
	if req, err = h.svc.Get(c.Request().Context(), id); err != nil {
		return err
	}
	if req.ContentHash != f.ContentHash {
		return h.contentChanged(c, id)
	}
	d := approval.Decision{
		RequestID: id, Approver: u.Approver(), Verdict: models.Verdict(f.Verdict),
		Comment: f.Comment, ContentHash: f.ContentHash, StepUp: u.StepUp(),
	}
	pol := h.policy.forRequest(req)
	if h.fresh(u, pol) {
		return h.decide(c, d, unchecked)
	}
	return h.challenge(c, s, u, f, id, pol)
}

// fresh reports whether the session's latest authentication satisfies the
// step-up policy pol now.
func (h *Decisions) fresh(u *session.User, pol StepUpPolicy) bool {
	return h.rp.StepUpSatisfied(u.Evidence(), pol.MaxAge, pol.ACRValues, pol.AMRAny, h.now()) == nil
}

// challenge parks the decision in the session and sends the browser to
// the IdP for a fresh, strong authentication meeting pol.
func (h *Decisions) challenge(c echo.Context, s *session.Session, u *session.User, f decisionForm, id string, pol StepUpPolicy) error {
	maxAge := pol.MaxAge
	authURL, pending, err := h.rp.Begin(oidcrp.AuthOptions{
		Prompt: "login", MaxAge: &maxAge, ACRValues: pol.ACRValues, EssentialACR: pol.EssentialACR && len(pol.ACRValues) > 0,
	})
	if err != nil {
		return fmt.Errorf("step-up: begin: %w", err)
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

// decide records d and redirects to the request page with the result. A
// changed request gets its own page; every other refusal goes to the
// error handler, which maps the domain's errors to 403/404/409.
func (h *Decisions) decide(c echo.Context, d approval.Decision, chatUnchecked bool) error {
	out, err := h.svc.Decide(c.Request().Context(), d)
	if errors.Is(err, approval.ErrContentChanged) {
		return h.contentChanged(c, d.RequestID)
	}
	if err != nil {
		logEvent(h.log, c, slog.LevelWarn, "decision refused", slog.String("request", d.RequestID), slog.String("sub", d.Approver.Actor.ID), errAttr(err))
		return err
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
	return render.Component(c, http.StatusConflict, pages.DecisionChanged(pages.DecisionChangedView{
		RequestID: id, RequestURL: requestPath(id),
	}))
}
