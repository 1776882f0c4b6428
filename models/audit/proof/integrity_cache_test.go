package proof_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/clocktest"
)

func TestIntegrityCache(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, st *models.Store, _ *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		ic := proof.NewIntegrityCache(c, time.Minute)
		clock := clocktest.At(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		ic.SetClock(clock.Now)

		if _, err := ic.VerifyLatest(ctx); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("before any checkpoint: %v", err)
		}
		audittest.Seed(t, st, 300, "a")
		audittest.Checkpoint(t, c)
		cp, err := ic.VerifyLatest(ctx)
		if err != nil || cp.Size != 300 {
			t.Fatalf("first view: %v %+v", err, cp)
		}
		if s := ic.Stats(); s.Full != 1 || s.LeavesRead != 300 {
			t.Fatalf("first view stats %+v", s)
		}

		// Views of the same checkpoint read nothing, even as the log grows.
		audittest.Seed(t, st, 20, "b")
		for i := 0; i < 5; i++ {
			if cp, err := ic.VerifyLatest(ctx); err != nil || cp.Size != 300 {
				t.Fatalf("cached view: %v", err)
			}
		}
		if s := ic.Stats(); s.Hits != 5 || s.Full != 1 || s.LeavesRead != 300 {
			t.Fatalf("cached stats %+v", s)
		}

		// A new checkpoint reads only the events since the last one.
		audittest.Checkpoint(t, c)
		if cp, err := ic.VerifyLatest(ctx); err != nil || cp.Size != 320 {
			t.Fatalf("after a new checkpoint: %v %+v", err, cp)
		}
		if s := ic.Stats(); s.Incremental != 1 || s.LeavesRead != 320 {
			t.Fatalf("incremental stats %+v", s)
		}
		// The incremental result agrees with a full verification.
		if cp, err := c.VerifyLatest(ctx); err != nil || cp.Size != 320 {
			t.Fatalf("uncached: %v", err)
		}

		// An in-place rewrite of an old event keeps the cache key; once the
		// result is older than maxAge a view starts a full verification in
		// the background, and later views report the mismatch.
		audittest.RewriteFrom(t, st, 10, "rewritten history")
		if _, err := ic.VerifyLatest(ctx); err != nil {
			t.Fatalf("fresh cached result: %v", err)
		}
		clock.Advance(2 * time.Minute)
		if _, err := ic.VerifyLatest(ctx); err != nil {
			t.Fatalf("stale result is served while refreshing: %v", err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for ic.Stats().Background == 0 {
			if time.Now().After(deadline) {
				t.Fatal("background verification never finished")
			}
			time.Sleep(10 * time.Millisecond)
		}
		_, err = ic.VerifyLatest(ctx)
		expectProblem(t, err, audit.ProblemRoot)
	})
}

func TestIntegrityCacheSeesDeletedEvents(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, st *models.Store, _ *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		ic := proof.NewIntegrityCache(c, time.Hour)
		audittest.Seed(t, st, 50, "a")
		audittest.Checkpoint(t, c)
		if _, err := ic.VerifyLatest(ctx); err != nil {
			t.Fatal(err)
		}
		// Truncating the log moves the head back: the cache key changes and
		// a full verification runs at once.
		db := st.DB(ctx)
		if err := db.Exec(`DELETE FROM audit_events WHERE seq > 40`).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(`UPDATE audit_head SET seq = 40 WHERE id = 1`).Error; err != nil {
			t.Fatal(err)
		}
		_, err := ic.VerifyLatest(ctx)
		expectProblem(t, err, audit.ProblemSequence)
		if s := ic.Stats(); s.Full != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
}
