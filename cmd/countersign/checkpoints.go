package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/proof"
)

// searchTidyInterval is how often the audit search's full-text index is
// merged back into one segment (search.Tidier); between two runs a busy
// server adds a few small segments, which cost little.
const searchTidyInterval = 10 * time.Minute

// checkpointer loads (or creates, in data_dir, for origin) the audit signing
// key and returns the checkpointer that signs the log head.
func checkpointer(store *models.Store, cfg Config, origin string) (*proof.Checkpointer, error) {
	var key *proof.Key
	var err error
	if cfg.Audit.CheckpointKey != "" {
		key, err = proof.ParseKey(cfg.Audit.CheckpointKey)
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, &startupError{err: fmt.Errorf("audit key: data directory: %w", err)}
		}
		key, err = proof.LoadOrCreateKey(cfg.DataDir, origin)
	}
	if err != nil {
		return nil, &startupError{err: fmt.Errorf("audit key: %w", err)}
	}
	cp, err := proof.NewCheckpointer(store, key)
	if err != nil {
		return nil, &startupError{err: fmt.Errorf("audit checkpoints: %w", err)}
	}
	return cp, nil
}

// signCheckpoints signs the log head at start and every interval until ctx
// ends. A failure is logged as an error: it means the chain no longer
// verifies (or the database is down), which operators must look at.
func signCheckpoints(ctx context.Context, cp *proof.Checkpointer, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		c, err := cp.Checkpoint(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Error("audit checkpoint failed", "err", err)
		default:
			log.Debug("audit checkpoint", "size", c.Size)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
