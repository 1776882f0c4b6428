package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/web/session"
)

// Passkeys serves the approver's passkeys page and its forms: enrol
// (begin, finish), rename, revoke. Each change is one call into the
// passkey service, which checks the sign-in's freshness and audits it.
type Passkeys struct {
	svc *passkey.Service
	// rule is the freshness the page promises (the same rule the service
	// applies, the decisions' step-up rule).
	rule approval.StepUpRule
	now  func() time.Time
	log  *slog.Logger
}

// NewPasskeys returns the passkey handlers; svc nil shows the page saying
// passkeys are off.
func NewPasskeys(svc *passkey.Service, rule approval.StepUpRule, now func() time.Time, log *slog.Logger) *Passkeys {
	if now == nil {
		now = time.Now
	}
	return &Passkeys{svc: svc, rule: rule, now: now, log: loggerOr(log)}
}

// authOf is the session's sign-in as the passkey service weighs it.
func authOf(u *session.User) passkey.Auth {
	return passkey.Auth{Time: u.AuthTime, ACR: u.ACR, AMR: u.AMR}
}

// Show serves GET /passkeys.
func (h *Passkeys) Show(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	v := pages.PasskeysView{Enabled: h.svc != nil, CSRFField: session.CSRFField, CSRFToken: session.CSRFToken(c)}
	if h.svc == nil {
		return Render(c, http.StatusOK, pages.Passkeys(v))
	}
	now := h.now()
	v.Fresh = h.rule.Check(u.StepUp(), now) == nil
	v.FreshUntil = timeView(h.rule.CountsUntil(u.StepUp()), now)
	switch c.QueryParam("done") {
	case "enrolled":
		v.Notice = "Passkey added."
	case "renamed":
		v.Notice = "Passkey renamed."
	case "revoked":
		v.Notice = "Passkey revoked: decisions it signs no longer count."
	}
	keys, err := h.svc.List(c.Request().Context(), u.Subject)
	if err != nil {
		return err
	}
	for _, k := range keys {
		id := strconv.FormatInt(k.ID, 10)
		row := pages.PasskeyRow{
			ID: id, Name: k.Name, CredentialID: k.CredentialID, Created: timeView(k.CreatedAt, now),
			RenamePath: "/passkeys/" + id + "/rename", RevokePath: "/passkeys/" + id + "/revoke",
		}
		if k.LastUsedAt != nil {
			row.LastUsed = timeView(*k.LastUsedAt, now)
		}
		if k.RevokedAt != nil {
			row.Revoked = timeView(*k.RevokedAt, now)
		}
		v.Keys = append(v.Keys, row)
	}
	return Render(c, http.StatusOK, pages.Passkeys(v))
}

// Rename serves POST /passkeys/:id/rename (form field name).
func (h *Passkeys) Rename(c echo.Context) error {
	return h.change(c, "renamed", func(u *session.User, id int64) error {
		return h.svc.Rename(c.Request().Context(), u.Approver().Actor, authOf(u), id, c.FormValue("name"))
	})
}

// Revoke serves POST /passkeys/:id/revoke.
func (h *Passkeys) Revoke(c echo.Context) error {
	return h.change(c, "revoked", func(u *session.User, id int64) error {
		return h.svc.Revoke(c.Request().Context(), u.Approver().Actor, authOf(u), id)
	})
}

func (h *Passkeys) change(c echo.Context, done string, fn func(u *session.User, id int64) error) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	if h.svc == nil {
		return echo.ErrNotFound
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return fmt.Errorf("passkey %q: %w", c.Param("id"), models.ErrNotFound)
	}
	if err := fn(u, id); err != nil {
		logEvent(h.log, c, slog.LevelWarn, "passkey change refused", slog.String("sub", u.Subject), slog.String("change", done), errAttr(err))
		return err
	}
	logEvent(h.log, c, slog.LevelInfo, "passkey "+done, slog.String("sub", u.Subject), slog.Int64("passkey", id))
	return c.Redirect(http.StatusSeeOther, "/passkeys?done="+done)
}

// BeginEnroll serves POST /passkeys/enroll/begin: the registration
// options, as JSON, for navigator.credentials.create.
func (h *Passkeys) BeginEnroll(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	if h.svc == nil {
		return echo.ErrNotFound
	}
	en, err := h.svc.BeginEnroll(c.Request().Context(), u.Approver().Actor, authOf(u))
	if err != nil {
		return h.jsonError(c, u, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"id": en.ID, "options": en.Options})
}

// FinishEnroll serves POST /passkeys/enroll/finish (form fields id, name
// and credential, the JSON of the created credential).
func (h *Passkeys) FinishEnroll(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	if h.svc == nil {
		return echo.ErrNotFound
	}
	pk, err := h.svc.FinishEnroll(c.Request().Context(), u.Approver().Actor, authOf(u), c.FormValue("id"), c.FormValue("name"), []byte(c.FormValue("credential")))
	if err != nil {
		return h.jsonError(c, u, err)
	}
	logEvent(h.log, c, slog.LevelInfo, "passkey enrolled", slog.String("sub", u.Subject), slog.String("credential", pk.CredentialID))
	return c.JSON(http.StatusOK, map[string]any{"next": "/passkeys?done=enrolled"})
}

func (h *Passkeys) jsonError(c echo.Context, u *session.User, err error) error {
	logEvent(h.log, c, slog.LevelWarn, "passkey refused", slog.String("sub", u.Subject), errAttr(err))
	return passkeyJSONError(c, err)
}

// passkeyReasons are the refusals whose words the browser may see: each
// sentinel's own sentence (no internal detail is ever sent).
var passkeyReasons = []error{
	passkey.ErrNotFresh, passkey.ErrNoUserVerification, passkey.ErrRegistration, passkey.ErrAssertionMalformed,
	passkey.ErrChallengeUnknown, passkey.ErrChallengeUsed, passkey.ErrChallengeExpired, passkey.ErrUnknownCredential,
	passkey.ErrPasskeyRequired, approval.ErrSelfDecision, approval.ErrSponsorDecision, approval.ErrNotApprover,
	approval.ErrContentChanged, approval.ErrAlreadyDecided, approval.ErrNotPending, approval.ErrExpired,
}

// passkeyJSONError answers a script's request with a status mapped from
// the domain's sentinel and a sentence safe to show.
func passkeyJSONError(c echo.Context, err error) error {
	status, msg := http.StatusInternalServerError, "Something went wrong; nothing was changed."
	switch {
	case errors.Is(err, models.ErrInvalid):
		status, msg = http.StatusBadRequest, "The form is incomplete or malformed."
		var ve *models.ValidationError
		if errors.As(err, &ve) {
			msg = ve.Field + " " + ve.Reason
		}
	case errors.Is(err, models.ErrNotFound):
		status, msg = http.StatusNotFound, "Not found."
	case errors.Is(err, models.ErrForbidden):
		status, msg = http.StatusForbidden, "Not allowed."
	case errors.Is(err, models.ErrConflict):
		status, msg = http.StatusConflict, "This changed meanwhile; reload the page."
	}
	for _, r := range passkeyReasons {
		if errors.Is(err, r) {
			msg, _, _ = strings.Cut(r.Error(), ": ")
			msg = strings.ToUpper(msg[:1]) + msg[1:] + "."
			break
		}
	}
	return c.JSON(status, map[string]string{"error": msg})
}
