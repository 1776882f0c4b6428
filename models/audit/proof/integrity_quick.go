package proof

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/countersign/countersign/models/audit"
)

// quick checks the checkpoint row against the stored tree state with reads
// that do not grow with the log: the state row, the event at the
// checkpoint's size, and at most ic.quickLeaves event hashes plus a few
// dozen stored subtrees. ic.mu is held (the lazy extension below is
// thereby done once per process, and other replicas are kept apart by the
// state's compare-and-swap).
//
// The stored state F and the checkpoint S relate in one of three ways:
//
//   - F = S, the usual case (the checkpointer stores the state it signs):
//     the state's root must be the signed root;
//   - F < S by at most quickLeaves events (a checkpoint signed by a
//     process that did not store it): the state is extended to S now,
//     reading only those events, and stored for everyone;
//   - otherwise: a consistency proof between the two sizes, built from
//     stored subtrees and at most two partial blocks of leaves, must tie the
//     state's root to the signed root (or, from an empty state, the root at
//     S is built the same way). A subtree that is not stored makes the view
//     pending instead of reading its leaves.
//
// What a quick check trusts is the stored tree state and subtrees: an
// in-place edit of an old event leaves them as they were, so that is what
// the background full pass is for.
func (ic *IntegrityCache) quick(ctx context.Context, row *StoredCheckpoint, head int64) (*Checkpoint, error) {
	cp, err := row.Checkpoint()
	if err != nil {
		return nil, err
	}
	if head < cp.Size {
		return cp, &audit.Problem{Seq: head, Kind: audit.ProblemSequence,
			Detail: fmt.Sprintf("the chain head is at event %d but checkpoint %d was signed: signed events were removed", head, cp.Size)}
	}
	budget := &readBudget{maxLeaves: ic.quickLeaves}
	defer func() {
		ic.stats.QuickLeaves += budget.leaves
		ic.stats.QuickNodeRows += budget.nodeRow
	}()
	p, err := ic.checkState(ctx, cp, budget)
	switch {
	case errors.Is(err, errNoFrontier):
		return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemRoot, Detail: err.Error()}
	case errors.Is(err, errOverBudget):
		return cp, fmt.Errorf("%w: %v", ErrIntegrityPending, err)
	case errors.Is(err, errMissingEvent):
		return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemSequence, Detail: fmt.Sprintf("signed events are missing from the log: %v", err)}
	case err != nil:
		return nil, fmt.Errorf("audit: check latest checkpoint: %w", err)
	case p != nil:
		return cp, p
	}
	hp, err := ic.c.headProblem(ctx, row, cp)
	if err != nil {
		return nil, fmt.Errorf("audit: check latest checkpoint: %w", err)
	}
	if hp != nil {
		return cp, hp
	}
	return cp, nil
}

// checkState compares the stored tree state with checkpoint cp within
// budget, as described on quick.
func (ic *IntegrityCache) checkState(ctx context.Context, cp *Checkpoint, budget *readBudget) (*audit.Problem, error) {
	front, err := ic.c.frontier.Load(ctx)
	if err != nil {
		return nil, err
	}
	size := uint64(cp.Size)
	if front.Size() < size && size-front.Size() <= uint64(budget.maxLeaves-budget.leaves) {
		budget.leaves += int64(size - front.Size())
		if front, err = ic.c.frontier.Extend(ctx, cp.Size); err != nil {
			return nil, err
		}
	}
	froot := front.Root()
	switch {
	case front.Size() == size:
		if !bytes.Equal(froot[:], cp.Root) {
			return &audit.Problem{Seq: cp.Size, Kind: audit.ProblemRoot,
				Detail: fmt.Sprintf("the stored tree state does not hash to the root of checkpoint %d", cp.Size)}, nil
		}
		return nil, nil
	case front.Size() == 0:
		// Nothing to be consistent with: the root at size from stored
		// subtrees, and the state brought up to date for the next view.
		ic.startCatchUp()
		root, err := ic.c.tree.rootAt(ctx, cp.Size, budget)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(root, cp.Root) {
			return &audit.Problem{Seq: cp.Size, Kind: audit.ProblemRoot,
				Detail: fmt.Sprintf("the stored tree nodes do not hash to the root of checkpoint %d", cp.Size)}, nil
		}
		return nil, nil
	}
	if front.Size() < size {
		ic.startCatchUp()
	}
	lo, hi, rootLo, rootHi := front.Size(), size, froot[:], cp.Root
	if lo > hi {
		lo, hi, rootLo, rootHi = hi, lo, rootHi, rootLo
	}
	nodes, err := merkleproof.Consistency(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("consistency %d → %d: %w", lo, hi, err)
	}
	hashes, err := ic.c.tree.nodeHashes(ctx, nodes.IDs, budget)
	if err != nil {
		return nil, err
	}
	proof, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("consistency %d → %d: %w", lo, hi, err)
	}
	if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, lo, hi, proof, rootLo, rootHi); err != nil {
		return &audit.Problem{Seq: cp.Size, Kind: audit.ProblemRoot,
			Detail: fmt.Sprintf("the stored tree state at %d events is not consistent with checkpoint %d", front.Size(), cp.Size)}, nil
	}
	return nil, nil
}
