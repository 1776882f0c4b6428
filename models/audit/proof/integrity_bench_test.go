package proof_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

// Benchmarks for docs/BENCHMARKS.md ("Scale (issue 16): integrity page
// after restart"). Run:
//
//	go test ./models/audit/proof -run '^$' -bench 'IntegrityFirstView' -benchtime 200x -timeout 60m
//
// COUNTERSIGN_BENCH_EVENTS=N changes the log's size (default 1,000,000).
// The first run of each backend builds the log once and keeps it (SQLite
// under the user cache directory, PostgreSQL in its own schema).

// benchTreeVersion names the kept databases; raise it when buildTreeLog
// changes what it writes.
const benchTreeVersion = 1

func benchTreeEvents() int {
	if v, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_EVENTS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// BenchmarkIntegrityFirstViewAfterRestart is the first view of
// /audit/integrity after a start: each iteration is a new checkpointer and
// an empty integrity cache (a restarted process) over a log of
// COUNTERSIGN_BENCH_EVENTS events with a signed checkpoint at its head,
// answering VerifyLatest. Work started off the request path is not run.
// full-pass is what the first view cost before the stored tree state (the
// whole log re-read), for comparison.
func BenchmarkIntegrityFirstViewAfterRestart(b *testing.B) {
	n := benchTreeEvents()
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			s, key := largeTreeLog(b, backend, n)
			ctx := context.Background()
			b.Run("stored-state", func(b *testing.B) {
				var leaves, rows int64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c, err := proof.NewCheckpointer(s, key)
					if err != nil {
						b.Fatal(err)
					}
					ic := proof.NewIntegrityCache(c, 0)
					ic.SetBackground(func(func()) {})
					cp, err := ic.VerifyLatest(ctx)
					if err != nil || cp.Size != int64(n) {
						b.Fatalf("first view: %v %+v", err, cp)
					}
					r := c.Tree().Reads()
					leaves, rows = leaves+r.Leaves, rows+r.NodeRows
				}
				b.ReportMetric(float64(leaves)/float64(b.N), "leaves/op")
				b.ReportMetric(float64(rows)/float64(b.N), "noderows/op")
			})
			b.Run("full-pass", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c, err := proof.NewCheckpointer(s, key)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := c.VerifyLatest(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// largeTreeLog opens (building it the first time) a store of n events with
// a checkpoint at the head, signed by a key kept beside it.
func largeTreeLog(b *testing.B, backend string, n int) (*models.Store, *proof.Key) {
	b.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "countersign-bench")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	var dsn string
	switch backend {
	case "sqlite":
		dsn = "sqlite:" + filepath.Join(dir, fmt.Sprintf("tree-%d-g%d.db", n, benchTreeVersion))
	case "postgres":
		base := storetest.PostgresBaseDSN()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			b.Skipf("no PostgreSQL at %s: %v", base, err)
		}
		schema := fmt.Sprintf("cs_bench_tree_%d_g%d", n, benchTreeVersion)
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			b.Fatal(err)
		}
		_ = conn.Close(ctx)
		u, err := url.Parse(base)
		if err != nil {
			b.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	keyDir := filepath.Join(dir, "tree-key")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		b.Fatal(err)
	}
	key, err := proof.LoadOrCreateKey(keyDir, "bench.countersign.test/audit")
	if err != nil {
		b.Fatal(err)
	}
	s := storetest.OpenDSN(b, dsn)
	var have int64
	if err := s.DB(context.Background()).Raw(`SELECT seq FROM audit_head WHERE id = 1`).Scan(&have).Error; err != nil {
		b.Fatal(err)
	}
	if have != int64(n) {
		if have != 0 {
			b.Fatalf("benchmark database %s holds %d events, want 0 or %d; delete it", dsn, have, n)
		}
		start := time.Now()
		if err := buildTreeLog(s, n); err != nil {
			b.Fatalf("build benchmark log: %v", err)
		}
		b.Logf("built %d events on %s in %s", n, backend, time.Since(start).Round(time.Second))
	}
	c, err := proof.NewCheckpointer(s, key)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Checkpoint(context.Background()); err != nil { // returns the stored one once signed
		b.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		b.Logf("signed the first checkpoint over %d events in %s", n, d.Round(time.Millisecond))
	}
	return s, key
}

// buildTreeLog writes n chained events in one transaction with multi-row
// inserts (the search index is filled by the same statements, as in
// production), then sets the chain head.
func buildTreeLog(s *models.Store, n int) error {
	db, err := s.SQL()
	if err != nil {
		return err
	}
	pg := s.Dialect() == models.DialectPostgres
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	const cols, perInsert = 13, 400
	hasher := audit.NewHasher()
	prev := audit.GenesisHash
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		var q strings.Builder
		q.WriteString(`INSERT INTO audit_events (` + audit.EventColumns + `) VALUES `)
		for r := 0; r < len(args)/cols; r++ {
			if r > 0 {
				q.WriteString(",")
			}
			q.WriteString("(")
			for c := 0; c < cols; c++ {
				if c > 0 {
					q.WriteString(",")
				}
				if pg {
					q.WriteString("$" + strconv.Itoa(r*cols+c+1))
				} else {
					q.WriteString("?")
				}
			}
			q.WriteString(")")
		}
		_, err := tx.ExecContext(ctx, q.String(), args...)
		args = args[:0]
		return err
	}
	for seq := int64(1); seq <= int64(n); seq++ {
		req := fmt.Sprintf("REQ-T%08d", seq/4)
		ev := &models.AuditEvent{Seq: seq, AtUnixUS: base.Add(time.Duration(seq) * 30 * time.Second).UnixMicro(), Type: "request.approved",
			ActorType: models.ActorHuman, ActorID: "u-0001", ActorDisplay: "alice", RequestID: req, Purpose: "INC-4211 restart api",
			Action: "restart", PolicyRef: "prod", Payload: fmt.Sprintf(`{"n":%d}`, seq), PrevHash: prev}
		ev.Hash = string(hasher.Sum(audit.FieldsOf(ev)))
		prev = ev.Hash
		args = append(args, ev.Seq, ev.AtUnixUS, ev.Type, string(ev.ActorType), ev.ActorID, ev.ActorDisplay, ev.RequestID, ev.Purpose,
			ev.Action, ev.PolicyRef, ev.Payload, ev.PrevHash, ev.Hash)
		if len(args) == cols*perInsert {
			if err := flush(); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	q := `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`
	if pg {
		q = `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`
	}
	if _, err := tx.ExecContext(ctx, q, n, prev); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return settle(ctx, db, pg)
}

// settle analyzes the tables and, on SQLite, folds the write-ahead log into
// the file, so reads are measured as a long-running server sees them.
func settle(ctx context.Context, db *sql.DB, pg bool) error {
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil || pg {
		return err
	}
	_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}
