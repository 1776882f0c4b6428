package mention_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/clocktest"
	"github.com/countersign/countersign/models/mention"
	"github.com/countersign/countersign/models/storetest"
)

// TestClaimLifecycle: the first replica to see a mention holds it; others
// do not while its lease runs; once the lease has run out unfinished
// (that replica crashed) another takes it over, and the first can no
// longer finish it; a finished mention is never claimed again, even
// after its lease ran out.
func TestClaimLifecycle(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		clock := clocktest.At(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
		c := mention.NewClaims(s, clock.Now)
		claim := func(post, owner string) bool {
			t.Helper()
			ok, err := c.Claim(ctx, post, owner, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !claim("p1", "a") || claim("p1", "b") || claim("p1", "a") {
			t.Fatal("a mention held by a was claimed again while its lease runs")
		}
		clock.Advance(61 * time.Second)
		if !claim("p1", "b") {
			t.Fatal("an expired, unfinished claim was not taken over")
		}
		if err := c.Finish(ctx, "p1", "a", ""); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("finish by the replica that lost the lease: %v", err)
		}
		if err := c.Finish(ctx, "p1", "b", "REQ-0000000001"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
		if claim("p1", "c") {
			t.Fatal("a finished mention was claimed again")
		}
		row, err := c.Get(ctx, "p1")
		if err != nil || !row.Done || row.Owner != "b" || row.RequestID != "REQ-0000000001" {
			t.Fatalf("row %+v, %v", row, err)
		}
		if _, err := c.Get(ctx, "p2"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown mention: %v", err)
		}
		if _, err := c.Claim(ctx, "", "a", time.Minute); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("claim without a post id: %v", err)
		}
	})
}

// TestClaimRace: many replicas (goroutines, and two stores on one
// database as two processes) see the same mentions at once; each mention
// is claimed by exactly one of them.
func TestClaimRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		first := b.Open(t)
		stores := []*models.Store{first}
		if b.DSN != nil {
			stores = append(stores, storetest.OpenDSN(t, b.DSN()))
		}
		const mentions, replicas = 20, 16
		var won [mentions]atomic.Int32
		storetest.Race(mentions*replicas, func(i int) {
			c := mention.NewClaims(stores[i%len(stores)], nil)
			post := fmt.Sprintf("post%02d", i%mentions)
			ok, err := c.Claim(ctx, post, fmt.Sprintf("replica%d", i/mentions), time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				won[i%mentions].Add(1)
			}
		})
		for i := range won {
			if n := won[i].Load(); n != 1 {
				t.Errorf("post%02d claimed by %d replicas", i, n)
			}
		}
	})
}
