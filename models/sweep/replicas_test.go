package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/sweep"
	"github.com/countersign/countersign/models/terms"
)

// replica is one process's services on its own store (its own pool).
type replica struct {
	store     *models.Store
	approvals *approval.Service
	grants    *grant.Service
	sweeper   *sweep.Sweeper
}

func newReplica(t *testing.T, store *models.Store, clock *granttest.Clock) *replica {
	t.Helper()
	g, err := grant.New(store, grant.Config{Issuer: granttest.Issuer, Now: clock.Now, SealKey: granttest.SealKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx := approval.Effects{Terms: terms.Hook(func(*models.Request) terms.Terms { return terms.Terms{Executor: "deployer"} }), Grant: g.Hook()}
	a := approval.New(store, approval.Config{Now: clock.Now, ApproverRoles: []string{"approver"}, Effects: fx})
	return &replica{store: store, approvals: a, grants: g, sweeper: sweep.New(store, a, g, sweep.Config{Now: clock.Now})}
}

// outcomes counts what the operations were told, by kind.
type outcomes struct {
	mu     sync.Mutex
	counts map[string]int
	bad    []string
}

// note files err under op: success, an expected refusal (a lost race is
// a conflict or a refused grant), or a failure the test reports.
func (o *outcomes) note(op string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var re *grant.RefusedError
	switch {
	case err == nil:
		o.counts[op+" ok"]++
	case strings.Contains(err.Error(), "deadlock"), strings.Contains(err.Error(), "40P01"):
		o.bad = append(o.bad, op+": "+err.Error())
	case errors.As(err, &re):
		o.counts[op+" refused "+string(re.Reason)]++
	case errors.Is(err, models.ErrConflict):
		o.counts[op+" conflict"]++
	default:
		o.bad = append(o.bad, op+": "+err.Error())
	}
}

// TestTwoReplicasMixedLoad runs creates, decisions, cancels, redemptions
// and sweeps at once through two stores on one database (two replicas,
// each with its own pool and committer). Nobody may see a deadlock or any
// failure other than a lost race; the audit chain stays one linear chain;
// each request leaves each state at most once, and each grant is spent at
// most once.
func TestTwoReplicasMixedLoad(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		clock := granttest.NewClock(granttest.Start)
		reps := []*replica{newReplica(t, b.Open(t), clock), newReplica(t, b.Open(t), clock)}
		const n = 60
		ids := make([]string, n)
		for i := range n {
			in := granttest.NewRequest(granttest.Human, 1+i%2)
			if i%5 == 4 {
				in.TTL = time.Minute // these expire when the clock moves
			}
			r, err := reps[i%2].approvals.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = r.ID
		}
		out := &outcomes{counts: map[string]int{}}
		var wg sync.WaitGroup
		var done atomic.Bool
		start := make(chan struct{})
		goDo := func(f func()) {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; f() }()
		}
		decide := func(rep *replica, id, who string) {
			r, err := rep.approvals.Get(ctx, id)
			if err != nil {
				out.note("load", err)
				return
			}
			a := granttest.Approver(who)
			_, err = rep.approvals.Decide(ctx, approval.Decision{
				RequestID: id, Approver: a, Verdict: models.VerdictApprove, ContentHash: r.ContentHash,
				StepUp: approval.StepUp{AuthTime: clock.Now(), ACR: "mfa", AMR: []string{"otp"}, IDTokenHash: strings.Repeat("ab", 32)},
			})
			out.note("decide", err)
		}
		// redeem waits for the request to be approved (its grant is minted
		// in the approving transaction) and spends the grant; it gives up
		// when the request ends another way.
		redeem := func(rep *replica, id string) {
			for {
				r, err := rep.approvals.Get(ctx, id)
				if err != nil {
					out.note("load", err)
					return
				}
				switch r.State {
				case models.StatePending:
					time.Sleep(10 * time.Millisecond)
					continue
				case models.StateApproved:
				default:
					return
				}
				tok, err := rep.grants.Token(ctx, id)
				if err != nil {
					out.note("token", err)
					return
				}
				_, err = rep.grants.Redeem(ctx, tok, grant.ParamsHash(r.Params), grant.ExecutorActor("deployer"))
				out.note("redeem", err)
				return
			}
		}
		for i, id := range ids {
			a, b := reps[i%2], reps[(i+1)%2]
			goDo(func() { decide(a, id, "alice") })
			goDo(func() { decide(b, id, "bob") })
			if i%3 == 0 {
				goDo(func() {
					_, err := b.approvals.Cancel(ctx, id, granttest.Human.ID, "changed my mind")
					out.note("cancel", err)
				})
			}
			goDo(func() { redeem(a, id) })
			goDo(func() { redeem(b, id) })
		}
		for i := range 20 {
			goDo(func() {
				_, err := reps[i%2].approvals.Create(ctx, granttest.NewRequest(granttest.Human, 1))
				out.note("create", err)
			})
		}
		var sweeps sync.WaitGroup
		for _, rep := range reps {
			sweeps.Add(1)
			go func() {
				defer sweeps.Done()
				<-start
				for !done.Load() {
					_, err := rep.sweeper.RunOnce(ctx)
					out.note("sweep", err)
					time.Sleep(time.Millisecond)
				}
			}()
		}
		close(start)
		time.Sleep(20 * time.Millisecond)
		clock.Advance(2 * time.Minute) // short-lived requests expire under load
		wg.Wait()
		done.Store(true)
		sweeps.Wait()
		for _, rep := range reps { // one quiet sweep finishes what is due
			if _, err := rep.sweeper.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("outcomes: %v", out.counts)
		if len(out.bad) > 0 {
			t.Fatalf("%d operations failed (want only lost races):\n%s", len(out.bad), strings.Join(out.bad, "\n"))
		}
		if out.counts["decide ok"] == 0 || out.counts["redeem ok"] == 0 || out.counts["cancel ok"] == 0 || out.counts["create ok"] != 20 {
			t.Fatalf("the load did not exercise every operation: %v", out.counts)
		}
		checkTransitions(t, reps[0].store)
	})
}

