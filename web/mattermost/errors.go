package mattermost

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/countersign/countersign/models"
)

// Errors of this package beyond the models sentinels.
var (
	// ErrUnavailable means Mattermost did not answer usefully after every
	// attempt (5xx, rate limiting, timeouts, connection failures). The
	// call may work later: queue outbound messages instead of dropping
	// them, and tell the requester to try again for captures.
	ErrUnavailable = errors.New("mattermost: unavailable")
	// ErrUnauthorized means Mattermost refused the bot token (401): a
	// configuration problem, not the user's.
	ErrUnauthorized = errors.New("mattermost: bot token refused")
	// ErrConfig means the Config cannot work.
	ErrConfig = errors.New("mattermost: invalid configuration")
)

// Error describes a failed call to Mattermost: which operation, the last
// HTTP status (0 when no answer came), how many attempts were made and how
// long one attempt was allowed. It matches the sentinel for its status
// with errors.Is: 404 → models.ErrNotFound, 403 → models.ErrForbidden,
// 400 → models.ErrInvalid, 401 → ErrUnauthorized, and 5xx, 429 or no
// answer → ErrUnavailable.
type Error struct {
	// Op names the operation and its ids, never a token.
	Op       string
	Status   int
	Attempts int
	// Timeout is the per-call timeout, reported when an attempt ran out.
	Timeout time.Duration
	// TimedOut is true when the last attempt hit the per-call timeout.
	TimedOut bool
	Err      error
}

// Error implements error.
func (e *Error) Error() string {
	what := fmt.Sprintf("status %d", e.Status)
	switch {
	case e.TimedOut:
		what = fmt.Sprintf("no answer within %s", e.Timeout)
	case e.Status == 0:
		what = "no answer"
	}
	return fmt.Sprintf("%s: %s (attempt %d): %v", e.Op, what, e.Attempts, e.Err)
}

// Unwrap exposes the cause and the sentinel for the status.
func (e *Error) Unwrap() []error {
	errs := []error{e.Err}
	if kind := kindOf(e.Status); kind != nil {
		errs = append(errs, kind)
	}
	return errs
}

// kindOf maps a final status to the sentinel callers test for.
func kindOf(status int) error {
	switch {
	case status == http.StatusNotFound:
		return models.ErrNotFound
	case status == http.StatusForbidden:
		return models.ErrForbidden
	case status == http.StatusBadRequest:
		return models.ErrInvalid
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == 0, status == http.StatusTooManyRequests, status >= 500:
		return ErrUnavailable
	}
	return nil
}
