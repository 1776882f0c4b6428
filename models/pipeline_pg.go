package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL pipelining.
//
// A batch on PostgreSQL costs round trips, not CPU: BEGIN, the head lock,
// the audit rows, COMMIT. Each pair whose second half does not depend on
// the first's answer is sent as one pgx batch (the extended protocol's
// pipeline), so a batch of appends costs two round trips and one WAL
// flush however many jobs it carries:
//
//   - BEGIN and the head lock (SELECT … FOR UPDATE): a BEGIN inside a
//     pipeline opens an ordinary transaction block that outlives the
//     pipeline's Sync;
//   - the pending audit rows and COMMIT: if the insert fails, the server
//     skips the COMMIT (everything up to the Sync), the transaction stays
//     open and aborted, and the committer rolls it back — nothing commits.
//     pgInsertAuditRows fails, rather than reporting a count, when the
//     head was not where the rows follow, so a COMMIT never follows a
//     partial write;
//   - the earlier jobs' pending rows and a job's SAVEPOINT, before the
//     job's first statement: if the insert fails, the SAVEPOINT is skipped
//     and the batch fails (batch.before), as it would have unpipelined.

// pgBeginLockHead begins a transaction and locks the chain head, in one
// round trip.
func (w *writeConn) pgBeginLockHead(ctx context.Context) (ChainHead, error) {
	var h ChainHead
	err := w.pgx(func(c *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(chainHeadSQL + ` FOR UPDATE`)
		br := c.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("begin: %w", err)
		}
		if err := br.QueryRow().Scan(&h.Seq, &h.Hash); err != nil {
			_ = br.Close()
			if errors.Is(err, pgx.ErrNoRows) {
				return errors.New("audit: chain head row is missing")
			}
			return fmt.Errorf("audit: lock chain head: %w", err)
		}
		return br.Close()
	})
	return h, err
}

// pgFlushThen writes evs (none is fine) and runs tail (COMMIT, or the
// next job's SAVEPOINT), in one round trip.
func (w *writeConn) pgFlushThen(ctx context.Context, evs []AuditEvent, tail string) error {
	return w.pgx(func(c *pgx.Conn) error {
		b := &pgx.Batch{}
		if len(evs) > 0 {
			b.Queue(pgInsertAuditRows, pgAuditRowsArgs(evs)...)
		}
		b.Queue(tail)
		br := c.SendBatch(ctx, b)
		if len(evs) > 0 {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				return fmt.Errorf("%w: append events %d–%d: %w", ErrAudit, evs[0].Seq, evs[len(evs)-1].Seq, err)
			}
		}
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("%s: %w", strings.ToLower(tail), err)
		}
		return br.Close()
	})
}

// errBadPgConn marks a connection pgx has closed.
var errBadPgConn = errors.New("store: the PostgreSQL connection is closed")

// pgx runs f on the pgx connection under the committer's *sql.Conn.
func (w *writeConn) pgx(f func(c *pgx.Conn) error) error {
	return w.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: PostgreSQL connection is a %T, not pgx's", dc)
		}
		c := sc.Conn()
		err := f(c)
		if err != nil && c.IsClosed() {
			return fmt.Errorf("%w: %w", errBadPgConn, err)
		}
		return err
	})
}
