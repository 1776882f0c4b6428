package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/web/mattermost"
)

// handle delivers one claimed row and records the result through rec:
// done (with the rows it supersedes), expanded, failed for good, held
// while Mattermost is down, or retried later with backoff.
func (w *Worker) handle(ctx context.Context, m *outbox.Message, rec *recorder) {
	mark := w.breaker.mark()
	callCtx, cancel := context.WithTimeout(ctx, w.cfg.CallTimeout)
	postID, children, err := w.deliver(callCtx, m)
	cancel()
	attrs := []any{slog.Int64("row", m.ID), slog.String("request", m.RequestID), slog.String("kind", string(m.Kind)), slog.Int("attempt", m.Attempts)}
	res := outbox.Result{Message: m}
	switch {
	case err == nil && m.Kind.Expands():
		res.Outcome, res.Children = outbox.Expanded, children
	case err == nil:
		res.Outcome, res.PostID = outbox.Delivered, postID
		if len(m.Supersedes) > 0 {
			w.log.Debug("outbox: message update coalesced", append(attrs, slog.Int("superseded", len(m.Supersedes)))...)
		}
	case permanent(err, m.Attempts):
		w.log.Warn("outbox: message failed for good", append(attrs, slog.String("error", err.Error()))...)
		res.Outcome, res.Reason = outbox.Failed, err.Error()
	case ctx.Err() != nil:
		// Stopping: give the attempt back; the next worker sends it.
		res.Outcome, res.Reason = outbox.Held, "worker stopped: "+err.Error()
	case outageLike(err) && w.breaker.down(ctx, mark):
		w.log.Debug("outbox: held while Mattermost is down", append(attrs, slog.String("error", err.Error()))...)
		res.Outcome, res.Reason = outbox.Held, "held, Mattermost unavailable: "+err.Error()
	case m.Attempts >= w.cfg.MaxAttempts:
		w.log.Warn("outbox: message gave up", append(attrs, slog.String("error", err.Error()))...)
		res.Outcome, res.Reason = outbox.Failed, fmt.Sprintf("gave up after %d attempts: %v", m.Attempts, err)
	default:
		res.Outcome, res.Next, res.Reason = outbox.Retried, w.cfg.Now().UTC().Add(w.backoff(m.Attempts)), err.Error()
		w.log.Info("outbox: will retry", append(attrs, slog.Time("next", res.Next), slog.String("error", err.Error()))...)
	}
	if ferr := rec.record(res); ferr != nil {
		// A lost lease means another worker took the row: its result
		// stands, and delivery is idempotent.
		w.log.Warn("outbox: record result", append(attrs, slog.String("error", ferr.Error()))...)
	}
}

// outageLike says whether err may mean Mattermost as a whole is not
// answering (no answer, 5xx, 429, a refused bot token, a timeout) rather
// than that this message is wrong: the breaker's probe tells which.
func outageLike(err error) bool {
	return errors.Is(err, mattermost.ErrUnavailable) || errors.Is(err, mattermost.ErrUnauthorized) || errors.Is(err, context.DeadlineExceeded)
}

// backoff is exponential with equal jitter, capped at BackoffMax.
func (w *Worker) backoff(attempt int) time.Duration {
	return mattermost.Backoff(w.cfg.BackoffBase, w.cfg.BackoffMax, attempt)
}

// forbiddenRetries is how many attempts a 403 gets before it counts as
// permanent: a permission can arrive a moment later (the bot added to a
// channel or team after the message was queued), and Mattermost has been
// seen answering 403 to a bot's first DM to someone who opened the same
// DM channel at that moment.
const forbiddenRetries = 3

// permanent says whether retrying cannot help: Mattermost refused the
// message itself (a 4xx other than 401 and 429, and a 403 only after
// forbiddenRetries attempts), or the request is gone.
func permanent(err error, attempts int) bool {
	var me *mattermost.Error
	if errors.As(err, &me) {
		if me.Status == http.StatusForbidden {
			return attempts >= forbiddenRetries
		}
		return me.Status >= 400 && me.Status < 500 && me.Status != http.StatusTooManyRequests && me.Status != http.StatusUnauthorized
	}
	return errors.Is(err, errPermanent)
}

// errPermanent marks failures of the row itself (request gone, nowhere to
// post).
var errPermanent = errors.New("cannot be delivered")
