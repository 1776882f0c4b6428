package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// ReceiptFormat names the receipt format version.
const ReceiptFormat = "countersign-audit-receipt/1"

// Receipt proves offline that one event is in the audit log: the event with
// every hashed field, its inclusion proof, and a signed checkpoint of the
// tree the proof leads to. Someone holding only the receipt and the log's
// public key can check that the event was recorded as shown and that the
// server committed to it, without trusting the server or reading the log.
type Receipt struct {
	// Format is ReceiptFormat; verifiers refuse others.
	Format string `json:"format"`
	// Event is the event proven, with every hashed field.
	Event audit.Event `json:"event"`
	// LeafIndex is Event.Seq-1, the event's position in the Merkle tree.
	LeafIndex int64 `json:"leaf_index"`
	// TreeSize is the size of the checkpoint the proof leads to.
	TreeSize int64 `json:"tree_size"`
	// InclusionProof lists the sibling hashes from leaf to root (RFC 6962),
	// base64 in JSON.
	InclusionProof [][]byte `json:"inclusion_proof"`
	// Checkpoint is the signed note (C2SP tlog-checkpoint) of TreeSize.
	Checkpoint string `json:"checkpoint"`
	// Passkey, for a decision signed with a passkey, proves the key it
	// was checked with: the enrolment event and any revocation, each with
	// its inclusion proof in the same checkpoint.
	Passkey *PasskeyProof `json:"passkey,omitempty"`
}

// Receipt returns a receipt for the event seq, proven against the latest
// checkpoint (a newer checkpoint is signed first when none covers the
// event yet). The error matches models.ErrNotFound for an unknown event.
func (c *Checkpointer) Receipt(ctx context.Context, seq int64) (*Receipt, error) {
	var ev models.AuditEvent
	err := c.store.DB(ctx).Where("seq = ?", seq).First(&ev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("audit receipt: event %d: %w", seq, models.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("audit receipt: read event %d: %w", seq, err)
	}
	cp, err := c.Latest(ctx)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return nil, err
	}
	if cp == nil || cp.Size < seq {
		if cp, err = c.Checkpoint(ctx); err != nil {
			return nil, fmt.Errorf("audit receipt: %w", err)
		}
	}
	inclusion, err := c.tree.InclusionProof(ctx, seq-1, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("audit receipt: event %d: %w", seq, err)
	}
	r := &Receipt{Format: ReceiptFormat, Event: audit.EventOf(&ev), LeafIndex: seq - 1, TreeSize: cp.Size,
		InclusionProof: inclusion, Checkpoint: cp.Note}
	if r.Passkey, err = c.passkeyProof(ctx, &r.Event, cp.Size); err != nil {
		return nil, fmt.Errorf("audit receipt: event %d: %w", seq, err)
	}
	return r, nil
}

// ParseReceipt reads a receipt's JSON, refusing unknown and duplicate keys
// so that what is verified is what any other reader of the file sees.
func ParseReceipt(data []byte) (*Receipt, error) {
	if err := audit.NoDuplicateKeys(data); err != nil {
		return nil, &audit.Problem{Kind: audit.ProblemMalformed, Detail: "receipt: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Receipt
	if err := dec.Decode(&r); err != nil {
		return nil, &audit.Problem{Kind: audit.ProblemMalformed, Detail: "receipt: " + err.Error()}
	}
	if dec.More() {
		return nil, &audit.Problem{Kind: audit.ProblemMalformed, Detail: "receipt: data after the receipt"}
	}
	return &r, nil
}

// VerifyReceipt checks a receipt offline with the log's trusted verifier
// key(s): the event's contents hash to its hash, that hash is the leaf at
// its index, the proof leads from the leaf to the checkpoint's root, and the
// checkpoint is signed by a trusted key for its origin. A failure is
// returned as a *Problem naming what did not hold.
func VerifyReceipt(r *Receipt, vkeys ...string) error {
	keys, err := NewTrustedKeys(vkeys)
	if err != nil {
		return err
	}
	ev := &r.Event
	if r.Format != ReceiptFormat {
		return &audit.Problem{Seq: ev.Seq, Kind: audit.ProblemMalformed, Detail: fmt.Sprintf("receipt format %q is not %q", r.Format, ReceiptFormat)}
	}
	if err := checkLeaf(ev, r.LeafIndex); err != nil {
		return err
	}
	cp, p := keys.Open([]byte(r.Checkpoint))
	if p != nil {
		p.Seq = ev.Seq
		return p
	}
	if cp.Size != r.TreeSize {
		return &audit.Problem{Seq: ev.Seq, Kind: audit.ProblemProof, Detail: fmt.Sprintf("tree size %d differs from the checkpoint's %d", r.TreeSize, cp.Size)}
	}
	if err := VerifyInclusion(cp, r.LeafIndex, ev.Hash, r.InclusionProof); err != nil {
		return err
	}
	return verifyPasskey(r, cp)
}

// checkLeaf checks that ev's contents hash to its hash and that leaf is
// its place in the tree, before its inclusion proof is checked.
func checkLeaf(ev *audit.Event, leaf int64) error {
	if got := audit.NewHasher().Sum(ev.Fields()); string(got) != ev.Hash {
		return &audit.Problem{Seq: ev.Seq, Kind: audit.ProblemHash, Detail: fmt.Sprintf("event %d's contents hash to %.16s…, the receipt says %.16s…", ev.Seq, got, ev.Hash)}
	}
	if leaf != ev.Seq-1 {
		return &audit.Problem{Seq: ev.Seq, Kind: audit.ProblemProof, Detail: fmt.Sprintf("leaf index %d does not belong to event %d", leaf, ev.Seq)}
	}
	return nil
}
