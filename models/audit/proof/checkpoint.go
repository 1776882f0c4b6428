package proof

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// StoredCheckpoint is one signed checkpoint as stored (audit_checkpoints).
// Besides the note it keeps what the next checkpoint needs to continue
// without rereading the log: the chain head hash at Size and the compact
// range [0, Size).
type StoredCheckpoint struct {
	Size     int64 `gorm:"primaryKey;autoIncrement:false"`
	RootHash string
	HeadHash string
	// Compact is the compact range [0, Size), hex hashes left to right,
	// concatenated.
	Compact   string
	Note      string
	CreatedAt time.Time
}

// TableName pins the table name.
func (StoredCheckpoint) TableName() string { return "audit_checkpoints" }

func (r *StoredCheckpoint) Checkpoint() (*Checkpoint, error) {
	cp, err := parseCheckpointNote(r.Note)
	if err != nil {
		return nil, fmt.Errorf("audit: stored checkpoint %d: %w", r.Size, err)
	}
	if cp.Size != r.Size || hex.EncodeToString(cp.Root) != r.RootHash {
		return nil, fmt.Errorf("audit: stored checkpoint %d: note says size %d root %x…, row says root %.16s…", r.Size, cp.Size, head8(cp.Root), r.RootHash)
	}
	cp.CreatedAt = r.CreatedAt
	return cp, nil
}

func (r *StoredCheckpoint) CompactHashes() ([][]byte, error) {
	if len(r.Compact)%(2*HashSize) != 0 {
		return nil, fmt.Errorf("audit: stored checkpoint %d: compact range has a partial hash", r.Size)
	}
	out := make([][]byte, 0, len(r.Compact)/(2*HashSize))
	for i := 0; i < len(r.Compact); i += 2 * HashSize {
		var h [HashSize]byte
		if !DecodeHash(&h, []byte(r.Compact[i:i+2*HashSize])) {
			return nil, fmt.Errorf("audit: stored checkpoint %d: compact range is not hex", r.Size)
		}
		out = append(out, h[:])
	}
	return out, nil
}

// Checkpointer signs the head of the audit log. It reads the events added
// since the latest checkpoint, checks them (sequence, links, hashes — it never
// signs a chain that does not verify), extends the Merkle tree, signs the
// new root and stores the checkpoint. Several processes may run one each:
// checkpoints are unique per size and creating one is idempotent.
type Checkpointer struct {
	store *models.Store
	db    *sql.DB
	tree  *Tree
	// frontier is the tree's stored state, advanced with each checkpoint.
	frontier *Frontier
	key      *Key
	now      func() time.Time
	// flushAt is how many tree nodes are held before they are written.
	flushAt int
	// mu keeps one process from computing the same checkpoint twice at
	// once; other processes are handled by the unique size.
	mu sync.Mutex
}

// NewCheckpointer returns a Checkpointer signing with key.
func NewCheckpointer(store *models.Store, key *Key) (*Checkpointer, error) {
	if key == nil {
		return nil, errors.New("audit: checkpointer needs a key")
	}
	tree, err := NewTree(store)
	if err != nil {
		return nil, err
	}
	return &Checkpointer{store: store, db: tree.db, tree: tree, frontier: NewFrontier(store, tree), key: key, now: time.Now, flushAt: nodeFlush}, nil
}

// Origin returns the log origin the checkpoints name.
func (c *Checkpointer) Origin() string { return c.key.origin }

// VerifierKey returns the public key that verifies this log's checkpoints.
func (c *Checkpointer) VerifierKey() string { return c.key.vkey }

// Tree returns the Merkle tree the checkpoints sign.
func (c *Checkpointer) Tree() *Tree { return c.tree }

// Frontier returns the tree's stored state, which each checkpoint
// advances.
func (c *Checkpointer) Frontier() *Frontier { return c.frontier }

// DB returns the database the checkpointer reads events and checkpoints
// from (for streaming readers such as audit bundles).
func (c *Checkpointer) DB() *sql.DB { return c.db }

// Now returns the checkpointer's clock reading (tests set the clock).
func (c *Checkpointer) Now() time.Time { return c.now() }

