package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// writeConn is the committer's own connection. Every write transaction of
// a process runs on it, one after another (committer.go), so the
// statements they repeat — the audit append, the chain head, a request's
// insert and update — are prepared on it once and reused for as long as it
// lives, instead of being parsed again in every transaction.
//
// On SQLite that parse was most of an append's work (the driver prepares,
// steps and finalises a statement on every call); writeConn keeps the
// prepared statements itself. On PostgreSQL pgx already prepares each
// distinct statement once per connection (its statement cache), so
// statements go to the connection as they are and are prepared there.
//
// Transactions are begun and ended with plain BEGIN/COMMIT on the
// connection rather than through database/sql's Tx, because database/sql
// re-prepares a connection's statement in every Tx that uses it. Only the
// committer goroutine uses a writeConn.
type writeConn struct {
	db      *sql.DB
	dialect Dialect
	// conn is nil until first use and after a connection was discarded.
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// maxPrepared bounds the statements kept prepared: Countersign's writes use
// a few dozen distinct statements, and a statement whose text changes with
// its input (an IN list, a batch of rows) must not fill memory.
const maxPrepared = 128

// rollbackTimeout bounds a ROLLBACK issued after the batch's own deadline
// may have passed.
const rollbackTimeout = 5 * time.Second

// begin starts a write transaction and reads the chain head, locking it
// on PostgreSQL (lock order: chainhead.go), taking a connection first if
// the committer has none. A connection the server closed while it was
// idle (a restart, a network cut) fails here, before anything was
// written; that one case is retried once on a fresh connection.
func (w *writeConn) begin(ctx context.Context) (ChainHead, error) {
	for attempt := 0; ; attempt++ {
		if w.conn == nil {
			c, err := w.db.Conn(ctx)
			if err != nil {
				return ChainHead{}, fmt.Errorf("store: write connection: %w", err)
			}
			w.conn, w.stmts = c, map[string]*sql.Stmt{}
		}
		h, err := w.beginOnce(ctx)
		if err == nil {
			return h, nil
		}
		bad := errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, errBadPgConn)
		if bad {
			w.discard()
		} else {
			w.rollback()
		}
		if attempt > 0 || !bad || ctx.Err() != nil {
			return ChainHead{}, fmt.Errorf("store: %w", err)
		}
	}
}

func (w *writeConn) beginOnce(ctx context.Context) (ChainHead, error) {
	if w.dialect == DialectPostgres {
		return w.pgBeginLockHead(ctx)
	}
	// BEGIN IMMEDIATE: the write lock now, so no transaction has to
	// upgrade halfway.
	if _, err := w.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return ChainHead{}, fmt.Errorf("begin: %w", err)
	}
	return lockChainHead(ctx, w.queryRow, false)
}

// rollback ends the open transaction without its changes. A connection
// that cannot roll back is in an unknown state: it is closed (which ends
// the transaction on either database) and the next batch takes a new one.
func (w *writeConn) rollback() {
	if w.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if _, err := w.exec(ctx, "ROLLBACK"); err != nil {
		w.discard()
	}
}

// discard closes the connection for good instead of returning it to the
// pool, where a transaction left open on it would be found by a reader.
func (w *writeConn) discard() {
	if w.conn == nil {
		return
	}
	w.closeStmts()
	_ = w.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = w.conn.Close()
	w.conn = nil
}

// close releases the connection (between batches only).
func (w *writeConn) close() {
	if w.conn == nil {
		return
	}
	w.closeStmts()
	_ = w.conn.Close()
	w.conn = nil
}

func (w *writeConn) closeStmts() {
	for _, st := range w.stmts {
		_ = st.Close()
	}
	w.stmts = nil
}

// stmt returns query prepared on the connection, or nil when it runs
// unprepared: always on PostgreSQL (see writeConn), and on SQLite once
// maxPrepared statements are kept or when it does not prepare (a script of
// several statements runs as it is).
func (w *writeConn) stmt(ctx context.Context, query string) *sql.Stmt {
	if w.dialect != DialectSQLite {
		return nil
	}
	if st, ok := w.stmts[query]; ok {
		return st
	}
	if len(w.stmts) >= maxPrepared {
		return nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		// Run it unprepared: the error, if it is one, comes from there.
		return nil
	}
	w.stmts[query] = st
	return st
}

func (w *writeConn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := w.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return w.conn.ExecContext(ctx, query, args...)
}

func (w *writeConn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return w.conn.QueryContext(ctx, query, args...)
}

func (w *writeConn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return w.conn.QueryRowContext(ctx, query, args...)
}
