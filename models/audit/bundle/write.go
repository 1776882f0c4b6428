package bundle

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/transparency-dev/merkle/compact"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
)

// Format names the audit bundle format version (see BUNDLE.md).
const Format = "countersign-audit-bundle/1"

// bundleHeader is a bundle's first line.
type bundleHeader struct {
	Kind   string `json:"kind"`
	Format string `json:"format"`
	Origin string `json:"origin"`
	From   int64  `json:"from"`
	To     int64  `json:"to"`
	// PrevHash is the hash of event From-1 (GenesisHash when From is 1).
	PrevHash string `json:"prev_hash"`
	// Left is the compact range [0, From-1): what a verifier needs to
	// compute roots without the events before From.
	Left      [][]byte  `json:"left"`
	Keys      []string  `json:"keys"`
	CreatedAt time.Time `json:"created_at"`
}

// bundleCheckpoint is a checkpoint line. It follows the event whose seq is
// its size, or (the anchor) the last event when its size is beyond To.
type bundleCheckpoint struct {
	Kind string `json:"kind"`
	Size int64  `json:"size"`
	Note string `json:"note"`
	// Compact is the compact range [0, Size); its root is the signed root,
	// so after a failed range the verifier starts the next one from it.
	Compact [][]byte `json:"compact"`
	// Consistency proves this checkpoint extends the previous checkpoint
	// line (absent on the first).
	Consistency [][]byte `json:"consistency,omitempty"`
	// Right is the compact range [To, Size), only on the anchor.
	Right [][]byte `json:"right,omitempty"`
}

// bundleEnd is the last line; without it a bundle is truncated.
type bundleEnd struct {
	Kind        string `json:"kind"`
	Events      int64  `json:"events"`
	Checkpoints int64  `json:"checkpoints"`
}

