package mattermost

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// call runs one API call with a per-attempt timeout, retrying failures that
// may pass (5xx, 429, timeouts, transport errors) with exponential backoff
// and jitter. Other 4xx are answers, not accidents: they return at once.
// The caller's ctx bounds the whole, waits included.
func (c *Client) call(ctx context.Context, op string, fn func(ctx context.Context) (*model.Response, error)) error {
	for attempt := 1; ; attempt++ {
		attemptCtx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		began := time.Now()
		resp, err := fn(attemptCtx)
		addCallTime(ctx, time.Since(began))
		timedOut := attemptCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			return nil
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		failure := &Error{Op: op, Status: status, Attempts: attempt, Timeout: c.cfg.CallTimeout, TimedOut: timedOut, Err: err}
		if ctx.Err() != nil {
			// The caller gave up: report that, not an outage.
			return &stopped{last: failure, cause: ctx.Err()}
		}
		if !retryable(status, err) || attempt >= c.cfg.MaxAttempts {
			return failure
		}
		wait := c.backoff(attempt)
		c.log.LogAttrs(ctx, slog.LevelWarn, "mattermost: retrying call",
			slog.String("op", op), slog.Int("attempt", attempt), slog.Int("status", status),
			slog.Bool("timed_out", timedOut), slog.Duration("wait", wait))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return &stopped{last: failure, cause: ctx.Err()}
		}
	}
}

// retryable says whether another attempt may succeed. A status of 0 means
// no HTTP answer (timeout, refused or reset connection).
func retryable(status int, err error) bool {
	switch {
	case status == 0:
		return !errors.Is(err, context.Canceled)
	case status == http.StatusTooManyRequests, status >= 500:
		return true
	}
	return false
}

// backoff is the wait after a failed call attempt (see Backoff).
func (c *Client) backoff(attempt int) time.Duration {
	return Backoff(c.cfg.BackoffBase, c.cfg.BackoffMax, attempt)
}

// Backoff is the wait after failed attempt number attempt (from 1):
// "equal jitter" over min(max, base·2^(attempt-1)), so clients that failed
// together do not retry together.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 30)
	if d <= 0 || d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(half+1)
}

// stopped is a call the caller's context ended. It matches the context's
// error (Canceled or DeadlineExceeded) and the last failure's cause, but
// not ErrUnavailable: nothing says Mattermost is down.
type stopped struct {
	last  *Error
	cause error
}

// Error implements error.
func (s *stopped) Error() string {
	return s.last.Op + ": stopped by caller after attempt " + strconv.Itoa(s.last.Attempts) + ": " + s.cause.Error()
}

// Unwrap exposes the context's error and the last failure's cause.
func (s *stopped) Unwrap() []error { return []error{s.cause, s.last.Err} }

// Last is the last attempt's failure: its status tells whether Mattermost
// answered with errors (5xx, 429) before the caller gave up, or never
// answered at all.
func (s *stopped) Last() *Error { return s.last }

// isStatus reports whether err is a call failure that ended with status.
func isStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}