// Anchor returns the stored checkpoint of the smallest size >= to, or nil
// when none is that large yet (an audit bundle ends on it).
func (c *Checkpointer) Anchor(ctx context.Context, to int64) (*StoredCheckpoint, error) {
	var rows []StoredCheckpoint
	if err := c.store.DB(ctx).Where("size >= ?", to).Order("size").Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("audit checkpoint: read checkpoints: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// Latest returns the newest checkpoint, or an error matching
// models.ErrNotFound when there is none yet. The note is parsed, not
// verified: it may be signed by an earlier key.
func (c *Checkpointer) Latest(ctx context.Context) (*Checkpoint, error) {
	row, err := c.latestRow(ctx)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("audit: no checkpoint yet: %w", models.ErrNotFound)
	}
	return row.Checkpoint()
}

func (c *Checkpointer) latestRow(ctx context.Context) (*StoredCheckpoint, error) {
	var rows []StoredCheckpoint
	if err := c.store.DB(ctx).Order("size DESC").Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("audit: read latest checkpoint: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func (c *Checkpointer) rowAt(ctx context.Context, size int64) (*StoredCheckpoint, error) {
	var rows []StoredCheckpoint
	if err := c.store.DB(ctx).Where("size = ?", size).Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("audit: read checkpoint %d: %w", size, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// nodeFlush bounds the tree nodes held before they are written (one per 128
// events), so the first checkpoint of a long log runs in constant memory.
const nodeFlush = 4096

// Checkpoint signs the current head of the log and returns the checkpoint;
// when the latest checkpoint already covers the head it is returned as is.
// It fails (and signs nothing) if the events since the latest checkpoint do
// not verify; the error then wraps the *Problem found.
func (c *Checkpointer) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var headSeq int64
	var headHash string
	if err := c.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return nil, fmt.Errorf("audit checkpoint: read chain head: %w", err)
	}
	last, err := c.latestRow(ctx)
	if err != nil {
		return nil, err
	}
	size, prev := int64(0), audit.GenesisHash
	var hashes [][]byte
	if last != nil {
		if last.Size == headSeq {
			return last.Checkpoint()
		}
		if last.Size > headSeq {
			return nil, fmt.Errorf("audit checkpoint: %w", &audit.Problem{Seq: headSeq, Kind: audit.ProblemHead,
				Detail: fmt.Sprintf("the chain head is at event %d but checkpoint %d was signed: events were removed", headSeq, last.Size)})
		}
		if hashes, err = last.CompactHashes(); err != nil {
			return nil, err
		}
		size, prev = last.Size, last.HeadHash
	}
	rng, err := RangeFactory().NewRange(0, uint64(size), hashes)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: stored compact range of %d: %w", size, err)
	}
	if last != nil {
		if r, err := rangeRoot(rng); err != nil || hex.EncodeToString(r) != last.RootHash {
			return nil, fmt.Errorf("audit checkpoint: stored compact range of checkpoint %d does not hash to its root", size)
		}
	}
	var pending []treeNode
	visit := func(id compact.NodeID, h []byte) {
		if id.Level >= nodeStoreLevel {
			pending = append(pending, treeNode{id: id, hash: h})
		}
	}
	if err := c.extend(ctx, rng, size, headSeq, prev, headHash, visit, &pending); err != nil {
		return nil, err
	}
	root, err := rangeRoot(rng)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: %w", err)
	}
	signed, err := SignCheckpoint(c.key, headSeq, root)
	if err != nil {
		return nil, err
	}
	var compactHex strings.Builder
	for _, h := range rng.Hashes() {
		compactHex.WriteString(hex.EncodeToString(h))
	}
	row := StoredCheckpoint{Size: headSeq, RootHash: hex.EncodeToString(root), HeadHash: headHash,
		Compact: compactHex.String(), Note: signed, CreatedAt: c.now().UTC().Truncate(time.Microsecond)}
	err = c.store.WithTx(ctx, func(tx *gorm.DB) error {
		if err := insertNodes(tx, pending); err != nil {
			return err
		}
		if err := advanceFrontier(tx, uint64(headSeq), row.Compact); err != nil {
			return err
		}
		return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: store %d: %w", headSeq, err)
	}
	// Another process may have stored this size first: theirs stands, and
	// it must sign the same tree.
	stored, err := c.rowAt(ctx, headSeq)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, fmt.Errorf("audit checkpoint: checkpoint %d vanished after insert", headSeq)
	}
	if stored.RootHash != row.RootHash {
		return nil, fmt.Errorf("audit checkpoint: %w: checkpoint %d was stored with root %.16s…, this process computed %.16s…", models.ErrConflict, headSeq, stored.RootHash, row.RootHash)
	}
	return stored.Checkpoint()
}