// checkTransitions holds the audit log to the promises: one chain that
// verifies, each request leaving each state at most once and along the
// lifecycle, each grant redeemed at most once and only for an approved
// request.
func checkTransitions(t *testing.T, s *models.Store) {
	t.Helper()
	ctx := context.Background()
	db, err := s.SQL()
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(ctx, db); err != nil || rep.Problem != nil {
		t.Fatalf("audit chain: %+v, %v", rep, err)
	}
	var evs []models.AuditEvent
	if err := s.DB(ctx).Order("seq").Find(&evs).Error; err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}    // request + state it left
	state := map[string]string{} // request → state after its last move
	redeemed := map[string]bool{}
	for _, ev := range evs {
		switch {
		case ev.Type == "request.created":
			state[ev.RequestID] = "pending"
		case ev.Type == "grant.redeemed":
			var p struct {
				JTI string `json:"jti"`
			}
			_ = json.Unmarshal([]byte(ev.Payload), &p)
			if redeemed[p.JTI] {
				t.Fatalf("grant %s redeemed twice", p.JTI)
			}
			if state[ev.RequestID] != "approved" {
				t.Fatalf("grant of %s redeemed while it was %s", ev.RequestID, state[ev.RequestID])
			}
			redeemed[p.JTI] = true
		case strings.HasPrefix(ev.Type, "request."):
			var p struct {
				From string `json:"from"`
				To   string `json:"to"`
			}
			if err := json.Unmarshal([]byte(ev.Payload), &p); err != nil || p.From == "" {
				continue // not a transition
			}
			if state[ev.RequestID] != p.From {
				t.Fatalf("%s moved %s → %s while the log says it was %s (event %d)", ev.RequestID, p.From, p.To, state[ev.RequestID], ev.Seq)
			}
			key := ev.RequestID + "/" + p.From
			if left[key] {
				t.Fatalf("%s left %s twice (event %d)", ev.RequestID, p.From, ev.Seq)
			}
			left[key] = true
			state[ev.RequestID] = p.To
		}
	}
	var rows []models.Request
	if err := s.DB(ctx).Select("id", "state").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if state[r.ID] != string(r.State) {
			t.Fatalf("%s is %s but its audit trail ends at %s", r.ID, r.State, state[r.ID])
		}
	}
	if len(rows) == 0 || len(redeemed) == 0 {
		t.Fatal(fmt.Sprintf("nothing to check: %d requests, %d grants redeemed", len(rows), len(redeemed)))
	}
}
