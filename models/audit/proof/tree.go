package proof

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/transparency-dev/merkle/compact"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// Tree reads the Merkle tree over the audit events of a store: roots at any
// size and the proofs that tie events and checkpoints together. It stores
// nothing itself; the Checkpointer keeps the perfect subtrees at and above
// nodeStoreLevel in audit_tree_nodes, so a proof reads a handful of stored
// nodes plus at most a few hundred leaf hashes.
//
// What a Tree returns is what the database says now. It is trustworthy only
// after checking against a signed checkpoint (VerifyInclusion,
// VerifyConsistency), which is the point of the proofs.
type Tree struct {
	db *sql.DB
	// reads counts every leaf hash and stored node row this tree reads,
	// so tests can tell a bounded read from a scan of the log.
	leavesRead, nodeRowsRead atomic.Int64
}

// TreeReads counts what a Tree has read from the database.
type TreeReads struct {
	// Leaves is the number of event hashes read, NodeRows the number of
	// audit_tree_nodes rows.
	Leaves, NodeRows int64
}

// Reads returns what the tree has read so far.
func (t *Tree) Reads() TreeReads {
	return TreeReads{Leaves: t.leavesRead.Load(), NodeRows: t.nodeRowsRead.Load()}
}

// readBudget bounds and counts one read that must not grow with the log
// (the integrity page's check): at most maxLeaves event hashes.
type readBudget struct {
	maxLeaves       int64
	leaves, nodeRow int64
}

// errOverBudget reports a bounded read that would need more leaves than its
// budget: some node it needs is not stored.
var errOverBudget = errors.New("the tree nodes needed are not stored")

// NewTree returns the tree over store's audit events.
func NewTree(store *models.Store) (*Tree, error) {
	db, err := store.SQL()
	if err != nil {
		return nil, fmt.Errorf("audit tree: %w", err)
	}
	return &Tree{db: db}, nil
}

// RootAt returns the root of the tree of the first size events (the empty
// root for 0).
func (t *Tree) RootAt(ctx context.Context, size int64) ([]byte, error) {
	if size < 0 {
		return nil, models.Invalid("size", "must not be negative")
	}
	if size == 0 {
		return EmptyRoot(), nil
	}
	return t.rootAt(ctx, size, nil)
}

