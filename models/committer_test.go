package models_test

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

// TestGroupCommitIsolatesFailures runs many writers at once so that their
// transactions share commits, with some failing after they wrote and some
// panicking: only the successful ones may remain, and the chain stays whole.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		errPlanned := errors.New("planned failure")
		var wg sync.WaitGroup
		results := make([]error, 60)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = s.WithTx(ctx, func(tx *gorm.DB) error {
					_, err := audit.Append(tx, time.Now(), audit.Entry{Type: "test", Actor: models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("u%d", i)}})
					if err != nil {
						return err
					}
					switch i % 4 {
					case 1:
						return errPlanned
					case 2:
						panic("boom")
					}
					return nil
				})
			}(i)
		}
		wg.Wait()
		var want []string
		for i, err := range results {
			switch i % 4 {
			case 1:
				if !errors.Is(err, errPlanned) {
					t.Fatalf("job %d: want the planned error, got %v", i, err)
				}
			case 2:
				if err == nil || !strings.Contains(err.Error(), "panicked") {
					t.Fatalf("job %d: want a panic error, got %v", i, err)
				}
			default:
				if err != nil {
					t.Fatalf("job %d: %v", i, err)
				}
				want = append(want, fmt.Sprintf("u%d", i))
			}
		}
		var got []string
		if err := s.DB(ctx).Raw(`SELECT actor_id FROM audit_events`).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("kept %d events, want %d (%v)", len(got), len(want), got)
		}
		for _, id := range got {
			var n int
			fmt.Sscanf(id, "u%d", &n)
			if n%4 == 1 || n%4 == 2 {
				t.Fatalf("event of failed job %s survived", id)
			}
		}
		db, _ := s.SQL()
		rep, err := audit.Verify(ctx, db)
		if err != nil || rep.Problem != nil || rep.Events != int64(len(want)) {
			t.Fatalf("chain: %+v %v", rep, err)
		}
	})
}

func TestWithTxAfterCloseAndCancelledContext(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := s.WithTx(ctx, func(*gorm.DB) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("cancelled ctx: err=%v ran=%v", err, ran)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WithTx(context.Background(), func(*gorm.DB) error { return nil }); err == nil {
		t.Fatal("WithTx after Close succeeded")
	}
}

type jobKey struct{}

// TestGroupCommitJobsSeeOwnContext runs many writers at once so that they
// share commits: each must see its own context values (and never another
// job's), while the transaction-local values are shared by the batch.
func TestGroupCommitJobsSeeOwnContext(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		const n = 200
		errs := make(chan error, n)
		storetest.Race(n, func(i int) {
			ctx := context.WithValue(context.Background(), jobKey{}, i)
			errs <- s.WithTx(ctx, func(tx *gorm.DB) error {
				if got, _ := tx.Statement.Context.Value(jobKey{}).(int); got != i {
					return fmt.Errorf("job %d sees the context of job %v", i, tx.Statement.Context.Value(jobKey{}))
				}
				if models.Local(tx) == nil {
					return fmt.Errorf("job %d has no transaction-local values", i)
				}
				_, err := audit.Append(tx, time.Now(), audit.Entry{Type: "test", Actor: models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("u%d", i)}})
				return err
			})
		})
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var events int64
		if err := s.DB(context.Background()).Model(&models.AuditEvent{}).Count(&events).Error; err != nil || events != n {
			t.Fatalf("%d events, want %d (%v)", events, n, err)
		}
	})
}

// TestGroupCommitFailedJobLearnsAfterCommit puts a winner and a loser into
// one batch: the loser fails because of what the winner wrote, and when
// its caller hears so and looks, the winner's change is already committed
// (an idempotency replay or a "cancelled by …" answer needs to read it).
func TestGroupCommitFailedJobLearnsAfterCommit(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		errLost := errors.New("lost the race")
		release, started, looked := make(chan struct{}), make(chan struct{}), make(chan struct{})
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- s.WithTx(ctx, func(tx *gorm.DB) error { close(started); <-release; return nil })
		}()
		waitQueued := func(n int) {
			for s.Queued() != n {
				time.Sleep(time.Millisecond)
			}
		}
		<-started // the committer runs the first job; the next two queue behind it
		winner := make(chan error, 1)
		go func() {
			winner <- s.WithTx(ctx, func(tx *gorm.DB) error {
				_, err := audit.Append(tx, time.Now(), audit.Entry{Type: "race.won", Actor: models.Actor{Type: models.ActorHuman, ID: "winner"}})
				return err
			})
		}()
		waitQueued(1)
		loser := make(chan int64, 1)
		go func() {
			err := s.WithTx(ctx, func(tx *gorm.DB) error {
				var n int64
				if err := tx.Model(&models.AuditEvent{}).Where("type = ?", "race.won").Count(&n).Error; err != nil || n != 1 {
					return fmt.Errorf("the loser ran without the winner's change in its batch (%d, %v)", n, err)
				}
				return errLost
			})
			if !errors.Is(err, errLost) {
				t.Errorf("loser: %v", err)
				loser <- -1
				return
			}
			var n int64
			if err := s.DB(ctx).Model(&models.AuditEvent{}).Where("type = ?", "race.won").Count(&n).Error; err != nil {
				t.Error(err)
			}
			close(looked)
			loser <- n
		}()
		waitQueued(2)
		// A third job keeps the batch open until the loser's caller has
		// looked (or a second has passed, which is what happens when the
		// loser is told only after the commit, as it must be).
		third := make(chan error, 1)
		go func() {
			third <- s.WithTx(ctx, func(tx *gorm.DB) error {
				select {
				case <-looked:
				case <-time.After(time.Second):
				}
				return nil
			})
		}()
		waitQueued(3)
		close(release)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		if err := <-winner; err != nil {
			t.Fatal(err)
		}
		if n := <-loser; n != 1 {
			t.Fatalf("the loser, told it lost, saw %d committed winners; want 1", n)
		}
		if err := <-third; err != nil {
			t.Fatal(err)
		}
	})
}
