package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// BenchmarkChainVsBare puts the audit append and the bare insert side by
// side in one run, interleaved round by round, so a ratio is taken from two
// measurements made under the same load (the machine is shared). Run:
//
//	go test ./models/audit -run '^$' -bench ChainVsBare -benchtime 2000x
//
// COUNTERSIGN_BENCH_ROUNDS sets the rounds per writer count (default 3).
// Each round measures a 4 KiB write+fsync, then runs "bare" then
// "append"; the ratio of their rows/s is the
// figure docs/BENCHMARKS.md reports, not either rate alone, which moves
// with the disk's fsync latency.
func BenchmarkChainVsBare(b *testing.B) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	benchBackends(b, func(b *testing.B, s *models.Store) {
		bare := newBareTable(b, s)
		dir := b.TempDir()
		for _, w := range []int{1, 8} {
			for r := 1; r <= rounds; r++ {
				// The disk's answer time in the same round: a single
				// writer's rates follow it, the ratios much less.
				b.Run(fmt.Sprintf("writers=%d/round=%d/fsync-4KiB", w, r), func(b *testing.B) { benchFsync(b, dir) })
				b.Run(fmt.Sprintf("writers=%d/round=%d/bare", w, r), func(b *testing.B) {
					runWriters(b, w, bare.insert)
				})
				b.Run(fmt.Sprintf("writers=%d/round=%d/append", w, r), func(b *testing.B) {
					runWriters(b, w, func(i int64) error {
						return s.WithTx(context.Background(), func(tx *gorm.DB) error {
							_, err := audit.Append(tx, time.Now(), benchEntry(i))
							return err
						})
					})
				})
			}
		}
	})
}

// bareTable is a copy of audit_events with every index (and, on SQLite,
// the full-text table and its triggers; on PostgreSQL the generated
// full-text column) but no chain: the reference an append is measured
// against. The copy is taken from the live schema, so it keeps the same
// indexes when a migration changes them.
type bareTable struct {
	db     *sql.DB
	insert func(i int64) error
}

func newBareTable(b *testing.B, s *models.Store) *bareTable {
	b.Helper()
	ctx := context.Background()
	db, err := s.SQL()
	if err != nil {
		b.Fatal(err)
	}
	if s.Dialect() == models.DialectPostgres {
		if _, err := db.ExecContext(ctx, `CREATE TABLE bare_events (LIKE audit_events INCLUDING ALL)`); err != nil {
			b.Fatal(err)
		}
		// LIKE copies no triggers: the search rows (audit_events_people
		// and audit_events_words, filled by a statement trigger) are
		// copied by hand, so the bare insert pays for them as the append
		// does.
		var fn string
		if err := db.QueryRowContext(ctx, `SELECT pg_get_functiondef('audit_events_people_add'::regproc)`).Scan(&fn); err != nil {
			b.Fatal(err)
		}
		for _, q := range []string{
			`CREATE TABLE bare_events_people (LIKE audit_events_people INCLUDING ALL)`,
			`CREATE TABLE bare_events_words (LIKE audit_events_words INCLUDING ALL)`,
			strings.NewReplacer("audit_events_people", "bare_events_people", "audit_events_words", "bare_events_words").Replace(fn),
			`CREATE TRIGGER bare_events_people_insert AFTER INSERT ON bare_events
				REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bare_events_people_add()`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	} else {
		rows, err := db.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master
			WHERE tbl_name IN ('audit_events', 'audit_search', 'audit_events_people') AND sql IS NOT NULL AND name NOT LIKE 'audit_search_%'
			ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, name`)
		if err != nil {
			b.Fatal(err)
		}
		var ddl []string
		for rows.Next() {
			var typ, name, text string
			if err := rows.Scan(&typ, &name, &text); err != nil {
				b.Fatal(err)
			}
			text = strings.NewReplacer("audit_events_people", "bare_events_people", "audit_events", "bare_events", "audit_search", "bare_search").Replace(text)
			ddl = append(ddl, text)
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		if len(ddl) < 3 {
			b.Fatalf("copied %d schema objects of audit_events, want the table, its indexes and triggers", len(ddl))
		}
		for _, q := range ddl {
			if _, err := db.ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}
	insert := `INSERT INTO bare_events (` + audit.EventColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`
	if s.Dialect() == models.DialectPostgres {
		insert = `INSERT INTO bare_events (` + audit.EventColumns + `) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`
	}
	var seq atomic.Int64
	return &bareTable{db: db, insert: func(i int64) error {
		e := benchEntry(i)
		n := seq.Add(1)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(insert, n, time.Now().UnixMicro(), e.Type, string(e.Actor.Type), e.Actor.ID, e.Actor.Display, e.RequestID, e.Purpose, e.Action, e.PolicyRef,
			`{"content_hash":"`+strings.Repeat("ab", 32)+`","from":"pending","n":`+strconv.FormatInt(i, 10)+`,"to":"approved"}`,
			fmt.Sprintf("%064x", n-1), fmt.Sprintf("%064x", n)); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}}
}

// benchFsync writes 4 KiB and fsyncs it, as a commit does, in dir (the
// SQLite database's disk; PostgreSQL's WAL is on the same disk here).
func benchFsync(b *testing.B, dir string) {
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for i := 0; i < b.N; i++ {
		if _, err := f.WriteAt(page, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// parallelism is what SetParallelism needs for writers goroutines.
func parallelism(writers int) int {
	p := runtime.GOMAXPROCS(0)
	return (writers + p - 1) / p
}
