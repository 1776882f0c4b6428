package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/sweep"
)

// resultRig wires the execution hook as the portal does, and two sweepers
// on separate connections, as two replicas would run them.
type resultRig struct {
	env      *granttest.Env
	exec     *execution.Service
	sweepers []*sweep.Sweeper
}

func newResultRig(t *testing.T, b storetest.Backend, timeout time.Duration) *resultRig {
	t.Helper()
	e := granttest.New(t, b.Open(t), execution.Hook())
	e.Terms.Executor = ""
	cfg := sweep.Config{Now: e.Clock.Now, ResultTimeout: timeout}
	return &resultRig{
		env:      e,
		exec:     execution.New(e.Store, e.Approvals, e.Grants, e.Clock.Now),
		sweepers: []*sweep.Sweeper{sweep.New(e.Store, e.Approvals, e.Grants, cfg), sweep.New(b.Open(t), e.Approvals, e.Grants, cfg)},
	}
}

// sweepBoth runs both sweepers at once and adds up what they did.
func (rg *resultRig) sweepBoth(t *testing.T) sweep.Report {
	t.Helper()
	var mu sync.Mutex
	var sum sweep.Report
	var wg sync.WaitGroup
	for _, s := range rg.sweepers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := s.RunOnce(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			sum.UnreportedResults += rep.UnreportedResults
			sum.ExpiredGrants += rep.ExpiredGrants
			sum.ExpiredRequests += rep.ExpiredRequests
			mu.Unlock()
		}()
	}
	wg.Wait()
	return sum
}

// redeemedByAgent approves an agent's request and redeems its grant as
// the agent, now.
func (rg *resultRig) redeemedByAgent(t *testing.T) *models.Request {
	t.Helper()
	return rg.env.Redeemed(t, granttest.Agent)
}

func (rg *resultRig) ran() execution.Result {
	now := rg.env.Clock.Now()
	return execution.Result{Succeeded: true, Output: json.RawMessage(`{"ok":true}`), StartedAt: now.Add(-2 * time.Second), EndedAt: now.Add(-time.Second)}
}

// reasons returns the audited reasons of events of typ about request id.
func reasons(t *testing.T, e *granttest.Env, typ, id string) []string {
	t.Helper()
	var out []string
	for _, ev := range e.Events(t, typ) {
		if ev.RequestID != id {
			continue
		}
		var p struct{ Reason, Error string }
		if err := json.Unmarshal([]byte(ev.Payload), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Reason+p.Error)
	}
	return out
}

