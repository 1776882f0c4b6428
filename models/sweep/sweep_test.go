package sweep_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/sweep"
	"github.com/countersign/countersign/models/terms"
)

type note struct {
	id        string
	roles     []string
	escalated bool
}

type recorder struct {
	mu    sync.Mutex
	notes []note
}

func (r *recorder) Remind(tx *gorm.DB, req *models.Request, roles []string, escalated bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, note{req.ID, roles, escalated})
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.notes)
}

func TestExpiryOfPendingRequestsAndUnusedGrants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		e := granttest.New(t, b.Open(t))
		sw := sweep.New(e.Store, e.Approvals, e.Grants, sweep.Config{Now: e.Clock.Now})
		pending := e.Create(t, granttest.NewRequest(granttest.Human, 1)) // expires after 1h
		unused := e.Approved(t, granttest.Human)                         // grant lives 5m
		used, tok := e.Issued(t, granttest.Human)
		if _, err := e.Grants.Redeem(ctx, tok, grant.ParamsHash(used.Params), grant.ExecutorActor("deployer")); err != nil {
			t.Fatal(err)
		}

		e.Clock.Advance(5 * time.Minute) // exp reached, still within leeway
		if rep, err := sw.RunOnce(ctx); err != nil || rep != (sweep.Report{}) {
			t.Fatalf("too early: %+v %v", rep, err)
		}
		e.Clock.Advance(grant.DefaultLeeway + time.Second)
		rep, err := sw.RunOnce(ctx)
		if err != nil || rep.ExpiredGrants != 1 || rep.ExpiredRequests != 0 {
			t.Fatalf("grant sweep: %+v %v", rep, err)
		}
		if e.State(t, unused.ID) != models.StateExpired || e.State(t, used.ID) != models.StateApproved || e.State(t, pending.ID) != models.StatePending {
			t.Fatal("wrong requests expired")
		}
		if g, _ := e.Grants.Get(ctx, unused.ID); g.State != grant.StateExpired {
			t.Fatalf("grant is %s", g.State)
		}
		e.Clock.Advance(time.Hour)
		rep, err = sw.RunOnce(ctx)
		if err != nil || rep.ExpiredRequests != 1 || e.State(t, pending.ID) != models.StateExpired {
			t.Fatalf("pending sweep: %+v %v", rep, err)
		}
		if len(e.Events(t, "grant.expired")) != 1 || len(e.Events(t, "request.expired")) != 2 {
			t.Fatal("expiry not audited")
		}
		if rep, _ := sw.RunOnce(ctx); rep != (sweep.Report{}) {
			t.Fatalf("second sweep did something: %+v", rep)
		}
	})
}

func TestRemindersAndEscalationFollowTheClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		e := granttest.New(t, b.Open(t))
		e.Terms = terms.Terms{Executor: "deployer", Roles: []string{"sre"}, Remind: []time.Duration{10 * time.Minute, 20 * time.Minute}, EscalateTo: []string{"security"}, EscalateAfter: 30 * time.Minute}
		rec := &recorder{}
		sw := sweep.New(e.Store, e.Approvals, e.Grants, sweep.Config{Now: e.Clock.Now, Notifier: rec})
		other := sweep.New(b.Open(t), e.Approvals, e.Grants, sweep.Config{Now: e.Clock.Now, Notifier: rec}) // another replica
		r := e.Create(t, granttest.NewRequest(granttest.Human, 2))
		quiet := e.Create(t, granttest.NewRequest(granttest.Human, 2))
		if _, err := e.Decide(quiet, granttest.Approver("alice"), models.VerdictDeny); err != nil {
			t.Fatal(err)
		}
		step := func(d time.Duration) {
			t.Helper()
			e.Clock.Advance(d)
			var wg sync.WaitGroup
			for _, s := range []*sweep.Sweeper{sw, other} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.RunOnce(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		step(9 * time.Minute)
		if rec.count() != 0 {
			t.Fatal("reminded too early")
		}
		step(time.Minute)
		if rec.count() != 1 || rec.notes[0].id != r.ID || rec.notes[0].escalated || rec.notes[0].roles[0] != "sre" {
			t.Fatalf("first reminder: %+v", rec.notes)
		}
		step(time.Minute)
		if rec.count() != 1 {
			t.Fatal("reminded twice")
		}
		if escalatedAt(t, e.Store, r.ID) != nil {
			t.Fatal("escalated too early")
		}
		step(9 * time.Minute) // 20m
		if rec.count() != 2 {
			t.Fatalf("second reminder: %+v", rec.notes)
		}
		step(10 * time.Minute) // 30m
		if rec.count() != 3 || !rec.notes[2].escalated || rec.notes[2].roles[0] != "security" {
			t.Fatalf("escalation: %+v", rec.notes)
		}
		if escalatedAt(t, e.Store, r.ID) == nil {
			t.Fatal("the escalation is not recorded")
		}
		step(10 * time.Minute)
		if rec.count() != 3 {
			t.Fatal("follow-ups after the last one")
		}
		if len(e.Events(t, "request.reminded")) != 2 || len(e.Events(t, "request.escalated")) != 1 {
			t.Fatal("follow-ups not audited")
		}

		// A clock that jumps past several offsets sends one reminder.
		late := e.Create(t, granttest.NewRequest(granttest.Human, 2))
		step(25 * time.Minute)
		n := 0
		for _, x := range rec.notes {
			if x.id == late.ID && !x.escalated {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d reminders after a jump", n)
		}
	})
}

func TestGrantsOfRequestsThatEndedOtherwiseAreLeftAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		e := granttest.New(t, b.Open(t))
		sw := sweep.New(e.Store, e.Approvals, e.Grants, sweep.Config{Now: e.Clock.Now})
		r := e.Approved(t, granttest.Human)
		if _, err := e.Approvals.Move(ctx, approval.Transition{ID: r.ID, From: models.StateApproved, To: models.StateExecuted, Actor: models.SystemActor("operator")}); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Hour)
		if rep, err := sw.RunOnce(ctx); err != nil || rep != (sweep.Report{}) {
			t.Fatalf("sweep: %+v %v", rep, err)
		}
		if e.State(t, r.ID) != models.StateExecuted {
			t.Fatal("an executed request changed")
		}
	})
}

// escalatedAt reads when request id was escalated (nil: not yet).
func escalatedAt(t *testing.T, s *models.Store, id string) *time.Time {
	t.Helper()
	var row terms.Row
	if err := s.DB(context.Background()).Take(&row, "request_id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	return row.EscalatedAt
}
