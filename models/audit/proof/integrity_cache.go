package proof

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/countersign/countersign/models"
)

// IntegrityCache answers the portal's integrity status (VerifyLatest)
// without reading the log on the request path. A view makes one of two
// kinds of check:
//
//   - same checkpoint and chain head not moved back: the cached verdict, at
//     the cost of two one-row reads;
//   - anything else (first view after a start, a new checkpoint): a quick
//     check of the checkpoint against the stored tree state
//     (audit_tree_frontier and the stored subtrees), which reads a few rows
//     and at most quickLeaves event hashes whatever the size of the log
//     (integrity_quick.go).
//
// The stored state is only as good as the rows it is kept in, so the whole
// log is also re-read off the request path: once after a start and again
// whenever the last full pass is older than maxAge (or the head moved
// back). The full pass recomputes the tree from every event, compares it
// with the signed root and with the stored state, and a problem it finds
// is reported by every later view until a full pass finds none, so an
// in-place edit of an old event shows within maxAge of being made.
type IntegrityCache struct {
	c      *Checkpointer
	maxAge time.Duration
	now    func() time.Time
	// background runs work off the request path (a goroutine; tests run
	// it when they choose).
	background func(func())
	// quickLeaves bounds the event hashes one quick check may read.
	quickLeaves int64

	mu    sync.Mutex
	state *integrityState
	// fullAt is when the last full pass started reading (zero before the
	// first); fullErr is the problem it found, if any.
	fullAt               time.Time
	fullErr              error
	refreshing, catching bool
	stats                IntegrityStats
}

// integrityState is one verdict, keyed by the checkpoint and chain head it
// was reached at.
type integrityState struct {
	size, head int64
	cp         *Checkpoint
	err        error
}

// IntegrityStats counts how the cache answered, for tests and metrics.
type IntegrityStats struct {
	// Hits were answered from the cached verdict, Quick by checking the
	// stored tree state, Pending could not be checked within bounds yet.
	Hits, Quick, Pending int
	// QuickLeaves and QuickNodeRows are what the quick checks read in
	// total (event hashes, stored subtree rows), besides one row of tree
	// state and one event each.
	QuickLeaves, QuickNodeRows int64
	// Full passes read the whole log, Background of them off the request
	// path (all of them, unless Refresh is called directly).
	Full, Background int
	// LeavesRead is the number of event hashes full passes read in total.
	LeavesRead int64
}

// quickLeavesDefault bounds a quick check's event reads: the lowest
// levels of a proof (up to 2 × 256) and a small lag of the stored state
// behind a checkpoint signed by a process that did not store it.
const quickLeavesDefault = 4096

// NewIntegrityCache caches c's VerifyLatest; maxAge <= 0 means 10 minutes.
func NewIntegrityCache(c *Checkpointer, maxAge time.Duration) *IntegrityCache {
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	return &IntegrityCache{c: c, maxAge: maxAge, now: time.Now, background: func(f func()) { go f() }, quickLeaves: quickLeavesDefault}
}

// SetClock replaces the clock (tests).
func (ic *IntegrityCache) SetClock(now func() time.Time) { ic.now = now }

// SetBackground replaces how work is started off the request path (tests:
// to run it when they choose, or to see that a view started it).
func (ic *IntegrityCache) SetBackground(run func(func())) { ic.background = run }

// VerifierKey returns the checkpoints' verifier key.
func (ic *IntegrityCache) VerifierKey() string { return ic.c.VerifierKey() }

// Stats returns the counters so far.
func (ic *IntegrityCache) Stats() IntegrityStats {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.stats
}

// VerifiedAt returns when the last full pass over the log started (zero
// before the first).
func (ic *IntegrityCache) VerifiedAt() time.Time {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.fullAt
}

// ErrIntegrityPending is returned with the latest checkpoint when the
// stored tree state cannot be checked against it within the bounded reads
// of a view (a state far behind a checkpoint signed by a process that did
// not store it); it is being brought up to date off the request path.
var ErrIntegrityPending = errors.New("audit: the stored tree state is being brought up to date")

// VerifyLatest is Checkpointer.VerifyLatest answered as described on
// IntegrityCache: it never reads the whole log.
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
	if st := ic.state; st != nil && st.size == row.Size && head >= st.head {
		ic.stats.Hits++
		st.head = head
		ic.startFull(false)
		return st.cp, ic.verdict(st)
	}
	movedBack := ic.state != nil && head < ic.state.head
	cp, err := ic.quick(ctx, row, head)
	switch {
	case errors.Is(err, ErrIntegrityPending):
		ic.stats.Pending++
		ic.startCatchUp()
		ic.startFull(false)
		return cp, err
	case cp == nil && err != nil:
		return nil, err // a database error: nothing learnt
	}
	ic.stats.Quick++
	st := &integrityState{size: row.Size, head: head, cp: cp, err: err}
	ic.state = st
	ic.startFull(movedBack)
	return cp, ic.verdict(st)
}

// verdict is st's problem, else the last full pass's; ic.mu is held.
func (ic *IntegrityCache) verdict(st *integrityState) error {
	if st.err != nil {
		return st.err
	}
	return ic.fullErr
}

// startFull starts a full pass in the background when none ran yet, the
// last is older than maxAge, or now is true; ic.mu is held.
func (ic *IntegrityCache) startFull(now bool) {
	if ic.refreshing || !(now || ic.fullAt.IsZero() || ic.now().Sub(ic.fullAt) > ic.maxAge) {
		return
	}
	ic.refreshing = true
	ic.background(ic.refreshInBackground)
}

// startCatchUp extends the stored tree state to the chain head in the
// background; ic.mu is held.
func (ic *IntegrityCache) startCatchUp() {
	if ic.catching {
		return
	}
	ic.catching = true
	ic.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		_, _ = ic.c.frontier.CatchUp(ctx) // a failure leaves the state behind; the next pending view retries
		ic.mu.Lock()
		ic.catching = false
		ic.mu.Unlock()
	})
}

// Refresh verifies the latest checkpoint and the stored tree state against
// the whole log now (a full pass) and replaces the cached verdict.
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
	// and views keep being answered meanwhile.
	started := ic.now()
	var acc Acc
	cp, verr := ic.c.verifyRow(ctx, row, &acc, true)
	if cp == nil && verr != nil {
		return verr
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	ic.stats.Full++
	ic.stats.LeavesRead += int64(acc.Size())
	if ic.fullAt.After(started) {
		return nil // a later pass already reported
	}
	ic.fullAt, ic.fullErr = started, verr
	if ic.state == nil || ic.state.size <= row.Size {
		ic.state = &integrityState{size: row.Size, head: head, cp: cp, err: verr}
	}
	return nil
}

func (ic *IntegrityCache) refreshInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	_ = ic.Refresh(ctx) // a failed refresh keeps the old verdict; the next stale view retries
	ic.mu.Lock()
	ic.refreshing = false
	ic.stats.Background++
	ic.mu.Unlock()
}
