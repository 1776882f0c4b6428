package proof

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

// TestFrontierSwapIsCompareAndSwap: a step computed from a size the row no
// longer holds is refused and leaves the row alone, whether the row moved
// past it or not as far; Extend then continues from what is stored, and a
// writer that stored a different tree at the same size is a conflict.
func TestFrontierSwapIsCompareAndSwap(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		err := s.WithTx(ctx, func(tx *gorm.DB) error {
			for i := 0; i < 60; i++ {
				if _, err := audit.Append(tx, time.Now(), audit.Entry{Type: "t", Actor: models.Actor{Type: models.ActorHuman, ID: "u"}, Purpose: fmt.Sprint(i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tree, err := NewTree(s)
		if err != nil {
			t.Fatal(err)
		}
		f := NewFrontier(s, tree)
		if _, err := f.Extend(ctx, 40); err != nil {
			t.Fatal(err)
		}
		var at30, at50 Acc
		if err := f.step(ctx, &at30, 30); err != nil {
			t.Fatal(err)
		}
		at50 = at30
		if err := f.step(ctx, &at50, 50); err != nil {
			t.Fatal(err)
		}
		for _, stale := range []struct {
			from uint64
			next *Acc
		}{{0, &at30}, {30, &at50}, {0, &at50}} {
			won, err := f.swap(ctx, stale.from, stale.next)
			if err != nil || won {
				t.Fatalf("swap from %d to %d over a row at 40: won %v, %v", stale.from, stale.next.Size(), won, err)
			}
		}
		if st, err := f.Load(ctx); err != nil || st.Size() != 40 {
			t.Fatalf("row after refused swaps: %v %v", st, err)
		}
		at40 := *mustLoad(t, f)

		// Extend losing the race: another writer stores the state at 50
		// between this one's read (40) and its swap; it drops its step and
		// continues from 50.
		set := func(a *Acc) {
			if err := s.DB(ctx).Exec(`UPDATE audit_tree_frontier SET size = ?, compact = ?`, int64(a.Size()), a.Hex()).Error; err != nil {
				t.Error(err)
			}
		}
		f.SetBatch(15)
		f.beforeSwap = func() { set(&at50); f.beforeSwap = nil }
		got, err := f.Extend(ctx, 60)
		if err != nil || got.Size() != 60 {
			t.Fatalf("extend after losing a swap: %v %v", got, err)
		}
		var want Acc
		if err := f.step(ctx, &want, 60); err != nil || !want.Equal(got) || !want.Equal(mustLoad(t, f)) {
			t.Fatalf("state after losing a swap differs from the tree: %v", err)
		}

		// The other writer stored a different tree at the very size this
		// one reached: a conflict, not a silent choice.
		set(&at40)
		wrong := at50
		wrong.nodes[1][0] ^= 1 // 50 = 110010b: level 1 is part of the range
		f.SetBatch(10)
		f.beforeSwap = func() { set(&wrong); f.beforeSwap = nil }
		if _, err := f.Extend(ctx, 50); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("extend over a different tree at the same size: %v", err)
		}
	})
}

func mustLoad(t *testing.T, f *Frontier) *Acc {
	t.Helper()
	a, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}
