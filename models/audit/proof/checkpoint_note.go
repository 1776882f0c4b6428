package proof

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/countersign/countersign/models/audit"
)

// Checkpoint is a signed statement "the log <Origin> had <Size> events and
// Merkle root <Root>", in the C2SP tlog-checkpoint format: a signed note whose
// text is "<origin>\n<size>\n<base64 root>\n". Anyone holding the verifier key
// can check it offline, and two checkpoints plus a consistency proof show the
// log only grew between them.
type Checkpoint struct {
	// Origin names the log (and the signing key).
	Origin string `json:"origin"`
	// Size is the number of events covered: events 1..Size.
	Size int64 `json:"size"`
	// Root is the RFC 6962 Merkle root over those events (see merkle.go).
	Root []byte `json:"root"`
	// Note is the signed note text, the part to hand to third parties.
	Note string `json:"note"`
	// CreatedAt is when the server made it (zero when parsed from a note).
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// checkpointText returns the note text for a checkpoint.
func checkpointText(origin string, size int64, root []byte) string {
	return origin + "\n" + strconv.FormatInt(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
}

// parseCheckpointText reads the note text (signatures already removed). Lines
// after the root are C2SP extension lines and are allowed.
func parseCheckpointText(text string) (*Checkpoint, error) {
	lines := strings.SplitAfterN(text, "\n", 4)
	if len(lines) < 3 || !strings.HasSuffix(lines[2], "\n") {
		return nil, errors.New("checkpoint text needs origin, size and root lines")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeText := strings.TrimSuffix(lines[1], "\n")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return nil, fmt.Errorf("checkpoint size %q is not a decimal number", sizeText)
	}
	root, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != HashSize {
		return nil, errors.New("checkpoint root is not a base64 SHA-256 hash")
	}
	if origin == "" {
		return nil, errors.New("checkpoint origin is empty")
	}
	return &Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// parseCheckpointNote reads a signed note without checking its signature
// (for checkpoints read back from our own database, possibly signed by a
// key since rotated).
func parseCheckpointNote(signed string) (*Checkpoint, error) {
	i := strings.LastIndex(signed, "\n\n")
	if i < 0 {
		return nil, errors.New("checkpoint note has no signature block")
	}
	cp, err := parseCheckpointText(signed[:i+1])
	if err != nil {
		return nil, err
	}
	cp.Note = signed
	return cp, nil
}

// OpenCheckpoint verifies a signed checkpoint note against trusted verifier
// keys and parses it. A failure is a *Problem: ProblemSignature when a trusted
// key's signature does not verify, ProblemUnknownKey when no trusted key
// signed it (or a trusted key named for another origin did), and
// ProblemMalformed for anything unreadable.
func OpenCheckpoint(signed []byte, vkeys ...string) (*Checkpoint, error) {
	keys, err := NewTrustedKeys(vkeys)
	if err != nil {
		return nil, err
	}
	cp, p := keys.Open(signed)
	if p != nil {
		return nil, p
	}
	return cp, nil
}

// open is OpenCheckpoint with parsed keys; a checkpoint that is readable but
// not trustworthy is returned along with the problem, so a bundle check can
// go on with its size and root.
func (k *TrustedKeys) Open(signed []byte) (*Checkpoint, *audit.Problem) {
	n, err := note.Open(signed, k.verifiers)
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		cp, perr := parseCheckpointText(unverified.Note.Text)
		if perr != nil {
			return nil, &audit.Problem{Kind: audit.ProblemMalformed, Detail: perr.Error()}
		}
		cp.Note = string(signed)
		var by []string
		for _, s := range unverified.Note.UnverifiedSigs {
			by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemUnknownKey,
			Detail: fmt.Sprintf("checkpoint %d is signed by %s, not by a trusted key (%s)", cp.Size, strings.Join(by, ", "), strings.Join(k.names, ", "))}
	case errors.As(err, &invalid):
		cp, _ := parseCheckpointNote(string(signed))
		p := &audit.Problem{Kind: audit.ProblemSignature, Detail: fmt.Sprintf("signature by %s+%08x does not verify", invalid.Name, invalid.Hash)}
		if cp != nil {
			p.Seq = cp.Size
			p.Detail = fmt.Sprintf("checkpoint %d: %s", cp.Size, p.Detail)
		}
		return cp, p
	case err != nil:
		return nil, &audit.Problem{Kind: audit.ProblemMalformed, Detail: "checkpoint note: " + err.Error()}
	}
	cp, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, &audit.Problem{Kind: audit.ProblemMalformed, Detail: err.Error()}
	}
	cp.Note = string(signed)
	for _, s := range n.Sigs {
		if s.Name == cp.Origin {
			return cp, nil
		}
	}
	return cp, &audit.Problem{Seq: cp.Size, Kind: audit.ProblemUnknownKey,
		Detail: fmt.Sprintf("checkpoint %d is for origin %q but signed by a key named %q", cp.Size, cp.Origin, n.Sigs[0].Name)}
}

// SignCheckpoint signs the checkpoint text for (size, root) with key.
func SignCheckpoint(key *Key, size int64, root []byte) (string, error) {
	msg, err := note.Sign(&note.Note{Text: checkpointText(key.origin, size, root)}, key.signer)
	if err != nil {
		return "", fmt.Errorf("audit: sign checkpoint %d: %w", size, err)
	}
	return string(msg), nil
}

// VerifyInclusion checks that the event with hash eventHash (hex) is leaf
// index of the tree cp signs, given an inclusion proof. cp must come from
// OpenCheckpoint. A failure is a *Problem of kind ProblemProof.
func VerifyInclusion(cp *Checkpoint, index int64, eventHash string, inclusion [][]byte) error {
	leaf, err := LeafHash(eventHash)
	if err != nil {
		return &audit.Problem{Seq: index + 1, Kind: audit.ProblemMalformed, Detail: err.Error()}
	}
	if index < 0 || index >= cp.Size {
		return &audit.Problem{Seq: index + 1, Kind: audit.ProblemProof, Detail: fmt.Sprintf("leaf %d is not in a tree of size %d", index, cp.Size)}
	}
	if err := merkleproof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(cp.Size), leaf, inclusion, cp.Root); err != nil {
		return &audit.Problem{Seq: index + 1, Kind: audit.ProblemProof, Detail: fmt.Sprintf("event %d is not proven in checkpoint %d: %s", index+1, cp.Size, oneLine(err))}
	}
	return nil
}

