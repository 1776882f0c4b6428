package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
)

// withdrawReasonMax bounds the optional reason, as the chat cancel's.
const withdrawReasonMax = 300

// withdrawForm is the withdraw form's one field (the CSRF token is
// checked by middleware).
type withdrawForm struct {
	Reason string `form:"reason"`
}

// reason is the recorded reason: what was typed, or a default saying
// where it happened.
func (f withdrawForm) reason() (string, error) {
	r := strings.TrimSpace(f.Reason)
	switch {
	case !utf8.ValidString(r):
		return "", models.Invalid("reason", "is not valid UTF-8 text")
	case len(r) > withdrawReasonMax:
		return "", models.Invalid("reason", fmt.Sprintf("is longer than %d bytes", withdrawReasonMax))
	case r == "":
		return "withdrawn in the portal", nil
	}
	return r, nil
}

// Withdraw serves POST /requests/:id/withdraw: the requester (or an
// agent's sponsor) withdraws a pending request, by the same rule as the
// chat cancel (approval.Service.Withdraw). Someone who may not see the
// request gets 404 like its page; someone who may see it but not withdraw
// it 403; a request no longer pending 409 — the error handler maps them.
func (h *Talk) Withdraw(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	id, err := requestParam(c)
	if err != nil {
		return err
	}
	var f withdrawForm
	if err := (&echo.DefaultBinder{}).BindBody(c, &f); err != nil {
		return err
	}
	reason, err := f.reason()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := h.approvals.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	if !h.approvals.MayView(r, u.Approver()) {
		return fmt.Errorf("withdraw: %s hidden from %s: %w", id, u.Subject, models.ErrNotFound)
	}
	if _, err := h.approvals.Withdraw(ctx, id, u.Approver(), reason); err != nil {
		logEvent(h.log, c, slog.LevelInfo, "withdraw refused", slog.String("request", id), slog.String("sub", u.Subject), errAttr(err))
		return fmt.Errorf("withdraw: %w", err)
	}
	logEvent(h.log, c, slog.LevelInfo, "request withdrawn", slog.String("request", id), slog.String("sub", u.Subject))
	return c.Redirect(http.StatusSeeOther, requestPath(id)+"?withdrawn=1#comments")
}
