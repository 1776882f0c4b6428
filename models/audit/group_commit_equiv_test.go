package audit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

// jobPlan is one random transaction: appends, with statements between
// them, and maybe a failure at the end.
type jobPlan struct {
	entries []audit.Entry
	// stmtAfter[k] sends a statement after append k: a row of its own
	// (kind 1) or a read of its own events (kind 2), which must see them.
	stmtAfter []int
	// fail: 0 none, 1 an error after its writes, 2 a panic, 3 a statement
	// the database refuses (a duplicate key).
	fail int
}

// hasNUL reports whether an entry holds text PostgreSQL cannot store.
func (p *jobPlan) hasNUL() bool {
	for _, e := range p.entries {
		if strings.Contains(e.Actor.Display, "\x00") {
			return true
		}
	}
	return false
}

func randomPlan(rng *rand.Rand, i int) *jobPlan {
	p := &jobPlan{fail: []int{0, 0, 0, 0, 0, 1, 2, 3}[rng.IntN(8)]}
	for k := range 1 + rng.IntN(3) {
		display := fmt.Sprintf("user %d", i)
		if rng.IntN(20) == 0 {
			display = "nul\x00" + display
		}
		if rng.IntN(30) == 0 {
			display = strings.Repeat("long ", 700) // over the late-write limit: written at once
		}
		p.entries = append(p.entries, audit.Entry{
			Type: fmt.Sprintf("job.%d.%d", i, k), Actor: models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("u%d", i), Display: display},
			RequestID: fmt.Sprintf("REQ-%d", i), Purpose: fmt.Sprintf("purpose %d", rng.IntN(1000)), Action: "restart",
			Payload: map[string]any{"i": i, "k": k},
		})
		p.stmtAfter = append(p.stmtAfter, rng.IntN(3))
	}
	return p
}

// at is the time job i records, the same in both runs.
func at(i int) time.Time { return time.Unix(1_800_000_000+int64(i), 0) }

// run executes p as job i in tx and returns the events it appended.
func (p *jobPlan) run(tx *gorm.DB, i int) ([]*models.AuditEvent, error) {
	var evs []*models.AuditEvent
	for k, e := range p.entries {
		ev, err := audit.Append(tx, at(i), e)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
		switch p.stmtAfter[k] {
		case 1:
			if err := tx.Exec(`INSERT INTO job_rows (id, job) VALUES (?, ?)`, i*10+k, i).Error; err != nil {
				return nil, err
			}
		case 2:
			var n int
			if err := tx.Raw(`SELECT count(*) FROM audit_events WHERE actor_id = ?`, e.Actor.ID).Scan(&n).Error; err != nil {
				return nil, err
			}
			if n != k+1 {
				return nil, fmt.Errorf("job %d reads %d of its events after appending %d", i, n, k+1)
			}
		}
	}
	switch p.fail {
	case 1:
		return nil, errPlanned
	case 2:
		panic("planned panic")
	case 3:
		for range 2 {
			if err := tx.Exec(`INSERT INTO job_rows (id, job) VALUES (?, ?)`, -i-1, i).Error; err != nil {
				return nil, err
			}
		}
	}
	return evs, nil
}

var errPlanned = errors.New("planned failure")

