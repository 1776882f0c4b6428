package handlers

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
)

// PasskeyChallenge serves POST /requests/:id/passkey/challenge (the
// decision form's fields: verdict, comment, content_hash, CSRF token): the
// decision statement to sign and the options for navigator.credentials.get,
// as JSON. The statement is shown before the passkey is asked, so what
// the person sees is what they sign.
func (h *Decisions) PasskeyChallenge(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	var f decisionForm
	if err := (&echo.DefaultBinder{}).BindBody(c, &f); err != nil {
		return passkeyJSONError(c, models.Invalid("form", "is malformed"))
	}
	if err := f.validate(); err != nil {
		return passkeyJSONError(c, err)
	}
	id := models.NormalizeRequestID(c.Param("id"))
	if id == "" || len(id) > 64 {
		return passkeyJSONError(c, fmt.Errorf("request id: %w", models.ErrNotFound))
	}
	ch, err := h.svc.PasskeyChallenge(c.Request().Context(), u.Approver(), id, models.Verdict(f.Verdict), f.Comment, f.ContentHash)
	if err != nil {
		logEvent(h.log, c, slog.LevelWarn, "passkey challenge refused", slog.String("request", id), slog.String("sub", u.Subject), errAttr(err))
		return passkeyJSONError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"statement": ch.Text, "nonce": ch.Statement.Nonce, "publicKey": ch.Options})
}
