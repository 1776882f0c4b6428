package proof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// VerifyLatest checks that the live log still matches the latest
// checkpoint, by reading it all: it recomputes the Merkle root over the
// stored event hashes up to the checkpoint's size (ignoring the stored tree
// nodes) and compares it with the signed root, checks the chain head hash
// at that size, and compares the stored tree state (audit_tree_frontier)
// with the range recomputed at its size, so a stored state that was
// altered is reported rather than trusted. It reads every event hash once;
// event contents are checked by Verify. A mismatch is returned as a
// *Problem; with no checkpoint yet the error matches models.ErrNotFound.
func (c *Checkpointer) VerifyLatest(ctx context.Context) (*Checkpoint, error) {
	row, err := c.latestRow(ctx)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("audit: no checkpoint yet: %w", models.ErrNotFound)
	}
	var acc Acc
	return c.verifyRow(ctx, row, &acc, true)
}

// verifyRow extends acc, the compact range of the first acc.Size() leaves as
// already read from the log, with the stored event hashes up to the
// checkpoint's size, and checks its signed root and head hash; with
// withFrontier it then checks the stored tree state against the events too.
// acc is left at the checkpoint's size when the root matches.
func (c *Checkpointer) verifyRow(ctx context.Context, row *StoredCheckpoint, acc *Acc, withFrontier bool) (*Checkpoint, error) {
	cp, err := row.Checkpoint()
	if err != nil {
		return nil, err
	}
	if uint64(cp.Size) < acc.Size() {
		return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemSequence, Detail: fmt.Sprintf("checkpoint %d is older than the %d events already verified", cp.Size, acc.Size())}
	}
	var front *Acc
	if withFrontier {
		// Read before the events: the state may move on meanwhile, and a
		// state read first is one the events read next must still explain.
		front, err = c.frontier.Load(ctx)
		if errors.Is(err, errNoFrontier) {
			return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemRoot, Detail: err.Error()}
		}
		if err != nil {
			return nil, fmt.Errorf("audit: verify latest checkpoint: %w", err)
		}
	}
	var frontMismatch bool
	compare := func(a *Acc) {
		if front != nil && a.Size() == front.Size() && !a.Equal(front) {
			frontMismatch = true
		}
	}
	compare(acc)
	err = c.tree.leafHashes(ctx, acc.Size(), uint64(cp.Size), func(leaf *[HashSize]byte) error {
		acc.Add(leaf)
		compare(acc)
		return nil
	})
	if errors.Is(err, errMissingEvent) {
		return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemSequence, Detail: fmt.Sprintf("signed events are missing from the log: %v", err)}
	}
	if err != nil {
		return nil, fmt.Errorf("audit: verify latest checkpoint: %w", err)
	}
	if root := acc.Root(); !bytes.Equal(root[:], cp.Root) {
		return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemRoot, Detail: fmt.Sprintf("the stored events no longer hash to the root of checkpoint %d", cp.Size)}
	}
	if p, err := c.headProblem(ctx, row, cp); err != nil {
		return nil, fmt.Errorf("audit: verify latest checkpoint: %w", err)
	} else if p != nil {
		return cp, p
	}
	if front == nil || front.Size() <= acc.Size() {
		if frontMismatch {
			return cp, frontierProblem(front.Size())
		}
		return cp, nil
	}
	// The stored state is ahead of the checkpoint: read on to its size.
	ext := *acc
	err = c.tree.leafHashes(ctx, ext.Size(), front.Size(), func(leaf *[HashSize]byte) error {
		ext.Add(leaf)
		return nil
	})
	if errors.Is(err, errMissingEvent) {
		return cp, &audit.Problem{Seq: int64(front.Size()), Kind: audit.ProblemSequence, Detail: fmt.Sprintf("the stored tree state covers %d events but the log has fewer: %v", front.Size(), err)}
	}
	if err != nil {
		return nil, fmt.Errorf("audit: verify stored tree state: %w", err)
	}
	if !ext.Equal(front) {
		return cp, frontierProblem(front.Size())
	}
	return cp, nil
}

// frontierProblem reports a stored tree state that the events do not
// explain.
func frontierProblem(size uint64) *audit.Problem {
	return &audit.Problem{Seq: int64(size), Kind: audit.ProblemRoot,
		Detail: fmt.Sprintf("the stored tree state at %d events (audit_tree_frontier) is not the tree of the stored events", size)}
}

// headProblem checks that event cp.Size is still the chain head the
// checkpoint row recorded: one row read.
func (c *Checkpointer) headProblem(ctx context.Context, row *StoredCheckpoint, cp *Checkpoint) (*audit.Problem, error) {
	if cp.Size == 0 {
		return nil, nil
	}
	var h string
	if err := c.db.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = `+strconv.FormatInt(cp.Size, 10)).Scan(&h); err != nil {
		return nil, fmt.Errorf("audit: read event %d: %w", cp.Size, err)
	}
	if h != row.HeadHash {
		return &audit.Problem{Seq: cp.Size, Kind: audit.ProblemHead, Detail: fmt.Sprintf("event %d hash %.16s… is not the chain head signed at checkpoint %d", cp.Size, h, cp.Size)}, nil
	}
	return nil, nil
}
