package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// batch is one database transaction of the group committer and what its
// jobs share: the connection, the audit events appended but not yet
// written, and the savepoint of the job running now.
//
// Two things keep a batch cheap without weakening what a job is promised:
//
//   - Audit events are written late. An event the database cannot refuse
//     (deferrable) is kept in pending and written with the events of
//     neighbouring jobs in one statement: before the next statement any job
//     sends (so every read sees it), or at commit. A job that only appends
//     sends nothing of its own to the database.
//   - A job's savepoint is taken lazily, just before its first statement.
//     A job that sends none has nothing in the database to undo: if it
//     fails, dropping its pending events and restoring the transaction-local
//     values (the chain head) undoes it.
//
// Events of earlier jobs are written before a job's savepoint, and the
// job's own after it, so rolling a job back never takes another's events
// with it.
type batch struct {
	w       *writeConn
	dialect Dialect
	// pending are audit events appended and not yet written, in chain order.
	pending []AuditEvent
	// mark counts the events of pending that belong to earlier jobs.
	mark int
	// savepoint says whether the running job needs a savepoint before its
	// first statement (every job but a batch's first, whose failure rolls
	// back the whole transaction), and taken whether it has one.
	savepoint, taken bool
	// jobErr is a failure the running job must report even if it returns
	// nil (its events could not be written).
	jobErr error
	// broken is set when the transaction itself can no longer be trusted;
	// every job of the batch then fails with it.
	broken error
}

// jobSavepoint is the one savepoint name: a savepoint is rolled back to or
// released before the next job takes one (SQLite), or the newest of that
// name is the one a rollback goes to (PostgreSQL keeps older ones), so one
// name serves every job — and stays one prepared statement.
const jobSavepoint = "cs_job"

// startJob prepares the batch for the next job.
func (b *batch) startJob(savepoint bool) {
	b.mark = len(b.pending)
	b.savepoint, b.taken, b.jobErr = savepoint, false, nil
}

// before runs ahead of each statement a job sends: the events of earlier
// jobs are written, the job's savepoint taken if it has none yet, and then
// the job's own pending events written inside it.
func (b *batch) before(ctx context.Context) error {
	if b.broken != nil {
		return b.broken
	}
	if b.savepoint && !b.taken {
		if err := b.flushThen(ctx, b.mark, "SAVEPOINT "+jobSavepoint); err != nil {
			b.broken = err
			return err
		}
		b.taken = true
	}
	if err := b.flush(ctx, len(b.pending)); err != nil {
		// Inside the job's savepoint (or the batch's first job): the job
		// fails alone, even if it ignores the error.
		b.jobErr = err
		return err
	}
	return nil
}

// undoJob takes a failed job's changes out of the batch: its pending
// events, and what it wrote since its savepoint. The caller restores the
// transaction-local values.
func (b *batch) undoJob(ctx context.Context) error {
	b.pending = b.pending[:b.mark]
	if !b.taken {
		return nil
	}
	if _, err := b.w.exec(ctx, "ROLLBACK TO SAVEPOINT "+jobSavepoint); err != nil {
		return fmt.Errorf("store: rollback to savepoint: %w", err)
	}
	return b.release(ctx)
}

// endJob ends a successful job's savepoint.
func (b *batch) endJob(ctx context.Context) error {
	if !b.taken {
		return nil
	}
	return b.release(ctx)
}

// release ends the job's savepoint on SQLite once the job is done (kept or
// rolled back), so at most one savepoint is open at a time. Savepoints left
// open stack up over the batch, and SQLite copies every page a job touches
// into the statement journal once per open savepoint: with the same few
// pages (table and index tails, the audit chain) touched by every job, that
// copying cost about as much as the jobs themselves. PostgreSQL keeps no
// such journal, and there the RELEASE would only add a round trip per job,
// so it is skipped.
func (b *batch) release(ctx context.Context) error {
	if b.dialect != DialectSQLite {
		return nil
	}
	if _, err := b.w.exec(ctx, "RELEASE SAVEPOINT "+jobSavepoint); err != nil {
		return fmt.Errorf("store: release savepoint: %w", err)
	}
	return nil
}

// commit writes the events still pending and commits.
func (b *batch) commit(ctx context.Context) error {
	if b.broken == nil {
		b.broken = b.flushThen(ctx, len(b.pending), "COMMIT")
		if b.broken == nil {
			return nil
		}
	}
	// After a failed COMMIT the transaction may still be open (SQLite
	// keeps it on some errors; PostgreSQL skips a pipelined COMMIT after a
	// failed insert): roll it back, or drop the connection.
	b.w.rollback()
	return b.broken
}

// flush writes the first n pending events and moves the head row to the
// last of them.
func (b *batch) flush(ctx context.Context, n int) error {
	if n == 0 {
		return nil
	}
	if err := writeAuditRows(ctx, b.w, b.dialect, b.pending[:n]); err != nil {
		return err
	}
	b.drop(n)
	return nil
}

// flushThen writes the first n pending events and runs tail: in one round
// trip on PostgreSQL (pipeline_pg.go).
func (b *batch) flushThen(ctx context.Context, n int, tail string) error {
	if b.dialect == DialectPostgres {
		if err := b.w.pgFlushThen(ctx, b.pending[:n], tail); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		b.drop(n)
		return nil
	}
	if err := b.flush(ctx, n); err != nil {
		return err
	}
	if _, err := b.w.exec(ctx, tail); err != nil {
		return fmt.Errorf("store: %s: %w", strings.ToLower(tail), err)
	}
	return nil
}

// drop forgets the first n pending events, written now.
func (b *batch) drop(n int) {
	b.pending = append(b.pending[:0], b.pending[n:]...)
	b.mark = max(0, b.mark-n)
}

// batchConn is the connection a job's *gorm.DB uses: gorm's statements
// and the raw ones of the audit chain go through before, then to the
// committer's connection with its prepared statements.
type batchConn struct{ b *batch }

// errNotYours refuses a job's attempt to end the batch's transaction.
var errNotYours = errors.New("store: a transaction run by WithTx is committed or rolled back by the store, not by its function")

// PrepareContext implements gorm.ConnPool.
func (c batchConn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := c.b.before(ctx); err != nil {
		return nil, err
	}
	return c.b.w.conn.PrepareContext(ctx, query)
}

// ExecContext implements gorm.ConnPool.
func (c batchConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := c.b.before(ctx); err != nil {
		return nil, err
	}
	return c.b.w.exec(ctx, query, args...)
}

// QueryContext implements gorm.ConnPool.
func (c batchConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := c.b.before(ctx); err != nil {
		return nil, err
	}
	return c.b.w.query(ctx, query, args...)
}

// QueryRowContext implements gorm.ConnPool. A *sql.Row cannot be made to
// carry an error from outside database/sql, so when before fails the row
// is one whose context has ended; the job fails with before's error anyway
// (jobErr or broken).
func (c batchConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := c.b.before(ctx); err != nil {
		ended, cancel := context.WithCancel(ctx)
		cancel()
		return c.b.w.conn.QueryRowContext(ended, query, args...)
	}
	return c.b.w.queryRow(ctx, query, args...)
}

// Commit implements gorm.TxCommitter, so gorm treats a job's *gorm.DB as
// a transaction (a nested tx.Transaction uses a savepoint), but a job
// cannot commit the batch.
func (batchConn) Commit() error { return errNotYours }

// Rollback implements gorm.TxCommitter; see Commit.
func (batchConn) Rollback() error { return errNotYours }