func TestUnreportedResultFailsTheRequestOnceAfterTheTimeout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg := newResultRig(t, b, 0) // default: 1h
		silent := rg.redeemedByAgent(t)
		rg.env.Clock.Advance(10 * time.Minute)
		reported := rg.redeemedByAgent(t) // redeemed 10m later, reports in time
		unredeemed := rg.env.Approved(t, granttest.Agent)

		rg.env.Clock.Advance(50*time.Minute - time.Second) // silent: 1h − 1s since redemption
		if _, err := rg.exec.RecordResult(ctx, reported.ID, rg.ran(), granttest.Agent); err != nil {
			t.Fatal(err)
		}
		rep := rg.sweepBoth(t)
		if rep.UnreportedResults != 0 || rg.env.State(t, silent.ID) != models.StateApproved {
			t.Fatalf("failed before the timeout: %+v", rep)
		}
		if rep.ExpiredGrants != 1 || rg.env.State(t, unredeemed.ID) != models.StateExpired {
			t.Fatalf("the unredeemed grant is the expiry's business: %+v", rep)
		}

		rg.env.Clock.Advance(time.Second)
		rep = rg.sweepBoth(t)
		if rep.UnreportedResults != 1 {
			t.Fatalf("two sweepers failed %d requests, want 1", rep.UnreportedResults)
		}
		want := "no result reported within 1h after the grant was redeemed"
		if s := rg.env.State(t, silent.ID); s != models.StateFailed {
			t.Fatalf("silent request is %s", s)
		}
		if got := reasons(t, rg.env, "request.failed", silent.ID); len(got) != 1 || got[0] != want {
			t.Fatalf("request.failed audited %q", got)
		}
		if got := reasons(t, rg.env, "execution.failed", silent.ID); len(got) != 1 || got[0] != want {
			t.Fatalf("execution.failed audited %q", got)
		}
		ex, err := rg.exec.Get(ctx, silent.ID)
		if err != nil || ex.State != execution.StateFailed || ex.Error != want || ex.ReportedBy != execution.TimedOutBy || ex.Mode != execution.ModeAgent || ex.FinishedAt == nil {
			t.Fatalf("execution on record: %+v %v", ex, err)
		}
		if s := rg.env.State(t, reported.ID); s != models.StateExecuted {
			t.Fatalf("the reported request is %s", s)
		}

		// The result arrives late: refused, audited, nothing changes.
		_, err = rg.exec.RecordResult(ctx, silent.ID, rg.ran(), granttest.Agent)
		if !errors.Is(err, execution.ErrResultTimedOut) || !errors.Is(err, models.ErrConflict) {
			t.Fatalf("late result: %v", err)
		}
		if got := reasons(t, rg.env, "execution.refused", silent.ID); len(got) != 1 || got[0] != string(execution.RefusedTimedOut) {
			t.Fatalf("late result audited %q", got)
		}
		if again, _ := rg.exec.Get(ctx, silent.ID); again.ReportedBy != execution.TimedOutBy || again.State != execution.StateFailed {
			t.Fatalf("the late result changed the execution: %+v", again)
		}
		if rg.env.State(t, silent.ID) != models.StateFailed {
			t.Fatal("the late result moved the request")
		}

		// Much later nothing else is swept.
		rg.env.Clock.Advance(24 * time.Hour)
		if rep := rg.sweepBoth(t); rep != (sweep.Report{}) {
			t.Fatalf("later sweep did something: %+v", rep)
		}
		if rg.env.State(t, reported.ID) != models.StateExecuted || len(reasons(t, rg.env, "request.failed", reported.ID)) != 0 {
			t.Fatal("a request whose result came in time was swept")
		}
	})
}

func TestResultTimeoutIsConfigurable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg := newResultRig(t, b, 90*time.Minute)
		r := rg.redeemedByAgent(t)
		rg.env.Clock.Advance(time.Hour)
		if rep := rg.sweepBoth(t); rep.UnreportedResults != 0 {
			t.Fatal("the default applied instead of the configured timeout")
		}
		rg.env.Clock.Advance(30 * time.Minute)
		if rep := rg.sweepBoth(t); rep.UnreportedResults != 1 {
			t.Fatalf("%+v", rep)
		}
		ex, err := rg.exec.Get(ctx, r.ID)
		if err != nil || ex.Error != "no result reported within 1h30m after the grant was redeemed" {
			t.Fatalf("%+v %v", ex, err)
		}
	})
}

// A result and the sweeper racing at the deadline: exactly one wins, and
// the request's end state always matches the execution on record.
func TestResultRacingTheSweeperEndsOneWay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg := newResultRig(t, b, time.Hour)
		var ids []string
		for range 6 {
			ids = append(ids, rg.redeemedByAgent(t).ID)
		}
		rg.env.Clock.Advance(time.Hour)
		res := rg.ran()
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := rg.exec.RecordResult(ctx, id, res, granttest.Agent)
				if err != nil && !errors.Is(err, execution.ErrResultTimedOut) {
					t.Errorf("%s: %v", id, err)
				}
			}()
		}
		wg.Add(1)
		go func() { defer wg.Done(); rg.sweepBoth(t) }()
		wg.Wait()
		for _, id := range ids {
			ex, err := rg.exec.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			s := rg.env.State(t, id)
			switch {
			case ex.ReportedBy == execution.TimedOutBy && s == models.StateFailed:
			case ex.ReportedBy == granttest.Agent.ID && ex.State == execution.StateSucceeded && s == models.StateExecuted:
			default:
				t.Fatalf("%s ended %s with execution %+v", id, s, ex)
			}
			if n := len(rg.env.Events(t, "request."+string(s))); n == 0 {
				t.Fatalf("%s: end not audited", id)
			}
		}
		if n := len(rg.env.Events(t, "request.failed")) + len(rg.env.Events(t, "request.executed")); n != len(ids) {
			t.Fatalf("%d end events for %d requests", n, len(ids))
		}
	})
}
