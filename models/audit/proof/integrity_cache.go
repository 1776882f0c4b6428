package proof

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/countersign/countersign/models"
)

// IntegrityCache answers the portal's integrity status (VerifyLatest)
// without rereading the whole log on every view. It keeps the last result
// keyed by (latest checkpoint size, chain head seq) together with the
// compact Merkle range of the leaves it read:
//
//   - same checkpoint: the cached result, at the cost of two one-row reads;
//     events appended beyond the checkpoint are not covered by it and need
//     no work;
//   - a newer checkpoint: only the events added since the cached one are
//     read, extending the cached range (incremental);
//   - the head moved backwards (events deleted), no result yet, or the last
//     result was a problem: a full verification.
//
// A result whose last full verification is older than maxAge is still
// served, and a full verification starts in the background, so in-place
// edits of old events (which leave the key unchanged) are found within
// maxAge.
type IntegrityCache struct {
	c      *Checkpointer
	maxAge time.Duration
	now    func() time.Time

	mu         sync.Mutex
	state      *integrityState
	refreshing bool
	stats      IntegrityStats
}

// integrityState is one verification result.
type integrityState struct {
	size, head int64
	cp         *Checkpoint
	err        error
	// acc is the compact range of the first size leaves (valid when err
	// is nil); fullAt is when they were last all read from the log.
	acc    Acc
	fullAt time.Time
}

// IntegrityStats counts how the cache answered, for tests and metrics.
type IntegrityStats struct {
	// Hits were answered from the cache, Incremental by reading only new
	// events, Full by reading the whole log (Background of them off the
	// request path).
	Hits, Incremental, Full, Background int
	// LeavesRead is the number of event hashes read in total.
	LeavesRead int64
}

// NewIntegrityCache caches c's VerifyLatest; maxAge <= 0 means 10 minutes.
func NewIntegrityCache(c *Checkpointer, maxAge time.Duration) *IntegrityCache {
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	return &IntegrityCache{c: c, maxAge: maxAge, now: time.Now}
}

// SetClock replaces the clock (tests).
func (ic *IntegrityCache) SetClock(now func() time.Time) { ic.now = now }

// VerifierKey returns the checkpoints' verifier key.
func (ic *IntegrityCache) VerifierKey() string { return ic.c.VerifierKey() }

// Stats returns the counters so far.
func (ic *IntegrityCache) Stats() IntegrityStats {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.stats
}

// VerifiedAt returns when the cached result's events were last all read
// from the log (zero before the first verification).
func (ic *IntegrityCache) VerifiedAt() time.Time {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.state == nil {
		return time.Time{}
	}
	return ic.state.fullAt
}

// VerifyLatest is Checkpointer.VerifyLatest, cached as described on
// IntegrityCache.
func (ic *IntegrityCache) VerifyLatest(ctx context.Context) (*Checkpoint, error) {
	row, err := ic.c.latestRow(ctx)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("audit: no checkpoint yet: %w", models.ErrNotFound)
	}
	var head int64
	if err := ic.c.db.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return nil, fmt.Errorf("audit: read chain head: %w", err)
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	st := ic.state
	switch {
	case st != nil && st.size == row.Size && head >= st.head:
		ic.stats.Hits++
		st.head = head
		if ic.now().Sub(st.fullAt) > ic.maxAge && !ic.refreshing {
			ic.refreshing = true
			go ic.refreshInBackground()
		}
		return st.cp, st.err
	case st != nil && st.err == nil && row.Size > st.size && head >= st.head:
		next := &integrityState{size: row.Size, head: head, acc: st.acc, fullAt: st.fullAt}
		from := next.acc.Size()
		next.cp, next.err = ic.c.verifyRow(ctx, row, &next.acc)
		if next.cp == nil && next.err != nil {
			return nil, next.err // a database error: nothing learnt
		}
		ic.stats.Incremental++
		ic.stats.LeavesRead += int64(next.acc.Size() - from)
		ic.state = next
		return next.cp, next.err
	}
	next, err := ic.full(ctx, row, head)
	if err != nil {
		return nil, err
	}
	return next.cp, next.err
}

// full verifies from the first event and stores the result; ic.mu is held.
func (ic *IntegrityCache) full(ctx context.Context, row *StoredCheckpoint, head int64) (*integrityState, error) {
	next := &integrityState{size: row.Size, head: head, fullAt: ic.now()}
	next.cp, next.err = ic.c.verifyRow(ctx, row, &next.acc)
	if next.cp == nil && next.err != nil {
		return nil, next.err
	}
	ic.stats.Full++
	ic.stats.LeavesRead += int64(next.acc.Size())
	ic.state = next
	return next, nil
}

// Refresh verifies the latest checkpoint against the whole log now and
// replaces the cached result.
func (ic *IntegrityCache) Refresh(ctx context.Context) error {
	row, err := ic.c.latestRow(ctx)
	if err != nil {
		return err
	}
	if row == nil {
		return nil
	}
	var head int64
	if err := ic.c.db.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	// Read outside the lock: a full pass over a large log takes a while
	// and views keep being answered from the old result meanwhile.
	next := &integrityState{size: row.Size, head: head, fullAt: ic.now()}
	next.cp, next.err = ic.c.verifyRow(ctx, row, &next.acc)
	if next.cp == nil && next.err != nil {
		return next.err
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	ic.stats.Full++
	ic.stats.LeavesRead += int64(next.acc.Size())
	if ic.state == nil || ic.state.size <= next.size {
		ic.state = next
	}
	return nil
}

func (ic *IntegrityCache) refreshInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	_ = ic.Refresh(ctx) // a failed refresh keeps the old result; the next stale view retries
	ic.mu.Lock()
	ic.refreshing = false
	ic.stats.Background++
	ic.mu.Unlock()
}
