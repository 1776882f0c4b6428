package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/web/mattermost"
)

// handle delivers one claimed row and records the result: done (with the
// rows it supersedes), expanded, failed for good, held while Mattermost is
// down, or retried later with backoff.
func (w *Worker) handle(ctx context.Context, m *outbox.Message) {
	mark := w.breaker.mark()
	callCtx, cancel := context.WithTimeout(ctx, w.cfg.CallTimeout)
	postID, children, err := w.deliver(callCtx, m)
	cancel()
	// The result is recorded even when the worker is stopping: what was
	// sent should not be sent again by whoever takes the row next.
	rec, cancelRec := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancelRec()
	now := w.cfg.Now().UTC()
	attrs := []any{slog.Int64("row", m.ID), slog.String("request", m.RequestID), slog.String("kind", string(m.Kind)), slog.Int("attempt", m.Attempts)}
	q := w.cfg.Queue
	var ferr error
	switch {
	case err == nil && m.Kind.Expands():
		ferr = q.Expand(rec, m, w.cfg.Owner, children, now)
	case err == nil:
		ferr = q.Done(rec, m, w.cfg.Owner, postID, now)
		if ferr == nil && len(m.Supersedes) > 0 {
			w.log.Debug("outbox: message update coalesced", append(attrs, slog.Int("superseded", len(m.Supersedes)))...)
		}
	case permanent(err):
		w.log.Warn("outbox: message failed for good", append(attrs, slog.String("error", err.Error()))...)
		ferr = q.Fail(rec, m, w.cfg.Owner, err.Error(), now)
	case ctx.Err() != nil:
		// Stopping: give the attempt back; the next worker sends it.
		ferr = q.Hold(rec, m, w.cfg.Owner, "worker stopped: "+err.Error(), now)
	case outageLike(err) && w.breaker.down(ctx, mark):
		w.log.Debug("outbox: held while Mattermost is down", append(attrs, slog.String("error", err.Error()))...)
		ferr = q.Hold(rec, m, w.cfg.Owner, "held, Mattermost unavailable: "+err.Error(), now)
	case m.Attempts >= w.cfg.MaxAttempts:
		w.log.Warn("outbox: message gave up", append(attrs, slog.String("error", err.Error()))...)
		ferr = q.Fail(rec, m, w.cfg.Owner, fmt.Sprintf("gave up after %d attempts: %v", m.Attempts, err), now)
	default:
		next := now.Add(w.backoff(m.Attempts))
		w.log.Info("outbox: will retry", append(attrs, slog.Time("next", next), slog.String("error", err.Error()))...)
		ferr = q.Retry(rec, m, w.cfg.Owner, next, err.Error(), now)
	}
	if ferr != nil {
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
	d := w.cfg.BackoffBase << min(attempt-1, 30)
	if d <= 0 || d > w.cfg.BackoffMax {
		d = w.cfg.BackoffMax
	}
	half := d / 2
	return half + rand.N(half+1)
}

// permanent says whether retrying cannot help: Mattermost refused the
// message itself (a 4xx other than 401 and 429), or the request is gone.
func permanent(err error) bool {
	var me *mattermost.Error
	if errors.As(err, &me) {
		return me.Status >= 400 && me.Status < 500 && me.Status != http.StatusTooManyRequests && me.Status != http.StatusUnauthorized
	}
	return errors.Is(err, errPermanent)
}

// errPermanent marks failures of the row itself (request gone, nowhere to
// post).
var errPermanent = errors.New("cannot be delivered")
