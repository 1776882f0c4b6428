package models

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotWritable means the database answers but a write cannot commit now:
// a read-only file or database, a full disk, a standby server.
var ErrNotWritable = errors.New("the database cannot be written")

// minFreeBytes is the free space below which a SQLite store reports itself
// not ready: a write that finds the WAL full and the disk too fails, and
// some writes (a request with a long conversation, a checkpoint) need more
// than the probe's one page.
const minFreeBytes = 16 << 20

// Ready reports whether the store can commit a write now, for the
// readiness probe and for serve's start. Answering a query is not enough:
// a SQLite file that has become read-only, or whose disk is full, still
// answers every read while every change fails.
//
//   - SQLite: the disk holding the database must have minFreeBytes free,
//     and a one-row write must commit through the group committer (which
//     also proves the committer is not stuck).
//   - PostgreSQL: the server must answer and accept writes (not a standby
//     in recovery, not read-only by default); a write probe there would
//     only add WAL on every probe, and the server reports a full disk on
//     its own.
func (s *Store) Ready(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: database does not answer: %w", err)
	}
	if s.dialect == DialectPostgres {
		var recovery bool
		var readOnly string
		row := s.db.WithContext(ctx).Raw(`SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')`).Row()
		if err := row.Scan(&recovery, &readOnly); err != nil {
			return fmt.Errorf("store: readiness query: %w", err)
		}
		if recovery || readOnly == "on" {
			return fmt.Errorf("store: the PostgreSQL server is a standby or read-only: %w", ErrNotWritable)
		}
		return nil
	}
	if free, ok := freeBytes(filepath.Dir(s.path)); ok && free < minFreeBytes {
		return fmt.Errorf("store: %d bytes free on the disk holding %s: %w", free, s.path, ErrNotWritable)
	}
	err = s.WithTx(ctx, func(tx *gorm.DB) error {
		// The failure is the answer: it is not logged as a failed query.
		return tx.Session(&gorm.Session{Logger: logger.Discard}).Exec(`INSERT INTO store_probe (id, at_unix_us) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at_unix_us = excluded.at_unix_us`,
			time.Now().UnixMicro()).Error
	})
	if err != nil {
		return fmt.Errorf("store: write probe on %s: %w: %w", s.path, ErrNotWritable, err)
	}
	return nil
}
