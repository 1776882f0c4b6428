package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/web/session"
)

// Show serves GET /requests/:id: everything an approver needs to judge the
// request, and the decision forms when they may decide. An unknown id and a
// request the viewer may not see both answer 404.
func (h *Requests) Show(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	id := models.NormalizeRequestID(c.Param("id"))
	if id == "" || len(id) > 64 {
		return fmt.Errorf("request page: id %q: %w", c.Param("id"), models.ErrNotFound)
	}
	r, err := h.svc.Get(c.Request().Context(), id)
	if err != nil {
		return fmt.Errorf("request page: %w", err)
	}
	if !h.svc.MayView(r, u.Approver()) {
		return fmt.Errorf("request page: %s hidden from %s: %w", r.ID, u.Subject, models.ErrNotFound)
	}
	_, verified, err := approval.VerifyContent(r)
	if err != nil {
		return fmt.Errorf("request page: verify content of %s: %w", r.ID, err)
	}
	now := h.now()
	g, err := h.loadGrant(c.Request().Context(), r)
	if err != nil {
		return fmt.Errorf("request page: %w", err)
	}
	v := h.requestView(r, verified, g, now)
	if v.Summary, err = h.summaryView(c.Request().Context(), r); err != nil {
		return fmt.Errorf("request page: %w", err)
	}
	if err := h.linkReceipts(c.Request().Context(), r, v.Decisions); err != nil {
		return fmt.Errorf("request page: %w", err)
	}
	v.Decide = h.decideView(c, u, r, verified)
	v.Notice = decidedNotice(c.QueryParam("decided"), r, u.Subject)
	if v.Notice != "" && c.QueryParam("chat") == "unchecked" {
		v.ChatNote = chatUncheckedNote
	}
	if v.Revisions, v.Later, err = h.conversationHistoryViews(c.Request().Context(), r, now); err != nil {
		return err
	}
	if v.Execution, err = h.executionView(c.Request().Context(), r); err != nil {
		return fmt.Errorf("request page: %w", err)
	}
	v.Grant = grantView(r, g, now)
	if v.Comments, err = h.commentsView(c, u, r); err != nil {
		return err
	}
	return Render(c, http.StatusOK, pages.Request(v))
}

// decidedNotice confirms the viewer's decision after the decision form
// redirected here with ?decided=…. It is shown only when the viewer really
// has such a decision on record, so a crafted link cannot fake one.
func decidedNotice(verdict string, r *models.Request, subject string) string {
	for _, d := range r.Decisions {
		if d.ApproverID != subject || string(d.Verdict) != verdict {
			continue
		}
		switch d.Verdict {
		case models.VerdictApprove:
			return "Your approval is recorded, with the evidence of your sign-in."
		case models.VerdictDeny:
			return "Your denial is recorded, with the evidence of your sign-in."
		}
	}
	return ""
}

// decideView says whether u may decide r now and, if so, fills the forms.
// Who may decide is the domain's rule (Check); the page only adds what it
// can see itself: the state, the clock, whether u already decided this
// content, and whether the stored content still matches its hash.
func (h *Requests) decideView(c echo.Context, u *session.User, r *models.Request, verified bool) pages.DecideView {
	if !verified {
		return pages.DecideView{Reason: "Decisions are disabled because the stored content no longer matches its hash."}
	}
	// The domain's pre-check says whether a decision would be accepted;
	// the page only words its answer.
	if err := h.svc.CanDecide(r, u.Approver(), r.ContentHash); err != nil {
		switch {
		case errors.Is(err, approval.ErrNotPending):
			return pages.DecideView{Reason: fmt.Sprintf("This request is %s; it no longer takes decisions.", r.State)}
		case errors.Is(err, approval.ErrExpired):
			return pages.DecideView{Reason: "This request expired before enough approvers decided; it no longer takes decisions."}
		}
		return pages.DecideView{Reason: checkReason(err)}
	}
	for i := range r.Decisions {
		if d := &r.Decisions[i]; d.ApproverID == u.Subject && r.Counts(d) {
			return pages.DecideView{Reason: "You already decided this request; your decision is in the timeline above."}
		}
	}
	return pages.DecideView{CanDecide: true, Form: h.decisionFormView(c, r)}
}

// checkReason words the domain's refusal for the person refused. Unknown
// errors get a generic sentence: internal text never reaches the page.
func checkReason(err error) string {
	switch {
	case errors.Is(err, approval.ErrSelfDecision):
		return "You made this request, so you cannot decide it: someone else must approve or deny it."
	case errors.Is(err, approval.ErrSponsorDecision):
		return "You sponsor the agent that made this request, so you cannot approve it: another approver must decide."
	case errors.Is(err, approval.ErrNotApprover):
		return "Your roles do not allow deciding requests. You can read this request, but not approve or deny it."
	default:
		return "You cannot decide this request."
	}
}
