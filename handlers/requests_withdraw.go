package handlers

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// withdrawForm is the withdraw form's one field (the CSRF token is
// checked by middleware).
type withdrawForm struct {
	Reason string `form:"reason"`
}

// Withdraw serves POST /requests/:id/withdraw: the requester (or an
// agent's sponsor) withdraws a pending request, by the same rule as the
// chat cancel (approval.Service.Withdraw, which also decides who may see
// it and checks the reason). Someone who may not see the request gets 404
// like its page; someone who may see it but not withdraw it 403; a
// request no longer pending 409; a bad reason 400 — the error handler
// maps them.
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
	if _, err := h.approvals.Withdraw(c.Request().Context(), id, u.Approver(), f.Reason); err != nil {
		logEvent(h.log, c, slog.LevelInfo, "withdraw refused", slog.String("request", id), slog.String("sub", u.Subject), errAttr(err))
		return fmt.Errorf("withdraw: %w", err)
	}
	logEvent(h.log, c, slog.LevelInfo, "request withdrawn", slog.String("request", id), slog.String("sub", u.Subject))
	return c.Redirect(http.StatusSeeOther, requestPath(id)+"?withdrawn=1#comments")
}
