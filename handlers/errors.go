package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/templates/pages"
)

// problem is what the client may learn about a failed request: a status and
// text written for people. The underlying error never goes into it unless it
// is user-input feedback (a ValidationError) or an echo.HTTPError message
// that code wrote for the client on purpose.
type problem struct {
	status  int
	title   string
	message string
	// next is the step a person can take from here; empty for none beyond
	// the navigation.
	next string
}

// classify is the one place where errors become status codes. Domain code
// returns (wrapped) sentinel errors from package models; everything it does
// not recognise is a 500 with a generic text.
func classify(err error) problem {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		// echo wraps some errors twice (e.g. Bind: 400 around a 413); the
		// inner one is the real reason.
		if inner, ok := he.Internal.(*echo.HTTPError); ok {
			he = inner
		}
		p := problemFor(he.Code)
		if msg, ok := he.Message.(string); ok && he.Code < 500 && msg != "" && msg != http.StatusText(he.Code) {
			p.message = msg
		}
		return p
	}

	var ve *models.ValidationError
	if errors.As(err, &ve) {
		p := problemFor(http.StatusBadRequest)
		p.message = fmt.Sprintf("Please check %s: %s.", ve.Field, strings.TrimSuffix(ve.Reason, "."))
		return p
	}
	var te *models.TransitionError
	if errors.As(err, &te) {
		p := problemFor(http.StatusConflict)
		p.message = fmt.Sprintf("This request is %s and can no longer become %s. Reload the page to see its current state.", te.From, te.To)
		return p
	}

	if p, ok := decisionProblem(err); ok {
		return p
	}

	switch {
	case errors.Is(err, models.ErrNotFound):
		return problemFor(http.StatusNotFound)
	case errors.Is(err, models.ErrForbidden):
		return problemFor(http.StatusForbidden)
	case errors.Is(err, models.ErrInvalid):
		return problemFor(http.StatusBadRequest)
	case errors.Is(err, models.ErrIllegalTransition):
		p := problemFor(http.StatusConflict)
		p.message = "This request is no longer in a state that allows that. Reload the page to see its current state."
		return p
	case errors.Is(err, models.ErrConflict):
		return problemFor(http.StatusConflict)
	case errors.Is(err, models.ErrAudit):
		// Fail closed: the change was not made because it could not be
		// recorded. Say so, since the user may otherwise assume it was.
		p := problemFor(http.StatusServiceUnavailable)
		p.message = "The audit log could not be written, so nothing was changed. Try again in a moment."
		return p
	default:
		return problemFor(http.StatusInternalServerError)
	}
}

// decisionProblems word the approval service's refusals. They wrap the
// generic sentinels (so the status comes from those), but a person refused
// a decision deserves to know which rule refused it.
var decisionProblems = []struct {
	err     error
	status  int
	message string
}{
	{approval.ErrSelfDecision, http.StatusForbidden, "You made this request, so you cannot decide it: someone else must approve or deny it. Nothing was recorded."},
	{approval.ErrSponsorDecision, http.StatusForbidden, "You sponsor the agent that made this request, so you cannot approve it: another approver must decide. Nothing was recorded."},
	{approval.ErrNotApprover, http.StatusForbidden, "Your roles do not allow deciding requests. Nothing was recorded."},
	{approval.ErrAlreadyDecided, http.StatusConflict, "You already decided this request; your decision is in its timeline. Nothing new was recorded."},
	{approval.ErrNotPending, http.StatusConflict, "This request is no longer pending, so it takes no more decisions. Nothing was recorded."},
	{approval.ErrExpired, http.StatusConflict, "This request expired before your decision. Nothing was recorded."},
	{approval.ErrContentChanged, http.StatusConflict, "The request changed after you opened it. Reload it, read the current version and decide again. Nothing was recorded."},
}

// decisionProblem returns the worded problem for a decision refusal.
func decisionProblem(err error) (problem, bool) {
	for _, d := range decisionProblems {
		if errors.Is(err, d.err) {
			p := problemFor(d.status)
			p.message = d.message
			return p, true
		}
	}
	return problem{}, false
}

