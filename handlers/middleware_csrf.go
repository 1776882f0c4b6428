package handlers

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/web/session"
)

// Why a state-changing request was refused, for the log.
var (
	errCrossSite     = errors.New("csrf: cross-site request (Sec-Fetch-Site)")
	errForeignOrigin = errors.New("csrf: foreign Origin")
	errNoSession     = errors.New("csrf: no session")
	errBadToken      = errors.New("csrf: missing or wrong token")
)

// csrfMessage is what the person is told: the usual cause is a page left
// open across a sign-in or a session that ended.
const csrfMessage = "This form is out of date or did not come from this portal, so nothing was changed. Reload the page and try again."

// safeMethod reports methods that must not change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// csrfProtect refuses every state-changing request to the portal that does
// not prove it came from one of the portal's own forms in this session:
//
//   - the browser must not label it cross-site (Sec-Fetch-Site other than
//     same-origin or none) and any Origin header must be the portal's own;
//   - it must carry the session's synchronizer token in the session.CSRFField
//     form field, compared in constant time.
//
// It runs for every route (new forms are protected by default); only
// exempt prefixes (machine endpoints, the demo IdP) and safe methods pass
// unchecked. A refusal is logged by the error handler and changes nothing.
func (p *portalAuth) csrfProtect() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if safeMethod(req.Method) || p.isExempt(req.URL.Path) {
				return next(c)
			}
			if err := p.checkCSRF(c); err != nil {
				status := http.StatusForbidden
				msg := csrfMessage
				if errors.Is(err, errNoSession) {
					status, msg = http.StatusUnauthorized, "Your session has ended, so nothing was changed. Sign in and try again."
				}
				return echo.NewHTTPError(status, msg).SetInternal(err)
			}
			return next(c)
		}
	}
}

func (p *portalAuth) checkCSRF(c echo.Context) error {
	req := c.Request()
	if site := req.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errCrossSite
	}
	if origin := req.Header.Get("Origin"); origin != "" && strings.ToLower(origin) != p.origin {
		return errForeignOrigin
	}
	s, ok := session.From(c)
	if !ok {
		return errNoSession
	}
	token := c.FormValue(session.CSRFField)
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) != 1 {
		return errBadToken
	}
	return nil
}
