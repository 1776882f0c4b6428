package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

// oneBatch runs jobs through s so that they share one commit, in order:
// the first holds the committer until the others are queued behind it.
// It returns each job's WithTx error.
func oneBatch(t *testing.T, s *models.Store, jobs ...func(tx *gorm.DB) error) []error {
	t.Helper()
	ctx := context.Background()
	errs := make([]error, len(jobs))
	done := make(chan int, len(jobs))
	release, started := make(chan struct{}), make(chan struct{})
	go func() {
		errs[0] = s.WithTx(ctx, func(tx *gorm.DB) error {
			close(started)
			<-release
			return jobs[0](tx)
		})
		done <- 0
	}()
	<-started
	for i := 1; i < len(jobs); i++ {
		go func() {
			errs[i] = s.WithTx(ctx, jobs[i])
			done <- i
		}()
		for s.Queued() != i {
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	for range jobs {
		<-done
	}
	return errs
}

// appendPurpose appends an event whose purpose is p.
func appendPurpose(tx *gorm.DB, p string) error {
	_, err := audit.Append(tx, time.Now(), audit.Entry{Type: "test", Actor: models.Actor{Type: models.ActorHuman, ID: "u"}, Purpose: p})
	return err
}

// refuseMarked makes the database refuse an audit event whose purpose is
// "refuse-me", as a failure no check of Countersign's can foresee.
func refuseMarked(t *testing.T, s *models.Store) {
	t.Helper()
	stmts := []string{`CREATE TRIGGER refuse_marked BEFORE INSERT ON audit_events WHEN new.purpose = 'refuse-me' BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END`}
	if s.Dialect() == models.DialectPostgres {
		stmts = []string{
			`CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.purpose = 'refuse-me' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER refuse_marked BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_marked()`,
		}
	}
	for _, q := range append(stmts, `CREATE TABLE job_rows (id INTEGER PRIMARY KEY)`) {
		if err := s.DB(context.Background()).Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// purposes returns the purposes of the chain's events in order, after
// checking that the chain verifies.
func purposes(t *testing.T, s *models.Store) []string {
	t.Helper()
	ctx := context.Background()
	db, _ := s.SQL()
	if rep, err := audit.Verify(ctx, db); err != nil || rep.Problem != nil {
		t.Fatalf("chain: %+v %v", rep, err)
	}
	var got []string
	if err := s.DB(ctx).Raw(`SELECT purpose FROM audit_events ORDER BY seq`).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	return got
}

// TestGroupCommitEventRefusedByDatabaseFailsItsJobAlone: in one batch, a
// job whose event the database refuses when it is written (late, before
// the job's next statement) fails alone and leaves nothing — not its
// event, not its other rows — even when it ignores the error; an event
// PostgreSQL cannot store (a NUL byte) is written at once and fails its
// job alone too. Every other job of the batch commits, in order.
func TestGroupCommitEventRefusedByDatabaseFailsItsJobAlone(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		refuseMarked(t, s)
		pg := s.Dialect() == models.DialectPostgres
		readBack := func(tx *gorm.DB) error {
			var n int64
			return tx.Raw(`SELECT count(*) FROM audit_events`).Scan(&n).Error
		}
		errs := oneBatch(t, s,
			func(tx *gorm.DB) error { return appendPurpose(tx, "a0") },
			func(tx *gorm.DB) error { return appendPurpose(tx, "a1") },
			func(tx *gorm.DB) error {
				if err := tx.Exec(`INSERT INTO job_rows (id) VALUES (2)`).Error; err != nil {
					return err
				}
				if err := appendPurpose(tx, "refuse-me"); err != nil {
					return fmt.Errorf("the refused event was written at once: %w", err)
				}
				return readBack(tx) // writes the event first: refused here
			},
			func(tx *gorm.DB) error {
				if err := appendPurpose(tx, "a3"); err != nil {
					return err
				}
				return readBack(tx)
			},
			func(tx *gorm.DB) error {
				if err := tx.Exec(`INSERT INTO job_rows (id) VALUES (4)`).Error; err != nil {
					return err
				}
				_ = appendPurpose(tx, "refuse-me")
				_ = readBack(tx) // the error is ignored: the job must fail all the same
				return nil
			},
			func(tx *gorm.DB) error {
				_, err := audit.Append(tx, time.Now(), audit.Entry{Type: "test", Actor: models.Actor{Type: models.ActorHuman, ID: "u", Display: "nul\x00byte"}, Purpose: "a5"})
				return err
			},
			func(tx *gorm.DB) error { return appendPurpose(tx, "a6") },
		)
		for i, err := range errs {
			wantFail := i == 2 || i == 4 || (i == 5 && pg)
			switch {
			case wantFail && err == nil:
				t.Errorf("job %d committed; want it refused", i)
			case !wantFail && err != nil:
				t.Errorf("job %d: %v", i, err)
			case (i == 2 || i == 4) && !strings.Contains(err.Error(), "refused by the test trigger"):
				t.Errorf("job %d failed for another reason: %v", i, err)
			}
		}
		want := []string{"a0", "a1", "a3", "a5", "a6"}
		if pg {
			want = []string{"a0", "a1", "a3", "a6"}
		}
		if got := purposes(t, s); !slices.Equal(got, want) {
			t.Fatalf("chain holds %v, want %v", got, want)
		}
		var rows []int
		if err := s.DB(context.Background()).Raw(`SELECT id FROM job_rows`).Scan(&rows).Error; err != nil || len(rows) != 0 {
			t.Fatalf("failed jobs left rows %v (%v)", rows, err)
		}
	})
}

// TestGroupCommitRefusalAfterTheJobCommitsNothing: an event that was the
// last thing its job did is written after the job has ended — at commit,
// or before the next job's first statement. If the database refuses it
// there, the whole batch fails: no caller is told its change committed,
// none of the batch is stored, and the next transaction commits normally.
// Countersign's own events cannot be refused there (models.deferrable);
// the test trigger stands for a failure nothing can foresee.
func TestGroupCommitRefusalAfterTheJobCommitsNothing(t *testing.T) {
	statement := func(tx *gorm.DB) error { return tx.Exec(`INSERT INTO job_rows (id) VALUES (1)`).Error }
	for name, next := range map[string]func(tx *gorm.DB) error{
		"at commit":                func(tx *gorm.DB) error { return appendPurpose(tx, "a2") },
		"before a later statement": statement,
	} {
		t.Run(name, func(t *testing.T) {
			storetest.EachStore(t, func(t *testing.T, s *models.Store) {
				refuseMarked(t, s)
				errs := oneBatch(t, s,
					func(tx *gorm.DB) error { return appendPurpose(tx, "a0") },
					func(tx *gorm.DB) error { return appendPurpose(tx, "refuse-me") },
					next,
				)
				for i, err := range errs {
					if err == nil || !strings.Contains(err.Error(), "refused by the test trigger") {
						t.Errorf("job %d: %v; want the refusal", i, err)
					}
				}
				if err := s.WithTx(context.Background(), func(tx *gorm.DB) error { return appendPurpose(tx, "after") }); err != nil {
					t.Fatal(err)
				}
				if got := purposes(t, s); !slices.Equal(got, []string{"after"}) {
					t.Fatalf("chain holds %v, want only the later event", got)
				}
				var rows []int
				if err := s.DB(context.Background()).Raw(`SELECT id FROM job_rows`).Scan(&rows).Error; err != nil || len(rows) != 0 {
					t.Fatalf("rows %v survived (%v)", rows, err)
				}
			})
		})
	}
}

// TestCommitterKeepsStatementsPrepared: on SQLite the committer prepares
// the append's statements once and reuses them (more appends add no
// statement); on PostgreSQL pgx prepares them on the committer's
// connection.
func TestCommitterKeepsStatementsPrepared(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		appendN := func(n int) {
			for i := range n {
				if err := s.WithTx(ctx, func(tx *gorm.DB) error { return appendPurpose(tx, fmt.Sprint(i)) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		appendN(5)
		first, err := s.Prepared(ctx)
		if err != nil {
			t.Fatal(err)
		}
		appendN(20)
		later, err := s.Prepared(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Dialect() == models.DialectPostgres {
			var n int
			err := s.WithTx(ctx, func(tx *gorm.DB) error {
				return tx.Raw(`SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'WITH e AS (INSERT INTO audit_events%' OR statement IN ('BEGIN', 'COMMIT')`).Scan(&n).Error
			})
			if err != nil || n != 3 {
				t.Fatalf("%d of the append's statements prepared on the committer's connection, want 3 (%v)", n, err)
			}
			return
		}
		if !slices.ContainsFunc(first, func(q string) bool { return strings.HasPrefix(q, "INSERT INTO audit_events") }) {
			t.Fatalf("the audit insert is not prepared: %q", first)
		}
		if len(later) != len(first) {
			t.Fatalf("%d statements prepared after 5 appends, %d after 25: they are not reused", len(first), len(later))
		}
	})
}

// TestCommitterLocksHeadFromBegin: on PostgreSQL the head lock taken with
// BEGIN in one round trip holds for the whole transaction.
func TestCommitterLocksHeadFromBegin(t *testing.T) {
	b := storetest.Postgres(t)
	s := b.Open(t)
	ctx := context.Background()
	other, err := pgx.Connect(ctx, b.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	err = s.WithTx(ctx, func(tx *gorm.DB) error {
		if err := appendPurpose(tx, "x"); err != nil {
			return err
		}
		_, err := other.Exec(ctx, `SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
			return fmt.Errorf("another connection could lock the head during a transaction: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCommitterSurvivesLostConnection: the committer keeps one connection;
// when the server ends it between transactions, the next transaction runs
// on a new one instead of failing.
func TestCommitterSurvivesLostConnection(t *testing.T) {
	b := storetest.Postgres(t)
	s := b.Open(t)
	ctx := context.Background()
	pid := func() (p int) {
		t.Helper()
		if err := s.WithTx(ctx, func(tx *gorm.DB) error { return tx.Raw(`SELECT pg_backend_pid()`).Scan(&p).Error }); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := pid()
	other, err := pgx.Connect(ctx, b.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, `SELECT pg_terminate_backend($1)`, before); err != nil {
		t.Fatal(err)
	}
	for {
		var n int
		if err := other.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, before).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.WithTx(ctx, func(tx *gorm.DB) error { return appendPurpose(tx, "after") }); err != nil {
		t.Fatalf("first transaction after the connection was lost: %v", err)
	}
	if after := pid(); after == before {
		t.Fatalf("still on backend %d", after)
	}
	if got := purposes(t, s); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("chain holds %v", got)
	}
}