// TestGroupCommitEqualsSimplePath holds the fast path (group commit: audit
// events written late and together, savepoints only where a job sends a
// statement, prepared statements, pipelining on PostgreSQL) equal to the
// simple one (each append written at once in a plain transaction).
//
// Random jobs — appends with statements between them, jobs failing after
// their writes, panicking, refused by the database, events PostgreSQL
// cannot store — run at once from many goroutines through two stores on
// one database, so they share commits and race for the chain. Then: a job
// committed exactly when it should; the chain verifies and holds exactly
// the events the committed jobs were handed back, each job's together and
// in its order, and no row of a failed job; and replaying the committed
// jobs, in chain order, each in a plain transaction on a fresh database,
// writes the same rows.
func TestGroupCommitEqualsSimplePath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, be storetest.Backend) {
		ctx := context.Background()
		a, b := be.Open(t), be.Open(t)
		pg := a.Dialect() == models.DialectPostgres
		scratch := `CREATE TABLE job_rows (id INTEGER PRIMARY KEY, job INTEGER NOT NULL)`
		if err := a.DB(ctx).Exec(scratch).Error; err != nil {
			t.Fatal(err)
		}
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 16))
		const n = 240
		plans := make([]*jobPlan, n)
		for i := range plans {
			plans[i] = randomPlan(rng, i)
		}
		var mu sync.Mutex
		got := map[int][]*models.AuditEvent{}
		errs := make([]error, n)
		storetest.Race(n, func(i int) {
			s := a
			if i%2 == 1 {
				s = b
			}
			errs[i] = s.WithTx(ctx, func(tx *gorm.DB) error {
				evs, err := plans[i].run(tx, i)
				if err == nil {
					mu.Lock()
					got[i] = evs
					mu.Unlock()
				}
				return err
			})
			if errs[i] != nil {
				mu.Lock()
				delete(got, i) // a job that ran but did not commit
				mu.Unlock()
			}
		})

		// Each job committed exactly when it should have.
		committed := 0
		for i, p := range plans {
			wantOK := p.fail == 0 && !(pg && p.hasNUL())
			if (errs[i] == nil) != wantOK {
				t.Fatalf("job %d (fail=%d, NUL=%v): err %v", i, p.fail, p.hasNUL(), errs[i])
			}
			if p.fail == 1 && !(pg && p.hasNUL()) && !errors.Is(errs[i], errPlanned) {
				t.Fatalf("job %d: %v, want the planned error", i, errs[i])
			}
			if wantOK {
				committed += len(p.entries)
			}
		}

		// The chain holds exactly what the committed jobs were handed back.
		db, _ := a.SQL()
		if rep, err := audit.Verify(ctx, db); err != nil || rep.Problem != nil || rep.Events != int64(committed) {
			t.Fatalf("chain: %+v %v, want %d events", rep, err, committed)
		}
		var rows []models.AuditEvent
		if err := a.DB(ctx).Order("seq").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		bySeq := map[int64]*models.AuditEvent{}
		for i, evs := range got {
			for k, ev := range evs {
				bySeq[ev.Seq] = ev
				if k > 0 && ev.Seq != evs[k-1].Seq+1 {
					t.Fatalf("job %d's events are not together: seq %d after %d", i, ev.Seq, evs[k-1].Seq)
				}
			}
		}
		for _, r := range rows {
			ev := bySeq[r.Seq]
			if ev == nil || *ev != r {
				t.Fatalf("stored event %d differs from what its job was told:\n stored %+v\n told   %+v", r.Seq, r, ev)
			}
		}
		var jobRows []int
		if err := a.DB(ctx).Raw(`SELECT DISTINCT job FROM job_rows`).Scan(&jobRows).Error; err != nil {
			t.Fatal(err)
		}
		for _, j := range jobRows {
			if errs[j] != nil {
				t.Fatalf("failed job %d left rows", j)
			}
		}

		// The simple path writes the same rows.
		fresh := storetest.SQLite(t).Open(t)
		if pg {
			fresh = storetest.Postgres(t).Open(t)
		}
		if err := fresh.DB(ctx).Exec(scratch).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			i := jobOf(t, r.Type)
			if r.Seq != got[i][0].Seq {
				continue // replayed with the job's first event
			}
			err := fresh.DB(ctx).Transaction(func(tx *gorm.DB) error {
				_, err := plans[i].run(tx, i)
				return err
			})
			if err != nil {
				t.Fatalf("replay of job %d: %v", i, err)
			}
		}
		var replayed []models.AuditEvent
		if err := fresh.DB(ctx).Order("seq").Find(&replayed).Error; err != nil {
			t.Fatal(err)
		}
		if len(replayed) != len(rows) {
			t.Fatalf("replay wrote %d events, group commit %d", len(replayed), len(rows))
		}
		for k := range rows {
			if replayed[k] != rows[k] {
				t.Fatalf("event %d differs:\n group commit %+v\n simple path  %+v", rows[k].Seq, rows[k], replayed[k])
			}
		}
	})
}

// jobOf reads the job number out of an event type "job.I.K".
func jobOf(t *testing.T, typ string) int {
	t.Helper()
	var i, k int
	if _, err := fmt.Sscanf(typ, "job.%d.%d", &i, &k); err != nil {
		t.Fatalf("event type %q: %v", typ, err)
	}
	return i
}
