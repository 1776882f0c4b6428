package models

import (
	"context"

	"gorm.io/gorm"
)

// Queued reports how many transactions wait for the committer (tests use
// it to put jobs into one batch on purpose).
func (s *Store) Queued() int { return len(s.queue) }

// Prepared returns the statements the committer keeps prepared. It asks
// the committer (the only goroutine that touches them) through a
// transaction of its own.
func (s *Store) Prepared(ctx context.Context) (stmts []string, err error) {
	err = s.WithTx(ctx, func(*gorm.DB) error {
		for q := range s.w.stmts {
			stmts = append(stmts, q)
		}
		return nil
	})
	return stmts, err
}
