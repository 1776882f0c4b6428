package proof

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// Frontier is the Merkle tree's state kept in audit_tree_frontier: the
// compact range of the first Size events (one hash per set bit of the
// size). The tree only grows, so the state at a larger size follows from
// the stored one and the new events' leaf hashes alone; a restart reads
// one row instead of every event.
//
// It moves forward in two ways: the Checkpointer stores the range it
// signed in the checkpoint's own transaction (no extra reads), and Extend
// reads the events beyond the stored size (a replica that signs with an
// older version, a lagging row, tests). Every write is a compare-and-swap
// on the stored size, so replicas extending at once each either move it
// forward from what they read or start again from what the other stored.
//
// The row is a cache of what the events say, not evidence: checks that
// must not trust it (audit verify, the integrity page's background pass)
// recompute it from the events and compare.
type Frontier struct {
	store *models.Store
	tree  *Tree
	// batch is how many leaves one Extend step reads before storing its
	// progress, so a long catch-up keeps its work if interrupted and holds
	// no transaction for long.
	batch int64
	// beforeSwap, when set, runs just before each swap (tests: another
	// writer storing first).
	beforeSwap func()
}

// frontierBatch is the default Extend step (about 2 MB of event hashes).
const frontierBatch = 32768

// NewFrontier returns the stored tree state over tree's events.
func NewFrontier(store *models.Store, tree *Tree) *Frontier {
	return &Frontier{store: store, tree: tree, batch: frontierBatch}
}

// SetBatch sets how many leaves one Extend step reads (n > 0; tests use
// small steps to make concurrent writers collide).
func (f *Frontier) SetBatch(n int64) {
	if n > 0 {
		f.batch = n
	}
}

// errNoFrontier reports a missing or malformed audit_tree_frontier row:
// the migration inserts it and only well-formed states are written to it,
// so only tampering (or a damaged database) makes it so.
var errNoFrontier = errors.New("the stored tree state (audit_tree_frontier) is missing or malformed")

// Load reads the stored state: one row.
func (f *Frontier) Load(ctx context.Context) (*Acc, error) {
	var size int64
	var text string
	err := f.tree.db.QueryRowContext(ctx, `SELECT size, compact FROM audit_tree_frontier WHERE id = 1`).Scan(&size, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("audit tree: %w", errNoFrontier)
	}
	if err != nil {
		return nil, fmt.Errorf("audit tree: read stored state: %w", err)
	}
	if size < 0 {
		return nil, fmt.Errorf("audit tree: %w: size %d", errNoFrontier, size)
	}
	var acc Acc
	if err := acc.SetHex(uint64(size), text); err != nil {
		return nil, fmt.Errorf("audit tree: %w: %v", errNoFrontier, err)
	}
	return &acc, nil
}

// CatchUp extends the stored state to the chain head (see Extend).
func (f *Frontier) CatchUp(ctx context.Context) (*Acc, error) {
	var head int64
	if err := f.tree.db.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return nil, fmt.Errorf("audit tree: read chain head: %w", err)
	}
	return f.Extend(ctx, head)
}

// Extend moves the stored state forward until it covers at least the first
// to events, reading only the events beyond the stored size, and returns
// the state it leaves stored. Each step of at most batch events is stored
// with a compare-and-swap on the size it started from, together with the
// perfect subtrees it completed at nodeStoreLevel and above (for proofs);
// when another writer moved the row first, the step is dropped and the
// next one starts from theirs. A state already past to is returned as is.
func (f *Frontier) Extend(ctx context.Context, to int64) (*Acc, error) {
	acc, err := f.Load(ctx)
	if err != nil {
		return nil, err
	}
	for int64(acc.Size()) < to {
		from := acc.Size()
		next := *acc
		end := min(uint64(to), from+uint64(f.batch))
		if err := f.step(ctx, &next, end); err != nil {
			return nil, err
		}
		if f.beforeSwap != nil {
			f.beforeSwap()
		}
		won, err := f.swap(ctx, from, &next)
		if err != nil {
			return nil, err
		}
		if won {
			acc = &next
			continue
		}
		// Another writer stored first; what it stored must agree with what
		// this one read wherever the two can be compared.
		if acc, err = f.Load(ctx); err != nil {
			return nil, err
		}
		if acc.Size() == next.Size() && !acc.Equal(&next) {
			return nil, fmt.Errorf("audit tree: %w: another writer stored a different tree of %d events than this one read", models.ErrConflict, next.Size())
		}
	}
	return acc, nil
}

// step extends acc with the leaves up to end.
func (f *Frontier) step(ctx context.Context, acc *Acc, end uint64) error {
	from := acc.Size()
	var nodes []treeNode
	err := f.tree.leafHashes(ctx, from, end, func(leaf *[HashSize]byte) error {
		acc.AddVisit(leaf, func(level uint, index uint64, h *[HashSize]byte) {
			nodes = append(nodes, treeNode{id: compact.NewNodeID(level, index), hash: append([]byte(nil), h[:]...)})
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit tree: extend stored state %d → %d: %w", from, end, err)
	}
	if len(nodes) == 0 {
		return nil
	}
	// Nodes are stored apart from the swap: a complete subtree is a fact
	// about the events whoever computes it, so it is kept even when the
	// swap loses.
	if err := f.store.WithTx(ctx, func(tx *gorm.DB) error { return insertNodes(tx, nodes) }); err != nil {
		return fmt.Errorf("audit tree: extend stored state %d → %d: %w", from, end, err)
	}
	return nil
}

// swap stores next if the row still holds size from.
func (f *Frontier) swap(ctx context.Context, from uint64, next *Acc) (bool, error) {
	var won bool
	err := f.store.WithTx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE audit_tree_frontier SET size = ?, compact = ? WHERE id = 1 AND size = ?`, int64(next.Size()), next.Hex(), int64(from))
		if res.Error != nil {
			return res.Error
		}
		won = res.RowsAffected == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("audit tree: store state at %d: %w", next.Size(), err)
	}
	return won, nil
}

// advanceFrontier stores acc in tx unless the stored state is already at
// least as large: the checkpointer's write, in its checkpoint's
// transaction, of a range it computed from events it has just verified.
// One small row, so it costs the checkpoint nothing it would notice.
func advanceFrontier(tx *gorm.DB, size uint64, compactHex string) error {
	err := tx.Exec(`UPDATE audit_tree_frontier SET size = ?, compact = ? WHERE id = 1 AND size < ?`, int64(size), compactHex, int64(size)).Error
	if err != nil {
		return fmt.Errorf("audit tree: store state at %d: %w", size, err)
	}
	return nil
}