// rootAt is RootAt within budget (nil: unbounded).
func (t *Tree) rootAt(ctx context.Context, size int64, budget *readBudget) ([]byte, error) {
	if size == 0 {
		return EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, uint64(size), nil)
	hashes, err := t.nodeHashes(ctx, ids, budget)
	if err != nil {
		return nil, fmt.Errorf("audit tree: root at %d: %w", size, err)
	}
	return CompactRoot(uint64(size), hashes)
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index (the
// event with seq index+1) in the tree of the given size.
func (t *Tree) InclusionProof(ctx context.Context, index, size int64) ([][]byte, error) {
	if index < 0 || index >= size {
		return nil, models.Invalid("index", fmt.Sprintf("leaf %d is not in a tree of size %d", index, size))
	}
	nodes, err := merkleproof.Inclusion(uint64(index), uint64(size))
	if err != nil {
		return nil, fmt.Errorf("audit tree: inclusion of %d in %d: %w", index, size, err)
	}
	return t.rehash(ctx, nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of size1 and size2 events (size1 <= size2).
func (t *Tree) ConsistencyProof(ctx context.Context, size1, size2 int64) ([][]byte, error) {
	if size1 < 0 || size1 > size2 {
		return nil, models.Invalid("size", fmt.Sprintf("need 0 <= %d <= %d", size1, size2))
	}
	nodes, err := merkleproof.Consistency(uint64(size1), uint64(size2))
	if err != nil {
		return nil, fmt.Errorf("audit tree: consistency %d → %d: %w", size1, size2, err)
	}
	return t.rehash(ctx, nodes)
}

func (t *Tree) rehash(ctx context.Context, nodes merkleproof.Nodes) ([][]byte, error) {
	hashes, err := t.NodeHashes(ctx, nodes.IDs)
	if err != nil {
		return nil, fmt.Errorf("audit tree: %w", err)
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// NodeHashes returns the hash of each perfect subtree in ids: stored nodes
// where the checkpointer kept them, the rest recomputed from leaves, one range
// read per 2^nodeStoreLevel block (or per unstored high node).
func (t *Tree) NodeHashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	return t.nodeHashes(ctx, ids, nil)
}

// nodeHashes is NodeHashes within budget (nil: unbounded); over budget it
// reads no leaves and returns errOverBudget.
func (t *Tree) nodeHashes(ctx context.Context, ids []compact.NodeID, budget *readBudget) ([][]byte, error) {
	out := make([][]byte, len(ids))
	if err := t.storedNodes(ctx, ids, out, budget); err != nil {
		return nil, err
	}
	// Group what is left into leaf windows.
	type window struct {
		begin, end uint64
		want       map[compact.NodeID][]int
	}
	windows := map[uint64]*window{}
	for i, id := range ids {
		if out[i] != nil {
			continue
		}
		begin, end := id.Coverage()
		key, wb := begin>>nodeStoreLevel, begin>>nodeStoreLevel<<nodeStoreLevel
		if id.Level >= nodeStoreLevel {
			key, wb = ^uint64(0)-uint64(i), begin // its own window
		}
		w := windows[key]
		if w == nil {
			w = &window{begin: wb, end: end, want: map[compact.NodeID][]int{}}
			windows[key] = w
		}
		w.end = max(w.end, end)
		w.want[id] = append(w.want[id], i)
	}
	keys := make([]uint64, 0, len(windows))
	for k := range windows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return windows[keys[a]].begin < windows[keys[b]].begin })
	if budget != nil {
		var need int64
		for _, w := range windows {
			need += int64(w.end - w.begin)
		}
		if budget.leaves+need > budget.maxLeaves {
			return nil, fmt.Errorf("audit tree: %d leaves to read, %d allowed: %w", need, budget.maxLeaves-budget.leaves, errOverBudget)
		}
		budget.leaves += need
	}
	for _, k := range keys {
		w := windows[k]
		rng := RangeFactory().NewEmptyRange(w.begin)
		visit := func(id compact.NodeID, hash []byte) {
			for _, i := range w.want[id] {
				out[i] = hash
			}
		}
		err := t.leaves(ctx, w.begin, w.end, func(leaf []byte) error { return rng.Append(leaf, visit) })
		if err != nil {
			return nil, err
		}
	}
	for i, h := range out {
		if h == nil {
			return nil, fmt.Errorf("node %d/%d could not be computed", ids[i].Level, ids[i].Index)
		}
	}
	return out, nil
}

// storedNodes fills out[i] for the ids kept in audit_tree_nodes.
func (t *Tree) storedNodes(ctx context.Context, ids []compact.NodeID, out [][]byte, budget *readBudget) error {
	var cond []string
	for _, id := range ids {
		if id.Level >= nodeStoreLevel {
			cond = append(cond, `(level = `+strconv.FormatUint(uint64(id.Level), 10)+` AND idx = `+strconv.FormatUint(id.Index, 10)+`)`)
		}
	}
	if len(cond) == 0 {
		return nil
	}
	rows, err := t.db.QueryContext(ctx, `SELECT level, idx, hash FROM audit_tree_nodes WHERE `+strings.Join(cond, ` OR `))
	if err != nil {
		return fmt.Errorf("read tree nodes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var level, idx int64
		var h string
		if err := rows.Scan(&level, &idx, &h); err != nil {
			return fmt.Errorf("read tree nodes: %w", err)
		}
		t.nodeRowsRead.Add(1)
		if budget != nil {
			budget.nodeRow++
		}
		var raw [HashSize]byte
		if !DecodeHash(&raw, []byte(h)) {
			return fmt.Errorf("tree node %d/%d: stored hash is not 64 hex digits", level, idx)
		}
		for i, id := range ids {
			if id.Level == uint(level) && id.Index == uint64(idx) {
				out[i] = append([]byte(nil), raw[:]...)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tree nodes: %w", err)
	}
	return nil
}

// errMissingEvent reports a leaf the tree needs but the log lacks.
var errMissingEvent = errors.New("event missing from the log")

// leaves calls fn with the leaf hash of every event in the leaf range
// [begin, end), in order, as a new slice; a missing event is an error.
func (t *Tree) leaves(ctx context.Context, begin, end uint64, fn func(leaf []byte) error) error {
	return t.leafHashes(ctx, begin, end, func(leaf *[HashSize]byte) error {
		return fn(append([]byte(nil), leaf[:]...))
	})
}

// leafHashes is leaves without allocating: leaf is valid until fn returns.
func (t *Tree) leafHashes(ctx context.Context, begin, end uint64, fn func(leaf *[HashSize]byte) error) error {
	rows, err := t.db.QueryContext(ctx, audit.EventsBetween(`seq, hash`, int64(begin), int64(end)))
	if err != nil {
		return fmt.Errorf("read leaves %d–%d: %w", begin, end, err)
	}
	defer rows.Close()
	want := int64(begin) + 1
	var seq int64
	var hash sql.RawBytes
	var raw, leaf [HashSize]byte
	for rows.Next() {
		if err := rows.Scan(&seq, &hash); err != nil {
			return fmt.Errorf("read leaves %d–%d: %w", begin, end, err)
		}
		if seq != want {
			return fmt.Errorf("event %d: %w", want, errMissingEvent)
		}
		t.leavesRead.Add(1)
		if !DecodeHash(&raw, hash) {
			return fmt.Errorf("event %d: stored hash is not 64 hex digits", seq)
		}
		LeafHashOf(&leaf, &raw)
		if err := fn(&leaf); err != nil {
			return err
		}
		want++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read leaves %d–%d: %w", begin, end, err)
	}
	if want != int64(end)+1 {
		return fmt.Errorf("event %d: %w", want, errMissingEvent)
	}
	return nil
}
