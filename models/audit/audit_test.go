package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

func appendN(t testing.TB, s *models.Store, n int, tag string) {
	t.Helper()
	for i := 0; i < n; i++ {
		err := s.WithTx(context.Background(), func(tx *gorm.DB) error {
			_, err := audit.Append(tx, time.Now(), audit.Entry{
				Type: "test.event", Actor: models.Actor{Type: models.ActorHuman, ID: "u-" + tag, Display: "Tester"},
				RequestID: fmt.Sprintf("REQ-%s%d", tag, i), Purpose: "INC-4211 check", Action: "restart",
				Payload: map[string]any{"i": i, "tag": tag},
			})
			return err
		})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

func verify(t *testing.T, s *models.Store) *audit.Report {
	t.Helper()
	return verifyWith(t, s, 0)
}

func verifyWith(t *testing.T, s *models.Store, workers int) *audit.Report {
	t.Helper()
	db, err := s.SQL()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyParallel(context.Background(), db, workers)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAppendBuildsAVerifiableChain(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		if rep := verify(t, s); rep.Problem != nil || rep.Events != 0 || rep.Head != audit.GenesisHash {
			t.Fatalf("empty chain: %+v %v", rep, rep.Problem)
		}
		appendN(t, s, 25, "a")
		rep := verify(t, s)
		if rep.Problem != nil || rep.Events != 25 {
			t.Fatalf("want 25 intact events, got %d, problem %v", rep.Events, rep.Problem)
		}
		for _, workers := range []int{2, 3, 7, 40} {
			if r := verifyWith(t, s, workers); r.Problem != nil || r.Events != 25 || r.Head != rep.Head || r.Bytes != rep.Bytes {
				t.Fatalf("workers=%d: %+v %v, want %+v", workers, r, r.Problem, rep)
			}
		}
		var last models.AuditEvent
		if err := s.DB(context.Background()).Order("seq desc").First(&last).Error; err != nil {
			t.Fatal(err)
		}
		if rep.Head != last.Hash || last.Seq != 25 || !strings.HasPrefix(last.Payload, `{"i":24,`) {
			t.Fatalf("head %s, last event %+v", rep.Head, last)
		}
	})
}

func TestAppendRefusesIncompleteEntries(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	for name, e := range map[string]audit.Entry{
		"no type":  {Actor: models.Actor{Type: models.ActorHuman, ID: "u"}},
		"no actor": {Type: "x"},
		"bad payload": {Type: "x", Actor: models.Actor{Type: models.ActorHuman, ID: "u"},
			Payload: map[string]any{"f": func() {}}},
	} {
		err := s.WithTx(context.Background(), func(tx *gorm.DB) error {
			_, err := audit.Append(tx, time.Now(), e)
			return err
		})
		if !errors.Is(err, models.ErrAudit) {
			t.Errorf("%s: want ErrAudit, got %v", name, err)
		}
	}
	if rep := verify(t, s); rep.Events != 0 {
		t.Fatalf("refused entries left %d events", rep.Events)
	}
}

// shift renumbers events matching cond by delta, through negative numbers
// so the primary key holds after every row on every backend.
func shift(cond string, delta int) string {
	return fmt.Sprintf(`UPDATE audit_events SET seq = -(seq + %d) WHERE %s; UPDATE audit_events SET seq = -seq WHERE seq < 0`, delta, cond)
}

// forgedInsert marks the step that inserts a forged event.
const forgedInsert = "forged insert"

// insertForged inserts an event at seq whose own hash is correctly computed
// and linked to its predecessor, as a forger without any secret could.
func insertForged(t *testing.T, s *models.Store, seq int64) {
	t.Helper()
	var prev models.AuditEvent
	if err := s.DB(context.Background()).First(&prev, "seq = ?", seq-1).Error; err != nil {
		t.Fatal(err)
	}
	ev := prev
	ev.Seq, ev.Purpose, ev.PrevHash = seq, "forged approval", prev.Hash
	ev.Hash = string(audit.NewHasher().Sum(audit.FieldsOf(&ev)))
	if err := s.DB(context.Background()).Create(&ev).Error; err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDetectsTampering changes rows behind the store's back and expects
// Verify to name the kind and the event. against the events and expects Verify to name the kind and
// the event.
func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name string
		sql  []string
		kind audit.ProblemKind
		seq  int64
		// good is how many events the report counts as good before the
		// problem.
		good int64
	}{
		{"modified purpose", []string{`UPDATE audit_events SET purpose = 'nothing to see' WHERE seq = 4`}, audit.ProblemHash, 4, 3},
		{"modified payload", []string{`UPDATE audit_events SET payload = '{"i":99}' WHERE seq = 7`}, audit.ProblemHash, 7, 6},
		{"modified time", []string{`UPDATE audit_events SET at_unix_us = at_unix_us + 1 WHERE seq = 2`}, audit.ProblemHash, 2, 1},
		{"deleted row", []string{`DELETE FROM audit_events WHERE seq = 5`}, audit.ProblemSequence, 6, 4},
		{"deleted rows", []string{`DELETE FROM audit_events WHERE seq IN (5, 6, 7)`}, audit.ProblemSequence, 8, 4},
		{"deleted first row", []string{`DELETE FROM audit_events WHERE seq = 1`}, audit.ProblemSequence, 2, 0},
		{"deleted last row", []string{`DELETE FROM audit_events WHERE seq = 10`}, audit.ProblemHead, 10, 9},
		{"deleted and renumbered", []string{`DELETE FROM audit_events WHERE seq = 5`, shift("seq > 5", -1)}, audit.ProblemLink, 5, 4},
		{"reordered rows", []string{
			`UPDATE audit_events SET seq = -3 WHERE seq = 3`,
			`UPDATE audit_events SET seq = 3 WHERE seq = 4`,
			`UPDATE audit_events SET seq = 4 WHERE seq = -3`,
		}, audit.ProblemLink, 3, 2},
		{"rehashed row without relinking", []string{`UPDATE audit_events SET hash = CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END || substr(hash, 2) WHERE seq = 6`}, audit.ProblemHash, 6, 5},
		{"inserted row", []string{shift("seq >= 8", 1), forgedInsert}, audit.ProblemLink, 9, 8},
		{"head edited", []string{`UPDATE audit_head SET seq = 11`}, audit.ProblemHead, 11, 10},
	}
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				// A fresh database per case.
				var s *models.Store
				if b.Name == "sqlite" {
					s = storetest.SQLite(t).Open(t)
				} else {
					s = storetest.Postgres(t).Open(t)
				}
				appendN(t, s, 10, "t")
				if rep := verify(t, s); rep.Problem != nil {
					t.Fatalf("untampered chain reported %v", rep.Problem)
				}
				db, _ := s.SQL()
				for _, q := range c.sql {
					if q == forgedInsert {
						insertForged(t, s, 8)
						continue
					}
					if _, err := db.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				// One walker, and several walkers whose ranges meet around
				// the tampered rows: the verdict must be the same.
				for _, workers := range []int{1, 2, 3, 4} {
					rep := verifyWith(t, s, workers)
					if rep.Problem == nil {
						t.Fatalf("workers=%d: tampering not detected (%d events, head %s)", workers, rep.Events, rep.Head)
					}
					if rep.Problem.Kind != c.kind || rep.Problem.Seq != c.seq {
						t.Fatalf("workers=%d: want %s at event %d, got %v", workers, c.kind, c.seq, rep.Problem)
					}
					if rep.Events != c.good {
						t.Fatalf("workers=%d: %d good events reported, want %d (%v)", workers, rep.Events, c.good, rep.Problem)
					}
				}
			})
		}
	})
}

// TestConcurrentWritersKeepOneChain appends from many goroutines through two
// independent stores (two connection pools, as two processes would have).
func TestConcurrentWritersKeepOneChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s1, s2 := b.Open(t), b.Open(t)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			s := s1
			if w%2 == 1 {
				s = s2
			}
			wg.Add(1)
			go func(w int, s *models.Store) {
				defer wg.Done()
				appendN(t, s, 15, fmt.Sprintf("w%d-", w))
			}(w, s)
		}
		wg.Wait()
		rep := verify(t, s1)
		if rep.Problem != nil || rep.Events != 120 {
			t.Fatalf("want one intact chain of 120 events, got %d, %v", rep.Events, rep.Problem)
		}
	})
}
