package execution_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/sweep"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 90 * time.Minute: "1h30m", 45 * time.Minute: "45m", 90 * time.Second: "1m30s",
		2*time.Hour + 5*time.Second: "2h0m5s", 30 * time.Second: "30s",
	} {
		if got := execution.ShortDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}

// Today an executor that redeemed but whose answer was lost is retried:
// the retry's redemption is refused and the request ends failed, without
// running twice. The result timeout is the backstop when no dispatcher
// gets to retry (all replicas down, executor removed): the queued
// execution is failed with the reason and nothing is posted afterwards.
func TestWebhookExecutionWithoutAnswerEnds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg := newRig(t, b.Open(t), 3)
		rg.fake.after = func(call int32) (int, string) { return 503, "" } // ran, answer lost
		r := rg.env.Approved(t, granttest.Human)
		d := rg.dispatcher(3)
		if n, err := d.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("first attempt: %d %v", n, err)
		}
		if rg.fake.ran.Load() != 1 || rg.env.State(t, r.ID) != models.StateApproved {
			t.Fatal("the executor did not run once")
		}

		// Backstop: no dispatcher runs again; the sweeper ends it.
		sw := sweep.New(rg.env.Store, rg.env.Approvals, rg.env.Grants, sweep.Config{Now: rg.env.Clock.Now})
		rg.env.Clock.Advance(time.Hour - time.Second)
		if rep, err := sw.RunOnce(ctx); err != nil || rep.UnreportedResults != 0 {
			t.Fatalf("too early: %+v %v", rep, err)
		}
		rg.env.Clock.Advance(time.Second)
		if rep, err := sw.RunOnce(ctx); err != nil || rep.UnreportedResults != 1 {
			t.Fatalf("timeout: %+v %v", rep, err)
		}
		ex, err := rg.exec.Get(ctx, r.ID)
		want := "no result reported within 1h after the grant was redeemed"
		if err != nil || ex.State != execution.StateFailed || ex.Error != want || ex.Mode != execution.ModeWebhook || ex.Attempts != 1 || ex.Executor != "deployer" {
			t.Fatalf("execution: %+v %v", ex, err)
		}
		if rg.env.State(t, r.ID) != models.StateFailed {
			t.Fatal("request not failed")
		}
		if n, err := d.RunOnce(ctx); err != nil || n != 0 || rg.fake.calls.Load() != 1 {
			t.Fatalf("dispatched after the timeout: %d %v", n, err)
		}
	})
}

func TestWebhookRetriesWithoutAnswerEndWithoutTheTimeout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg := newRig(t, b.Open(t), 3)
		rg.fake.after = func(call int32) (int, string) { return 503, "" }
		r := rg.env.Approved(t, granttest.Human)
		d := rg.dispatcher(3)
		for range 3 {
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			rg.env.Clock.Advance(5 * time.Second)
		}
		ex, err := rg.exec.Get(ctx, r.ID)
		if err != nil || ex.State != execution.StateFailed || rg.env.State(t, r.ID) != models.StateFailed || rg.fake.ran.Load() != 1 {
			t.Fatalf("retries did not end it: %+v %v, ran %d", ex, err, rg.fake.ran.Load())
		}
	})
}

// The executor is still working when the timeout ends the request; its
// answer (a result or an error to retry) is refused and audited and does
// not requeue or overwrite the execution.
func TestExecutorAnswerAfterTheTimeoutIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     int
		answered string
	}{{"success", 0, "succeeded"}, {"retryable error", 503, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, b storetest.Backend) {
				ctx := context.Background()
				rg := newRig(t, b.Open(t), 3)
				running, release := make(chan struct{}), make(chan struct{})
				rg.fake.after = func(int32) (int, string) {
					close(running)
					<-release
					return tc.code, ""
				}
				r := rg.env.Approved(t, granttest.Human)
				d := rg.dispatcher(3)
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := d.RunOnce(ctx); err != nil {
						t.Error(err)
					}
				}()
				<-running
				rg.env.Clock.Advance(time.Hour)
				sw := sweep.New(rg.env.Store, rg.env.Approvals, rg.env.Grants, sweep.Config{Now: rg.env.Clock.Now})
				if rep, err := sw.RunOnce(ctx); err != nil || rep.UnreportedResults != 1 {
					t.Errorf("timeout: %+v %v", rep, err)
				}
				close(release)
				wg.Wait()
				ex, err := rg.exec.Get(ctx, r.ID)
				if err != nil || ex.State != execution.StateFailed || ex.ReportedBy != execution.TimedOutBy || ex.LeaseUntil != nil {
					t.Fatalf("execution: %+v %v", ex, err)
				}
				if rg.env.State(t, r.ID) != models.StateFailed || len(rg.env.Events(t, "execution.succeeded")) != 0 || len(rg.env.Events(t, "execution.retry")) != 0 {
					t.Fatal("the late answer was recorded")
				}
				if tc.answered != "" {
					evs := rg.env.Events(t, "execution.refused")
					var p struct{ Reason, Answered string }
					if len(evs) != 1 || json.Unmarshal([]byte(evs[0].Payload), &p) != nil || p.Reason != string(execution.RefusedTimedOut) || p.Answered != tc.answered {
						t.Fatalf("late answer audited %+v", evs)
					}
				}
				rg.env.Clock.Advance(time.Hour)
				if n, err := d.RunOnce(ctx); err != nil || n != 0 || rg.fake.calls.Load() != 1 {
					t.Fatalf("dispatched again: %d %v", n, err)
				}
			})
		})
	}
}