// extend reads events (from, to], verifying each against the chain, and
// appends their leaves to rng; full node batches are written as they come.
func (c *Checkpointer) extend(ctx context.Context, rng *compact.Range, from, to int64, prev, headHash string, visit compact.VisitFn, pending *[]treeNode) error {
	rows, err := c.db.QueryContext(ctx, audit.EventsBetween(audit.EventColumns, from, to))
	if err != nil {
		return fmt.Errorf("audit checkpoint: read events: %w", err)
	}
	defer rows.Close()
	x := audit.NewHasher()
	var f audit.Fields
	var stored sql.RawBytes
	var raw [HashSize]byte
	last := []byte(prev)
	want := from + 1
	fail := func(p *audit.Problem) error { return fmt.Errorf("audit checkpoint: refusing to sign: %w", p) }
	for rows.Next() {
		if err := audit.ScanEvent(rows, &f, &stored); err != nil {
			return fmt.Errorf("audit checkpoint: read event %d: %w", want, err)
		}
		switch {
		case f.Seq != want:
			return fail(&audit.Problem{Seq: f.Seq, Kind: audit.ProblemSequence, Detail: fmt.Sprintf("expected event %d, found %d", want, f.Seq)})
		case !bytes.Equal(f.PrevHash, last):
			return fail(&audit.Problem{Seq: f.Seq, Kind: audit.ProblemLink, Detail: fmt.Sprintf("previous hash %.16s… does not match event %d (%.16s…)", f.PrevHash, want-1, last)})
		}
		if got := x.Sum(&f); !bytes.Equal(got, stored) {
			return fail(&audit.Problem{Seq: f.Seq, Kind: audit.ProblemHash, Detail: fmt.Sprintf("contents hash to %.16s…, stored %.16s…", got, stored)})
		}
		raw = *x.Raw()
		if err := rng.Append(LeafBytes(&raw), visit); err != nil {
			return fmt.Errorf("audit checkpoint: %w", err)
		}
		last = append(last[:0], stored...)
		want++
		if len(*pending) >= c.flushAt {
			nodes := *pending
			if err := c.store.WithTx(ctx, func(tx *gorm.DB) error { return insertNodes(tx, nodes) }); err != nil {
				return fmt.Errorf("audit checkpoint: store tree nodes: %w", err)
			}
			*pending = (*pending)[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit checkpoint: read events: %w", err)
	}
	if want != to+1 {
		return fail(&audit.Problem{Seq: want, Kind: audit.ProblemSequence, Detail: fmt.Sprintf("the chain head is at event %d but the log stops at %d", to, want-1)})
	}
	if string(last) != headHash {
		return fail(&audit.Problem{Seq: to, Kind: audit.ProblemHead, Detail: fmt.Sprintf("chain head hash %.16s… does not match event %d (%.16s…)", headHash, to, last)})
	}
	return nil
}

// rangeRoot is GetRootHash with the RFC 6962 empty root for an empty tree.
func rangeRoot(rng *compact.Range) ([]byte, error) {
	if rng.End() == 0 {
		return EmptyRoot(), nil
	}
	return rng.GetRootHash(nil)
}

// LeafBytes returns the RFC 6962 leaf hash of a raw event hash as a new
// slice (compact.Range keeps it).
func LeafBytes(raw *[HashSize]byte) []byte {
	var h [HashSize]byte
	LeafHashOf(&h, raw)
	return h[:]
}

// treeNode is a perfect subtree to store.
type treeNode struct {
	id   compact.NodeID
	hash []byte
}

// insertNodes stores perfect subtrees; a node already there (written by an
// earlier attempt or another process) is the same hash and is left alone.
func insertNodes(tx *gorm.DB, nodes []treeNode) error {
	const batch = 500
	for len(nodes) > 0 {
		n := min(len(nodes), batch)
		var sb strings.Builder
		args := make([]any, 0, 3*n)
		sb.WriteString(`INSERT INTO audit_tree_nodes (level, idx, hash) VALUES `)
		for i, nd := range nodes[:n] {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?)")
			args = append(args, int64(nd.id.Level), int64(nd.id.Index), hex.EncodeToString(nd.hash))
		}
		sb.WriteString(` ON CONFLICT (level, idx) DO NOTHING`)
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			return fmt.Errorf("audit: store tree nodes: %w", err)
		}
		nodes = nodes[n:]
	}
	return nil
}
