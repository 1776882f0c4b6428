package models

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
)

// WriteAuditEvent stores ev, whose Seq and PrevHash follow the chain head
// of tx (TxChainHead), as the chain's next event and makes it the head.
//
// Inside a group commit an event the database cannot refuse is kept and
// written later in the same transaction, with the events of the jobs
// around it in one statement (batch.go); that is the fast path. Any other
// event — and every event outside the committer — is written at once,
// where a refusal fails only the job that appended it; that is the simple
// path, and tests hold the two equal.
func WriteAuditEvent(tx *gorm.DB, ev *AuditEvent) error {
	if c, ok := tx.Statement.ConnPool.(batchConn); ok && deferrable(ev) {
		c.b.pending = append(c.b.pending, *ev)
		PutTxChainHead(tx, ChainHead{Seq: ev.Seq, Hash: ev.Hash})
		return nil
	}
	ctx := tx.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	conn := tx.Statement.ConnPool
	args := auditArgs(ev)
	if tx.Dialector.Name() == "postgres" {
		// Insert and head update in one statement: one round trip fewer
		// while the head is locked.
		res, err := conn.ExecContext(ctx, `WITH e AS (INSERT INTO audit_events (`+auditColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING seq, hash) UPDATE audit_head SET seq = e.seq, hash = e.hash FROM e WHERE audit_head.id = 1 AND audit_head.seq = $14`,
			append(args, ev.Seq-1)...)
		if err != nil {
			return fmt.Errorf("audit: append event %d: %w", ev.Seq, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("audit: chain head moved during append (seq %d)", ev.Seq-1)
		}
	} else {
		if _, err := conn.ExecContext(ctx, sqliteInsertAudit, args...); err != nil {
			return fmt.Errorf("audit: insert event %d: %w", ev.Seq, err)
		}
		if err := moveHead(ctx, conn.ExecContext, ev.Seq-1, ev.Seq, ev.Hash); err != nil {
			return err
		}
	}
	PutTxChainHead(tx, ChainHead{Seq: ev.Seq, Hash: ev.Hash})
	return nil
}

// auditColumns are the columns an event is written with, in auditArgs order.
const auditColumns = `seq, at_unix_us, type, actor_type, actor_id, actor_display, request_id, purpose, action, policy_ref, payload, prev_hash, hash`

const sqliteInsertAudit = `INSERT INTO audit_events (` + auditColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`

// pgInsertAuditRows writes any number of events in one statement of fixed
// text (one prepared statement whatever the batch's size): an array per
// column. It moves the head to the last event only if the head was where
// the first follows and every row went in, and fails otherwise (a division
// by zero), so that a COMMIT pipelined after it (pipeline_pg.go) never
// follows a partial write.
const pgInsertAuditRows = `WITH e AS (INSERT INTO audit_events (` + auditColumns + `)
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
	RETURNING 1),
u AS (UPDATE audit_head SET seq = $14, hash = $15 FROM (SELECT count(*) AS n FROM e) c
	WHERE audit_head.id = 1 AND audit_head.seq = $16 AND c.n = $17 RETURNING 1)
SELECT 1 / count(*) FROM u`

func auditArgs(ev *AuditEvent) []any {
	return []any{ev.Seq, ev.AtUnixUS, ev.Type, string(ev.ActorType), ev.ActorID, ev.ActorDisplay, ev.RequestID, ev.Purpose, ev.Action, ev.PolicyRef, ev.Payload, ev.PrevHash, ev.Hash}
}

// execFunc runs a statement: a job's connection (gorm.ConnPool's
// ExecContext) or the committer's (writeConn.exec).
type execFunc func(ctx context.Context, query string, args ...any) (sql.Result, error)

// writeAuditRows writes evs (consecutive, following the head) and moves
// the head to the last: one statement on PostgreSQL, one prepared insert
// per event and one head update on SQLite, where a statement costs no
// round trip. Failures wrap ErrAudit, as Append's do: the change cannot
// commit without its record.
func writeAuditRows(ctx context.Context, w *writeConn, dialect Dialect, evs []AuditEvent) error {
	first, last := &evs[0], &evs[len(evs)-1]
	if dialect == DialectPostgres {
		if _, err := w.exec(ctx, pgInsertAuditRows, pgAuditRowsArgs(evs)...); err != nil {
			return fmt.Errorf("%w: append events %d–%d: %w", ErrAudit, first.Seq, last.Seq, err)
		}
		return nil
	}
	for i := range evs {
		if _, err := w.exec(ctx, sqliteInsertAudit, auditArgs(&evs[i])...); err != nil {
			return fmt.Errorf("%w: insert event %d: %w", ErrAudit, evs[i].Seq, err)
		}
	}
	if err := moveHead(ctx, w.exec, first.Seq-1, last.Seq, last.Hash); err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return nil
}

// pgAuditRowsArgs returns the arguments of pgInsertAuditRows for evs:
// one slice per column, in auditColumns order, then the head's new seq and
// hash, where it must be, and how many rows must go in.
func pgAuditRowsArgs(evs []AuditEvent) []any {
	n := len(evs)
	seq, at := make([]int64, n), make([]int64, n)
	var text [11][]string
	for i := range text {
		text[i] = make([]string, n)
	}
	for i := range evs {
		ev := &evs[i]
		seq[i], at[i] = ev.Seq, ev.AtUnixUS
		for j, v := range [...]string{ev.Type, string(ev.ActorType), ev.ActorID, ev.ActorDisplay, ev.RequestID, ev.Purpose, ev.Action, ev.PolicyRef, ev.Payload, ev.PrevHash, ev.Hash} {
			text[j][i] = v
		}
	}
	args := make([]any, 0, 17)
	args = append(args, seq, at)
	for _, t := range text {
		args = append(args, t)
	}
	first, last := &evs[0], &evs[n-1]
	return append(args, last.Seq, last.Hash, first.Seq-1, n)
}

// moveHead sets the head row to (seq, hash) if it still is at from.
func moveHead(ctx context.Context, exec execFunc, from, seq int64, hash string) error {
	res, err := exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ?`, seq, hash, from)
	if err != nil {
		return fmt.Errorf("audit: move chain head to %d: %w", seq, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("audit: chain head moved during append (seq %d)", from)
	}
	return nil
}

// Limits of an event written late (deferrable).
const (
	// maxDeferredKey bounds each indexed text field. PostgreSQL refuses a
	// btree entry over about 2.7 kB, and LOWER() (an index on the actor's
	// display name) can make UTF-8 text up to half as long again.
	maxDeferredKey = 1024
	// maxDeferredPurpose keeps the purpose's full-text vector far below
	// PostgreSQL's 1 MB limit for a tsvector.
	maxDeferredPurpose = 64 << 10
	// maxDeferredPayload bounds what a batch holds in memory per event.
	maxDeferredPayload = 1 << 20
)

// deferrable reports whether the database cannot refuse ev, so that
// writing it later, together with other jobs' events, cannot make another
// job fail: its sequence number follows the locked head and its hash is
// unique (it covers the previous one), so what remains is text that
// PostgreSQL would refuse — a NUL byte, invalid UTF-8, an index entry too
// large. Such an event is written at once instead, where a refusal fails
// its own job only. What can still fail at the late write (a lost
// connection, a full disk) would fail the batch's COMMIT as well.
func deferrable(ev *AuditEvent) bool {
	for _, s := range [...]string{ev.Type, string(ev.ActorType), ev.ActorID, ev.ActorDisplay, ev.RequestID, ev.Action, ev.PolicyRef, ev.PrevHash, ev.Hash} {
		if len(s) > maxDeferredKey || !storable(s) {
			return false
		}
	}
	return len(ev.Purpose) <= maxDeferredPurpose && storable(ev.Purpose) &&
		len(ev.Payload) <= maxDeferredPayload && storable(ev.Payload)
}

// storable reports whether PostgreSQL stores s as text: valid UTF-8
// without NUL.
func storable(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }
