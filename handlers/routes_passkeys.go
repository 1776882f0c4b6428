package handlers

import (
	"github.com/labstack/echo/v4"
)

// registerPasskeyRoutes adds the passkeys page and its forms, and the
// decision statement a passkey signs. Session, CSRF (every POST carries
// the form's token) and requireUser apply as to every portal route.
func registerPasskeyRoutes(e *echo.Echo, opts Options, decisions *Decisions) {
	p := opts.Portal
	e.POST("/requests/:id/passkey/challenge", decisions.PasskeyChallenge, requireUser)
	pk := NewPasskeys(p.Passkeys, p.Approvals.StepUpFor(nil), p.Now, opts.Logger)
	e.GET("/passkeys", pk.Show, requireUser)
	e.POST("/passkeys/enroll/begin", pk.BeginEnroll, requireUser)
	e.POST("/passkeys/enroll/finish", pk.FinishEnroll, requireUser)
	e.POST("/passkeys/:id/rename", pk.Rename, requireUser)
	e.POST("/passkeys/:id/revoke", pk.Revoke, requireUser)
}
