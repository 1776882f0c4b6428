package search

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// Tidier keeps SQLite's full-text index (audit_search) in one segment.
//
// FTS5 writes each transaction's words as a new segment and merges them by
// level as they pile up; with one event per transaction a log settles at
// 12-20 segments (measured: 200,000 single-event inserts), and every word
// of a search is looked up in each of them. Merged into one, the same
// two-word search costs about 40 % less (2.2 ms to 1.3 ms at 200,000
// rows; docs/BENCHMARKS.md). FTS5's "optimize" does that in one write
// transaction that holds the database's write lock for seconds at 1,000,000
// events; the Tidier does it in small steps (FTS5's incremental "merge"),
// each its own short write transaction through the store, pausing between
// them so appends go first.
//
// PostgreSQL needs none of this: its GIN index merges its pending list when
// autovacuum runs.
type Tidier struct {
	store *models.Store
	cfg   TidierConfig
}

// TidierConfig tunes a Tidier; zero values take the defaults.
type TidierConfig struct {
	// Pages is the work of one step, in index pages written (default 32:
	// 10-25 ms of write lock on a 2-vCPU machine).
	Pages int
	// Pause is the time between steps (default 100 ms).
	Pause time.Duration
	// MaxSteps bounds one Tidy call (default 2,000); the next call goes on.
	MaxSteps int
	// Logger receives a line per tidy that did work (default: discard).
	Logger *slog.Logger
}

// NewTidier returns a Tidier over store.
func NewTidier(store *models.Store, cfg TidierConfig) *Tidier {
	if cfg.Pages <= 0 {
		cfg.Pages = 32
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 100 * time.Millisecond
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = 2000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Tidier{store: store, cfg: cfg}
}

// TidyReport is what one Tidy did.
type TidyReport struct {
	// Before and After count the index's segments.
	Before, After int
	// Steps counts the merge steps run.
	Steps int
}

// Segments counts the segments of the full-text index (0 on PostgreSQL).
func (t *Tidier) Segments(ctx context.Context) (int, error) {
	if t.store.Dialect() != models.DialectSQLite {
		return 0, nil
	}
	var n int
	if err := t.store.DB(ctx).Raw(`SELECT COUNT(DISTINCT segid) FROM audit_search_idx`).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("audit search: count index segments: %w", err)
	}
	return n, nil
}

// Tidy merges the index step by step until it is one segment, ctx ends or
// MaxSteps steps have run. Searches and appends go on meanwhile: each step
// is one short write transaction, and results are the same before, during
// and after.
func (t *Tidier) Tidy(ctx context.Context) (TidyReport, error) {
	var rep TidyReport
	var err error
	if rep.Before, err = t.Segments(ctx); err != nil || rep.Before <= 1 {
		rep.After = rep.Before
		return rep, err
	}
	// A negative page count starts a full merge of every level; positive
	// counts continue it. A step that changed nothing means no merge was
	// in progress (a write since may have added a segment), so the next
	// one starts again.
	start := true
	for rep.Steps < t.cfg.MaxSteps {
		pages := t.cfg.Pages
		if start {
			pages = -pages
		}
		worked, err := t.step(ctx, pages)
		if err != nil {
			return rep, err
		}
		rep.Steps++
		segs, err := t.Segments(ctx)
		if err != nil {
			return rep, err
		}
		rep.After = segs
		if segs <= 1 {
			break
		}
		start = !worked
		select {
		case <-ctx.Done():
			return rep, nil
		case <-time.After(t.cfg.Pause):
		}
	}
	return rep, nil
}

// step runs one FTS5 merge of about |pages| pages and reports whether it
// wrote anything.
func (t *Tidier) step(ctx context.Context, pages int) (bool, error) {
	var worked bool
	err := t.store.WithTx(ctx, func(tx *gorm.DB) error {
		var before, after int64
		if err := tx.Raw(`SELECT total_changes()`).Scan(&before).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO audit_search (audit_search, rank) VALUES ('merge', ?)`, pages).Error; err != nil {
			return err
		}
		if err := tx.Raw(`SELECT total_changes()`).Scan(&after).Error; err != nil {
			return err
		}
		// The command itself counts as one change; a merge writes more.
		worked = after-before > 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("audit search: merge index: %w", err)
	}
	return worked, nil
}

// Run tidies at start and then every interval until ctx ends. Failures are
// logged and retried at the next interval: an untidy index is slower, not
// wrong.
func (t *Tidier) Run(ctx context.Context, every time.Duration) {
	if t.store.Dialect() != models.DialectSQLite {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		rep, err := t.Tidy(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			t.cfg.Logger.Warn("audit search index merge failed; searches stay correct, only slower", "err", err)
		case rep.Steps > 0:
			t.cfg.Logger.Info("audit search index merged", "segments_before", rep.Before, "segments_after", rep.After, "steps", rep.Steps)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
