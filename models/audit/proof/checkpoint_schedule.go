package proof

import (
	"context"
	"fmt"
	"time"
)

// ChainHead returns the number of events in the log (the chain head's
// seq), with one one-row read, so a page can say how many are not yet
// under the latest checkpoint.
func (c *Checkpointer) ChainHead(ctx context.Context) (int64, error) {
	var head int64
	if err := c.db.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return 0, fmt.Errorf("audit: read chain head: %w", err)
	}
	return head, nil
}

// ChainHead is Checkpointer.ChainHead.
func (ic *IntegrityCache) ChainHead(ctx context.Context) (int64, error) { return ic.c.ChainHead(ctx) }

// NextCheckpoint is when the signer, ticking every interval since it
// signed the checkpoint of last, next signs: the first tick after now.
// It is an estimate: a restart restarts the ticker, and a receipt for an
// event no checkpoint covers signs one at once. every <= 0 gives zero.
func NextCheckpoint(last time.Time, every time.Duration, now time.Time) time.Time {
	if every <= 0 || last.IsZero() {
		return time.Time{}
	}
	if !now.After(last) {
		return last.Add(every)
	}
	ticks := now.Sub(last)/every + 1
	return last.Add(ticks * every)
}
