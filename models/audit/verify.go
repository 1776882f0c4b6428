package audit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
)

// ProblemKind classifies what a verification found wrong.
type ProblemKind string

// The problem kinds.
const (
	// ProblemSequence: a sequence number is missing, repeated or out of
	// order (a row was deleted, inserted or renumbered).
	ProblemSequence ProblemKind = "sequence"
	// ProblemLink: an event's previous-hash does not name the event before it
	// (a row was inserted, deleted or reordered).
	ProblemLink ProblemKind = "link"
	// ProblemHash: an event's stored hash does not match its contents (the
	// row was modified).
	ProblemHash ProblemKind = "hash"
	// ProblemHead: the chain head does not match the last event (events
	// were removed from the end, or the head was edited).
	ProblemHead ProblemKind = "head"
)

// Problem is the first inconsistency found.
type Problem struct {
	Seq    int64
	Kind   ProblemKind
	Detail string
}

// Error implements error so callers can return a Problem.
func (p *Problem) Error() string {
	return fmt.Sprintf("event %d: %s: %s", p.Seq, p.Kind, p.Detail)
}

// Report is the outcome of Verify.
type Report struct {
	Events int64
	Head   string
	// Problem is nil when the chain is intact.
	Problem *Problem
	// Bytes is how many bytes were hashed (for throughput figures).
	Bytes int64
}

// Verify walks the whole chain in seq order and stops at the first event
// whose sequence, link or hash is wrong, then checks the chain head. It
// streams rows and does not allocate per event.
func Verify(ctx context.Context, db *sql.DB) (*Report, error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, at_unix_us, type, actor_type, actor_id, actor_display, request_id, purpose, action, policy_ref, payload, prev_hash, hash FROM audit_events ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("audit verify: query events: %w", err)
	}
	defer rows.Close()
	rep := &Report{Head: GenesisHash}
	x := NewHasher()
	var f Fields
	var stored sql.RawBytes
	prev := []byte(GenesisHash)
	prevBuf := make([]byte, 0, 64)
	for rows.Next() {
		if err := rows.Scan(&f.Seq, &f.AtUnixUS, (*sql.RawBytes)(&f.Type), (*sql.RawBytes)(&f.ActorType), (*sql.RawBytes)(&f.ActorID),
			(*sql.RawBytes)(&f.ActorDisplay), (*sql.RawBytes)(&f.RequestID), (*sql.RawBytes)(&f.Purpose), (*sql.RawBytes)(&f.Action),
			(*sql.RawBytes)(&f.PolicyRef), (*sql.RawBytes)(&f.Payload), (*sql.RawBytes)(&f.PrevHash), &stored); err != nil {
			return nil, fmt.Errorf("audit verify: read event after %d: %w", rep.Events, err)
		}
		want := rep.Events + 1
		switch {
		case f.Seq != want:
			rep.Problem = &Problem{Seq: f.Seq, Kind: ProblemSequence, Detail: fmt.Sprintf("expected event %d, found %d", want, f.Seq)}
		case !bytes.Equal(f.PrevHash, prev):
			rep.Problem = &Problem{Seq: f.Seq, Kind: ProblemLink, Detail: fmt.Sprintf("previous hash %.16s… does not match event %d (%.16s…)", f.PrevHash, want-1, prev)}
		default:
			if got := x.Sum(&f); !bytes.Equal(got, stored) {
				rep.Problem = &Problem{Seq: f.Seq, Kind: ProblemHash, Detail: fmt.Sprintf("contents hash to %.16s…, stored %.16s…", got, stored)}
			}
		}
		if rep.Problem != nil {
			return rep, nil
		}
		rep.Bytes += int64(len(x.Encoded()))
		rep.Events = f.Seq
		prevBuf = append(prevBuf[:0], stored...)
		prev = prevBuf
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit verify: read events: %w", err)
	}
	rep.Head = string(prev)
	var headSeq int64
	var headHash string
	if err := db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return nil, fmt.Errorf("audit verify: read chain head: %w", err)
	}
	if headSeq != rep.Events || headHash != rep.Head {
		rep.Problem = &Problem{Seq: headSeq, Kind: ProblemHead, Detail: fmt.Sprintf("chain head says %d events ending %.16s…, the log has %d ending %.16s…", headSeq, headHash, rep.Events, rep.Head)}
	}
	return rep, nil
}
