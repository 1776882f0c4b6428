package proof_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/clocktest"
)

// deferred collects the work a cache starts off the request path, so a
// test sees that a view started it and runs it when it chooses.
type deferred struct {
	mu  sync.Mutex
	fns []func()
}

func (d *deferred) start(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fns = append(d.fns, f)
}

// pending returns how many tasks wait.
func (d *deferred) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.fns)
}

// drain runs the waiting tasks (and any they start) and returns how many
// ran.
func (d *deferred) drain() int {
	n := 0
	for {
		d.mu.Lock()
		if len(d.fns) == 0 {
			d.mu.Unlock()
			return n
		}
		f := d.fns[0]
		d.fns = d.fns[1:]
		d.mu.Unlock()
		f()
		n++
	}
}

func TestIntegrityCache(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, st *models.Store, _ *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		ic := proof.NewIntegrityCache(c, time.Minute)
		clock := clocktest.At(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		ic.SetClock(clock.Now)
		var bg deferred
		ic.SetBackground(bg.start)

		if _, err := ic.VerifyLatest(ctx); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("before any checkpoint: %v", err)
		}
		audittest.Seed(t, st, 300, "a")
		audittest.Checkpoint(t, c)
		cp, err := ic.VerifyLatest(ctx)
		if err != nil || cp.Size != 300 {
			t.Fatalf("first view: %v %+v", err, cp)
		}
		// The first view checks the stored tree state (which the
		// checkpoint stored) and reads no event hash; the full pass over
		// the log is started in the background.
		if s := ic.Stats(); s.Quick != 1 || s.QuickLeaves != 0 || s.Full != 0 || bg.pending() != 1 {
			t.Fatalf("first view stats %+v, %d background tasks", s, bg.pending())
		}
		bg.drain()
		if s := ic.Stats(); s.Full != 1 || s.Background != 1 || s.LeavesRead != 300 {
			t.Fatalf("after the background pass %+v", s)
		}

		// Views of the same checkpoint read nothing, even as the log grows.
		audittest.Seed(t, st, 20, "b")
		for i := 0; i < 5; i++ {
			if cp, err := ic.VerifyLatest(ctx); err != nil || cp.Size != 300 {
				t.Fatalf("cached view: %v", err)
			}
		}
		if s := ic.Stats(); s.Hits != 5 || s.Full != 1 || s.LeavesRead != 300 || bg.pending() != 0 {
			t.Fatalf("cached stats %+v", s)
		}

		// A new checkpoint is checked against the stored state again,
		// still without reading events.
		audittest.Checkpoint(t, c)
		if cp, err := ic.VerifyLatest(ctx); err != nil || cp.Size != 320 {
			t.Fatalf("after a new checkpoint: %v %+v", err, cp)
		}
		if s := ic.Stats(); s.Quick != 2 || s.QuickLeaves != 0 || s.LeavesRead != 300 {
			t.Fatalf("new checkpoint stats %+v", s)
		}
		// The answer agrees with a full verification.
		if cp, err := c.VerifyLatest(ctx); err != nil || cp.Size != 320 {
			t.Fatalf("uncached: %v", err)
		}

		// An in-place rewrite of an old event keeps the cache key; once the
		// last full pass is older than maxAge a view starts one in the
		// background, and later views report the mismatch.
		audittest.RewriteFrom(t, st, 10, "rewritten history")
		if _, err := ic.VerifyLatest(ctx); err != nil {
			t.Fatalf("fresh cached result: %v", err)
		}
		clock.Advance(2 * time.Minute)
		if _, err := ic.VerifyLatest(ctx); err != nil {
			t.Fatalf("stale result is served while refreshing: %v", err)
		}
		if bg.drain() != 1 {
			t.Fatal("a stale view started no full pass")
		}
		_, err = ic.VerifyLatest(ctx)
		expectProblem(t, err, audit.ProblemRoot)
	})
}

func TestIntegrityCacheSeesDeletedEvents(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, st *models.Store, _ *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		ic := proof.NewIntegrityCache(c, time.Hour)
		var bg deferred
		ic.SetBackground(bg.start)
		audittest.Seed(t, st, 50, "a")
		audittest.Checkpoint(t, c)
		if _, err := ic.VerifyLatest(ctx); err != nil {
			t.Fatal(err)
		}
		bg.drain()
		// Truncating the log moves the head back below the checkpoint: the
		// next view reports it at once, and starts a full pass.
		db := st.DB(ctx)
		if err := db.Exec(`DELETE FROM audit_events WHERE seq > 40`).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(`UPDATE audit_head SET seq = 40 WHERE id = 1`).Error; err != nil {
			t.Fatal(err)
		}
		_, err := ic.VerifyLatest(ctx)
		expectProblem(t, err, audit.ProblemSequence)
		if bg.drain() != 1 {
			t.Fatal("a head moved back started no full pass")
		}
		_, err = ic.VerifyLatest(ctx)
		expectProblem(t, err, audit.ProblemSequence)
		if s := ic.Stats(); s.Full != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
}
