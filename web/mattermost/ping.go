package mattermost

import (
	"context"
	"fmt"
)

// Ping asks Mattermost for the bot's own account, once, without retries
// and within one CallTimeout: the cheap probe of an outbox that waits for
// Mattermost to come back. It succeeds only when Mattermost answers and
// still accepts the bot token, the two things every delivery needs. A
// failure is an *Error like any call's (ErrUnavailable, ErrUnauthorized…).
func (c *Client) Ping(ctx context.Context) error {
	attemptCtx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	_, resp, err := c.api.GetMe(attemptCtx, "")
	if err == nil {
		return nil
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	failure := &Error{Op: "ping (users/me)", Status: status, Attempts: 1, Timeout: c.cfg.CallTimeout,
		TimedOut: attemptCtx.Err() != nil && ctx.Err() == nil, Err: err}
	if ctx.Err() != nil {
		return &stopped{last: failure, cause: ctx.Err()}
	}
	return fmt.Errorf("mattermost: %w", failure)
}