// Write streams the events from..to (inclusive; to <= 0 or beyond the
// head means up to the head) as an audit bundle: a header, one line per
// event, each checkpoint in the range right after the event it ends on with
// a consistency proof from the one before, an anchor checkpoint covering the
// tail when no checkpoint ends exactly at to (signing one first if the log
// has none that far), and an end line. Memory stays constant whatever the
// range; see BUNDLE.md for the format and Verify for the checks.
//
// The bundle is what the database holds: a tampered log yields a bundle that
// fails verification, which is the point.
func Write(ctx context.Context, c *proof.Checkpointer, w io.Writer, from, to int64) error {
	db := c.DB()
	var head int64
	if err := db.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return fmt.Errorf("audit bundle: read chain head: %w", err)
	}
	from = max(from, 1)
	if to <= 0 || to > head {
		to = head
	}
	if from > to {
		return models.Invalid("range", fmt.Sprintf("no events in %d–%d (the log has %d)", from, to, head))
	}
	anchor, err := c.Anchor(ctx, to)
	if err != nil {
		return err
	}
	if anchor == nil {
		if _, err := c.Checkpoint(ctx); err != nil {
			return fmt.Errorf("audit bundle: sign the head: %w", err)
		}
		if anchor, err = c.Anchor(ctx, to); err != nil {
			return err
		}
		if anchor == nil {
			return fmt.Errorf("audit bundle: no checkpoint covers event %d", to)
		}
	}
	h := bundleHeader{Kind: "header", Format: Format, Origin: c.Origin(), From: from, To: to, PrevHash: audit.GenesisHash,
		Left: [][]byte{}, Keys: []string{c.VerifierKey()}, CreatedAt: c.Now().UTC().Truncate(time.Second)}
	if from > 1 {
		if err := db.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = `+strconv.FormatInt(from-1, 10)).Scan(&h.PrevHash); err != nil {
			return fmt.Errorf("audit bundle: read event %d: %w", from-1, err)
		}
		if h.Left, err = c.Tree().NodeHashes(ctx, compact.RangeNodes(0, uint64(from-1), nil)); err != nil {
			return fmt.Errorf("audit bundle: left edge: %w", err)
		}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc, err := newBundleEncoder(bw, &h)
	if err != nil {
		return err
	}
	if err := streamRange(ctx, db, enc, from, to); err != nil {
		return err
	}
	if anchor.Size > to {
		cp, err := anchor.Checkpoint()
		if err != nil {
			return err
		}
		hashes, err := anchor.CompactHashes()
		if err != nil {
			return err
		}
		right, err := c.Tree().NodeHashes(ctx, compact.RangeNodes(uint64(to), uint64(anchor.Size), nil))
		if err != nil {
			return fmt.Errorf("audit bundle: right edge to checkpoint %d: %w", anchor.Size, err)
		}
		var consistency [][]byte
		if enc.prev != nil {
			if consistency, err = c.Tree().ConsistencyProof(ctx, enc.prev.size, anchor.Size); err != nil {
				return fmt.Errorf("audit bundle: %w", err)
			}
		}
		if err := enc.checkpoint(cp.Size, cp.Note, hashes, 0, consistency, right); err != nil {
			return err
		}
	}
	return enc.end()
}

// streamRange writes the events and the checkpoints of sizes in [from, to],
// reading both in order through two cursors.
func streamRange(ctx context.Context, db *sql.DB, enc *bundleEncoder, from, to int64) error {
	cps, err := db.QueryContext(ctx, `SELECT size, note, compact FROM audit_checkpoints WHERE size >= `+
		strconv.FormatInt(from, 10)+` AND size <= `+strconv.FormatInt(to, 10)+` ORDER BY size`)
	if err != nil {
		return fmt.Errorf("audit bundle: read checkpoints: %w", err)
	}
	defer cps.Close()
	// cur is the next checkpoint to write, nxt the one after (its size
	// tells the encoder which proof nodes to collect).
	var cur, nxt *proof.StoredCheckpoint
	advance := func() error {
		cur, nxt = nxt, nil
		if cps.Next() {
			nxt = &proof.StoredCheckpoint{}
			if err := cps.Scan(&nxt.Size, &nxt.Note, &nxt.Compact); err != nil {
				return fmt.Errorf("audit bundle: read checkpoint: %w", err)
			}
		} else if err := cps.Err(); err != nil {
			return fmt.Errorf("audit bundle: read checkpoints: %w", err)
		}
		return nil
	}
	if err := advance(); err != nil {
		return err
	}
	if err := advance(); err != nil {
		return err
	}
	writeCur := func() error {
		hashes, err := cur.CompactHashes()
		if err != nil {
			return err
		}
		next := int64(0)
		if nxt != nil {
			next = nxt.Size
		}
		if err := enc.checkpoint(cur.Size, cur.Note, hashes, next, nil, nil); err != nil {
			return err
		}
		return advance()
	}
	rows, err := db.QueryContext(ctx, audit.EventsBetween(audit.EventColumns, from-1, to))
	if err != nil {
		return fmt.Errorf("audit bundle: read events: %w", err)
	}
	defer rows.Close()
	var f audit.Fields
	var hash sql.RawBytes
	for rows.Next() {
		if err := audit.ScanEvent(rows, &f, &hash); err != nil {
			return fmt.Errorf("audit bundle: read event: %w", err)
		}
		for cur != nil && cur.Size < f.Seq {
			if err := writeCur(); err != nil {
				return err
			}
		}
		if err := enc.event(&f, hash); err != nil {
			return err
		}
		if cur != nil && cur.Size == f.Seq {
			if err := writeCur(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit bundle: read events: %w", err)
	}
	for cur != nil {
		if err := writeCur(); err != nil {
			return err
		}
	}
	return nil
}

// bundleEncoder writes bundle lines and keeps the compact range of the
// events written, collecting on the way the nodes of the consistency proof
// between consecutive checkpoints, so no proof needs a database read.
type bundleEncoder struct {
	w           *bufio.Writer
	json        *json.Encoder
	buf         []byte
	rng         *compact.Range
	broken      bool // events out of sequence or unreadable: no proofs
	events      int64
	checkpoints int64

	// prev is the last checkpoint line written; nodes are the proof nodes
	// towards the next one, got their hashes, want the ones still to
	// collect from the events between them.
	prev  *encodedCheckpoint
	next  int64
	nodes merkleproof.Nodes
	got   [][]byte
	want  map[compact.NodeID][]int
	visit compact.VisitFn
	raw   [proof.HashSize]byte
}

type encodedCheckpoint struct{ size int64 }

func newBundleEncoder(w *bufio.Writer, h *bundleHeader) (*bundleEncoder, error) {
	rng, err := proof.RangeFactory().NewRange(0, uint64(h.From-1), h.Left)
	if err != nil {
		return nil, fmt.Errorf("audit bundle: left edge: %w", err)
	}
	e := &bundleEncoder{w: w, json: json.NewEncoder(w), buf: make([]byte, 0, 4096), rng: rng}
	e.json.SetEscapeHTML(false)
	e.visit = func(id compact.NodeID, hash []byte) {
		for _, i := range e.want[id] {
			e.got[i] = hash
		}
	}
	if err := e.json.Encode(h); err != nil {
		return nil, fmt.Errorf("audit bundle: write header: %w", err)
	}
	return e, nil
}

// event writes one event line.
func (e *bundleEncoder) event(f *audit.Fields, hash []byte) error {
	e.buf = audit.AppendEventJSON(e.buf[:0], f, hash, true)
	e.buf = append(e.buf, '\n')
	if _, err := e.w.Write(e.buf); err != nil {
		return fmt.Errorf("audit bundle: write event %d: %w", f.Seq, err)
	}
	e.events++
	if e.broken || uint64(f.Seq) != e.rng.End()+1 || !proof.DecodeHash(&e.raw, hash) {
		e.broken = true
		return nil
	}
	return e.rng.Append(proof.LeafBytes(&e.raw), e.visit)
}

// checkpoint writes a checkpoint line. next is the size of the following
// in-range checkpoint (0 if none); consistency, when nil, is assembled from
// the nodes collected since the previous checkpoint line.
func (e *bundleEncoder) checkpoint(size int64, note string, hashes [][]byte, next int64, consistency, right [][]byte) error {
	if consistency == nil && e.prev != nil && e.next == size && !e.broken {
		if !hasNil(e.got) {
			if p, err := e.nodes.Rehash(e.got, rfc6962.DefaultHasher.HashChildren); err == nil {
				consistency = p
			}
		}
	}
	line := bundleCheckpoint{Kind: "checkpoint", Size: size, Note: note, Compact: hashes, Consistency: consistency, Right: right}
	if err := e.json.Encode(&line); err != nil {
		return fmt.Errorf("audit bundle: write checkpoint %d: %w", size, err)
	}
	e.checkpoints++
	e.prev, e.next, e.want, e.got = &encodedCheckpoint{size: size}, next, nil, nil
	if next <= size {
		return nil
	}
	nodes, err := merkleproof.Consistency(uint64(size), uint64(next))
	if err != nil {
		return fmt.Errorf("audit bundle: consistency %d → %d: %w", size, next, err)
	}
	// Nodes left of size are this checkpoint's compact range; the others
	// are perfect subtrees of the events still to come.
	have := map[compact.NodeID][]byte{}
	for i, id := range compact.RangeNodes(0, uint64(size), nil) {
		if i < len(hashes) {
			have[id] = hashes[i]
		}
	}
	e.nodes, e.got, e.want = nodes, make([][]byte, len(nodes.IDs)), map[compact.NodeID][]int{}
	for i, id := range nodes.IDs {
		if h, ok := have[id]; ok {
			e.got[i] = h
		} else {
			e.want[id] = append(e.want[id], i)
		}
	}
	return nil
}

func hasNil(hs [][]byte) bool {
	for _, h := range hs {
		if h == nil {
			return true
		}
	}
	return false
}

// end writes the end line and flushes.
func (e *bundleEncoder) end() error {
	if err := e.json.Encode(&bundleEnd{Kind: "end", Events: e.events, Checkpoints: e.checkpoints}); err != nil {
		return fmt.Errorf("audit bundle: write end: %w", err)
	}
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("audit bundle: %w", err)
	}
	return nil
}
