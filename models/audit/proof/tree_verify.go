package proof

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/countersign/countersign/models/audit"
)

// TreeReport is what VerifyStoredTree compared.
type TreeReport struct {
	// Events is the number of event hashes the tree was recomputed from.
	Events int64
	// Nodes is the number of stored subtrees (audit_tree_nodes) compared,
	// Checkpoints the number of checkpoint roots.
	Nodes, Checkpoints int64
	// StateSize is the size of the stored tree state (audit_tree_frontier).
	StateSize int64
	// Problem is the first stored value the events do not explain; nil
	// when everything matches.
	Problem *audit.Problem
	// Skipped says why nothing was compared (a database older than the
	// stored tree), or is empty.
	Skipped string
}

// Migrations that created what VerifyStoredTree compares.
const (
	checkpointsMigration = 10 // audit_checkpoints, audit_tree_nodes
	treeStateMigration   = 25 // audit_tree_frontier
)

// nodeKey names a stored subtree.
type nodeKey struct {
	level uint
	index uint64
}

// VerifyStoredTree recomputes the Merkle tree from every event hash and
// compares it with everything the database stores about it instead of
// trusting it: every stored subtree, the stored tree state and every
// checkpoint's root (and the latest checkpoint's compact range, which the
// next checkpoint continues from). Signatures are not checked here (that
// needs the verifier key: audit verify --bundle). It reads the log once and
// holds the stored subtrees in memory (one per 256 events).
func VerifyStoredTree(ctx context.Context, db *sql.DB) (*TreeReport, error) {
	t := &Tree{db: db}
	rep := &TreeReport{}
	// audit verify opens databases without migrating them, so an older
	// one may lack the tables.
	var migrated int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version IN (`+
		strconv.Itoa(checkpointsMigration)+`, `+strconv.Itoa(treeStateMigration)+`)`).Scan(&migrated); err != nil {
		return nil, fmt.Errorf("audit tree: read schema version: %w", err)
	}
	if migrated < 2 {
		rep.Skipped = "the database predates the stored tree state (migration 0025); start serve once to migrate it"
		return rep, nil
	}
	var head int64
	if err := db.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return nil, fmt.Errorf("audit tree: read chain head: %w", err)
	}
	front, err := (&Frontier{tree: t}).Load(ctx)
	if errors.Is(err, errNoFrontier) {
		rep.Problem = &audit.Problem{Seq: head, Kind: audit.ProblemRoot, Detail: err.Error()}
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	rep.StateSize = int64(front.Size())
	stored, err := storedSubtrees(ctx, db)
	if err != nil {
		return nil, err
	}
	cps, err := checkpointRoots(ctx, db)
	if err != nil {
		return nil, err
	}
	fail := func(seq int64, detail string, args ...any) {
		if rep.Problem == nil {
			rep.Problem = &audit.Problem{Seq: seq, Kind: audit.ProblemRoot, Detail: fmt.Sprintf(detail, args...)}
		}
	}
	var acc Acc
	next := 0 // the next checkpoint to compare
	atSize := func() {
		size := int64(acc.Size())
		if acc.Size() == front.Size() && !acc.Equal(front) {
			fail(size, "the stored tree state at %d events (audit_tree_frontier) is not the tree of the stored events", size)
		}
		for ; next < len(cps) && cps[next].size == size; next++ {
			rep.Checkpoints++
			root := acc.Root()
			if cps[next].root != hex.EncodeToString(root[:]) {
				fail(size, "checkpoint %d stores root %.16s…, the events hash to %x…", size, cps[next].root, root[:8])
			}
			if next == len(cps)-1 && cps[next].compact != acc.Hex() {
				fail(size, "the compact range stored with checkpoint %d is not the tree of the stored events", size)
			}
		}
	}
	atSize()
	err = t.leafHashes(ctx, 0, uint64(head), func(leaf *[HashSize]byte) error {
		acc.AddVisit(leaf, func(level uint, index uint64, h *[HashSize]byte) {
			k := nodeKey{level, index}
			if s, ok := stored[k]; ok {
				rep.Nodes++
				if s != *h {
					fail(int64((index+1)<<level), "stored subtree %d/%d (events %d–%d) is not the hash of those events", level, index, index<<level+1, (index+1)<<level)
				}
				delete(stored, k)
			}
		})
		atSize()
		if rep.Problem != nil {
			return errStop
		}
		return nil
	})
	rep.Events = int64(acc.Size())
	switch {
	case errors.Is(err, errStop):
		return rep, nil
	case errors.Is(err, errMissingEvent):
		// audit.Verify reports the gap itself; here it only means the
		// tree cannot be recomputed past it.
		fail(rep.Events+1, "event %d is missing, so the tree cannot be recomputed: %v", rep.Events+1, err)
		return rep, nil
	case err != nil:
		return nil, fmt.Errorf("audit tree: %w", err)
	}
	if front.Size() > acc.Size() {
		fail(int64(front.Size()), "the stored tree state covers %d events, the log has %d", front.Size(), acc.Size())
	}
	if next < len(cps) {
		fail(cps[next].size, "checkpoint %d covers more events than the log has (%d)", cps[next].size, acc.Size())
	}
	for k := range stored {
		fail(int64((k.index+1)<<k.level), "stored subtree %d/%d covers events beyond the log (%d)", k.level, k.index, acc.Size())
		break
	}
	return rep, nil
}

// errStop ends a leaf scan early once a problem is found.
var errStop = errors.New("stop")

// storedSubtrees reads every row of audit_tree_nodes.
func storedSubtrees(ctx context.Context, db *sql.DB) (map[nodeKey][HashSize]byte, error) {
	rows, err := db.QueryContext(ctx, `SELECT level, idx, hash FROM audit_tree_nodes`)
	if err != nil {
		return nil, fmt.Errorf("audit tree: read stored subtrees: %w", err)
	}
	defer rows.Close()
	out := map[nodeKey][HashSize]byte{}
	for rows.Next() {
		var level, idx int64
		var h sql.RawBytes
		if err := rows.Scan(&level, &idx, &h); err != nil {
			return nil, fmt.Errorf("audit tree: read stored subtrees: %w", err)
		}
		var raw [HashSize]byte
		if level < 0 || level > 63 || idx < 0 || !DecodeHash(&raw, h) {
			// A row that cannot be a subtree never matches one.
			raw = [HashSize]byte{}
		}
		out[nodeKey{uint(level), uint64(idx)}] = raw
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit tree: read stored subtrees: %w", err)
	}
	return out, nil
}

// storedCheckpointRoot is the part of a checkpoint row VerifyStoredTree
// compares.
type storedCheckpointRoot struct {
	size    int64
	root    string
	compact string
}

// checkpointRoots reads every checkpoint's size and root in order, and the
// compact range of the latest.
func checkpointRoots(ctx context.Context, db *sql.DB) ([]storedCheckpointRoot, error) {
	rows, err := db.QueryContext(ctx, `SELECT size, root_hash FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("audit tree: read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []storedCheckpointRoot
	for rows.Next() {
		var c storedCheckpointRoot
		if err := rows.Scan(&c.size, &c.root); err != nil {
			return nil, fmt.Errorf("audit tree: read checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit tree: read checkpoints: %w", err)
	}
	if len(out) > 0 {
		last := &out[len(out)-1]
		if err := db.QueryRowContext(ctx, `SELECT compact FROM audit_checkpoints WHERE size = `+strconv.FormatInt(last.size, 10)).Scan(&last.compact); err != nil {
			return nil, fmt.Errorf("audit tree: read checkpoint %d: %w", last.size, err)
		}
	}
	return out, nil
}