// statusMessages are the standard messages of the error page, by status.
var statusMessages = map[int]string{
	http.StatusBadRequest:            "The request could not be processed. Check what you entered and try again.",
	http.StatusUnauthorized:          "You need to sign in to see this page.",
	http.StatusForbidden:             "You are not allowed to do this.",
	http.StatusNotFound:              "There is nothing here. The link may be wrong, or the item no longer exists.",
	http.StatusMethodNotAllowed:      "This page does not accept that kind of request.",
	http.StatusConflict:              "This changed while you were looking at it. Reload the page and try again.",
	http.StatusRequestEntityTooLarge: "What you sent is too large.",
	http.StatusTooManyRequests:       "Too many requests. Wait a moment and try again.",
	http.StatusServiceUnavailable:    "The service is temporarily unavailable. Try again in a moment.",
}

// problemFor returns the standard title and message for a status code.
func problemFor(status int) problem {
	p := problem{status: status, title: http.StatusText(status), message: statusMessages[status]}
	if p.title == "" {
		p.title = "Error"
	}
	switch {
	case p.message != "":
	case status >= 500:
		p.message = "Something went wrong on our side. Try again; if it keeps happening, give an operator the request id."
	default:
		p.message = "The request could not be processed."
	}
	return p
}

// newErrorHandler returns echo's HTTPErrorHandler: it classifies the error,
// logs the real cause with the request id, and answers with an HTML error
// page or, for API clients, JSON {"error", "request_id"}.
func newErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		req := c.Request()
		rid := requestID(c)
		p := withNextStep(classify(err), c.Path())

		attrs := []slog.Attr{
			slog.String("request_id", rid),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("route", routeLabel(c)),
			slog.Int("status", p.status),
			slog.String("error", err.Error()),
		}
		switch {
		case p.status >= 500:
			logger.LogAttrs(req.Context(), slog.LevelError, "request failed", attrs...)
		case p.status == http.StatusNotFound || p.status == http.StatusMethodNotAllowed:
			logger.LogAttrs(req.Context(), slog.LevelDebug, "request refused", attrs...)
		default:
			// Refused input and permissions are security-relevant events.
			logger.LogAttrs(req.Context(), slog.LevelInfo, "request refused", attrs...)
		}

		if c.Response().Committed {
			// Too late to change status or body; the log line above is all
			// we can do.
			return
		}

		if werr := writeProblem(c, p, rid); werr != nil {
			logger.LogAttrs(req.Context(), slog.LevelError, "write error response",
				slog.String("request_id", rid), slog.String("error", werr.Error()))
			// Last resort, still without internals.
			_ = c.String(p.status, p.title+" (request id "+rid+")")
		}
	}
}

// errorBody is the JSON error document for API clients.
type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
}

// writeProblem sends p in the representation the client asked for.
func writeProblem(c echo.Context, p problem, rid string) error {
	if c.Request().Method == http.MethodHead {
		return c.NoContent(p.status)
	}
	if wantsJSON(c.Request()) {
		return c.JSON(p.status, errorBody{Error: p.message, RequestID: rid})
	}
	return Render(c, p.status, pages.Error(pages.ErrorView{
		Status:    p.status,
		Title:     p.title,
		Message:   p.message,
		NextStep:  p.next,
		RequestID: rid,
	}))
}

// hiddenRequestMessage answers every request-shaped address that shows
// nothing (a request that does not exist and one the person may not see
// alike, so the answer does not tell which) with what may be wrong and
// what to do.
const (
	hiddenRequestMessage = "There is no request here that you may see. It may not exist, or the account you are signed in with may not have access to it."
	hiddenRequestNext    = "If someone sent you this link, sign out and sign in with the account they meant, or ask the requester (or whoever sent it) to share the request with an approver who can see it."
)

// withNextStep adds the next step to p from the route that failed (the
// route pattern, never the URL the person typed).
func withNextStep(p problem, route string) problem {
	switch {
	case p.status == http.StatusNotFound && (strings.HasPrefix(route, "/requests/:") || strings.HasPrefix(route, "/mm/:") || strings.HasPrefix(route, "/audit/receipt/:")):
		p.message, p.next = hiddenRequestMessage, hiddenRequestNext
	case p.status == http.StatusNotFound:
		p.next = "Check the address, or start again from the dashboard."
	case p.status == http.StatusForbidden && p.next == "":
		p.next = "If you think your account should be allowed, ask an administrator which role it needs."
	case p.status == http.StatusUnauthorized:
		p.next = "Sign in, then open the link again."
	}
	return p
}

// wantsJSON is true for the API (/api/...) and for clients whose Accept
// header ranks application/json above text/html. Browsers send text/html
// first and get the page; curl's */* gets the page too.
func wantsJSON(r *http.Request) bool {
	if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	accept := r.Header.Get("Accept")
	return acceptQuality(accept, "application/json").better(acceptQuality(accept, "text/html"))
}
