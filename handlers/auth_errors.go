package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// authProblem is what a person is told when a sign-in or step-up fails.
// The cause goes to the log; the text never repeats it.
type authProblem struct {
	status  int
	message string
}

// classifyAuthError maps the relying party's and the session store's
// errors to a status and a message. It is the one place these errors get
// words; both the sign-in callback and the step-up use it.
func classifyAuthError(err error) authProblem {
	var idpErr *oidcrp.IdPError
	switch {
	case isSignInProblem(err), errors.Is(err, oidcrp.ErrStateMismatch), errors.Is(err, oidcrp.ErrPendingExpired):
		return authProblem{http.StatusBadRequest, "This sign-in link is not valid any more: it was already used, has expired, or was started in another browser. Start again."}
	case errors.As(err, &idpErr):
		if idpErr.Code == "access_denied" {
			return authProblem{http.StatusForbidden, "The sign-in was cancelled or refused at your identity provider."}
		}
		return authProblem{http.StatusForbidden, "Your identity provider did not complete the sign-in. Start again."}
	case errors.Is(err, oidcrp.ErrStaleAuth), errors.Is(err, approval.ErrStepUpStale):
		return authProblem{http.StatusForbidden, "Your identity provider did not confirm a fresh sign-in. You have to enter your credentials again."}
	case errors.Is(err, oidcrp.ErrWeakACR), errors.Is(err, oidcrp.ErrWeakAMR), errors.Is(err, approval.ErrStepUpWeak), errors.Is(err, approval.ErrStepUpWeakAMR):
		return authProblem{http.StatusForbidden, "Your sign-in was not strong enough. Sign in with your second factor (for example a one-time code)."}
	case errors.Is(err, oidcrp.ErrDiscovery):
		return authProblem{http.StatusServiceUnavailable, "Sign-in is not available right now: Countersign cannot reach your identity provider. Try again in a minute."}
	case errors.Is(err, oidcrp.ErrUserinfo):
		return authProblem{http.StatusBadGateway, "Your identity provider did not answer Countersign's question about your account (its userinfo endpoint). Start again; if it keeps happening, tell an administrator."}
	case errors.Is(err, session.ErrNoUsername):
		return authProblem{http.StatusForbidden, "Your account has no username Countersign can use. Ask an administrator to check the identity provider settings."}
	case errors.Is(err, oidcrp.ErrIssuerMismatch), errors.Is(err, oidcrp.ErrExchange),
		errors.Is(err, oidcrp.ErrIDToken), errors.Is(err, oidcrp.ErrTokenExpired),
		errors.Is(err, oidcrp.ErrAudience), errors.Is(err, oidcrp.ErrNonceMismatch):
		return authProblem{http.StatusBadRequest, "The answer from your identity provider could not be verified, so it was not accepted. Start again."}
	default:
		return authProblem{http.StatusInternalServerError, ""}
	}
}

// authError turns err into the HTTP error the portal's error handler
// renders: the status and message of classifyAuthError, the cause kept as
// the internal error for the log.
func authError(err error) error {
	p := classifyAuthError(err)
	if p.message == "" {
		return err
	}
	return echo.NewHTTPError(p.status, p.message).SetInternal(err)
}