// VerifyConsistency checks that newer extends older (the first older.Size
// events are unchanged), given a consistency proof. Both must come from
// OpenCheckpoint. A failure is a *Problem of kind ProblemConsistency.
func VerifyConsistency(older, newer *Checkpoint, consistency [][]byte) error {
	if older.Origin != newer.Origin {
		return &audit.Problem{Seq: newer.Size, Kind: audit.ProblemConsistency, Detail: fmt.Sprintf("checkpoints of different logs (%q, %q)", older.Origin, newer.Origin)}
	}
	if older.Size > newer.Size {
		return &audit.Problem{Seq: newer.Size, Kind: audit.ProblemConsistency, Detail: fmt.Sprintf("checkpoint %d is older than checkpoint %d but larger", older.Size, newer.Size)}
	}
	if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, uint64(older.Size), uint64(newer.Size), consistency, older.Root, newer.Root); err != nil {
		return &audit.Problem{Seq: newer.Size, Kind: audit.ProblemConsistency, Detail: fmt.Sprintf("checkpoint %d does not extend checkpoint %d: %s", newer.Size, older.Size, oneLine(err))}
	}
	return nil
}

// oneLine flattens the multi-line messages of the proof package.
func oneLine(err error) string {
	var rm merkleproof.RootMismatchError
	if errors.As(err, &rm) {
		return fmt.Sprintf("computed root %x… does not match %x…", head8(rm.CalculatedRoot), head8(rm.ExpectedRoot))
	}
	return string(bytes.Join(bytes.Fields([]byte(err.Error())), []byte(" ")))
}

func head8(b []byte) []byte { return b[:min(len(b), 8)] }
