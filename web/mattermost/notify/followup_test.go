package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/sweep"
	"github.com/countersign/countersign/models/terms"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// followUpPolicy asks sre (alice, bob and carol in chat) for 2 approvals
// of prod restarts, reminds at 10, 20 and 40 minutes and escalates to
// security (mallory and carol) after 30 minutes. carol is the requester in
// the tests: she is never asked.
const followUpPolicy = `version: 1
roles:
  sre:      {idp_groups: [sre], mattermost_users: [alice, "@Bob", carol]}
  security: {idp_groups: [security], mattermost_users: [mallory, carol]}
  dev:      {idp_groups: [dev], mattermost_users: [carol]}
actions:
  - name: restart
    executor: kube
    params:
      - {name: service, required: true}
      - {name: env, allowed: [staging, prod], required: true}
rules:
  - name: prod
    when: request.params.env == "prod"
    require: {approvals: 2, roles: [sre], remind: [10m, 20m, 40m], escalate_to: [security], escalate_after: 30m}
`

// policyEnv is env with the policy, terms, grants and the sweeper wired
// as serve wires them, and a worker using the policy directory.
type policyEnv struct {
	*env
	holder   *policy.Holder
	sweepers []*sweep.Sweeper
	worker   *notify.Worker
}

// eachPolicyEnv runs fn as a subtest on a fresh policyEnv (no static
// approvers) of SQLite and of PostgreSQL.
func eachPolicyEnv(t *testing.T, fn func(t *testing.T, e *policyEnv)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) { fn(t, newPolicyEnv(t, b)) })
}

func newPolicyEnv(t *testing.T, b storetest.Backend, static ...string) *policyEnv {
	t.Helper()
	e := newEnv(t, b)
	p, err := policy.Parse("policy.yaml", []byte(followUpPolicy))
	if err != nil {
		t.Fatal(err)
	}
	pe := &policyEnv{env: e, holder: policy.NewHolder(p)}
	g, err := grant.New(e.store, grant.Config{Issuer: publicURL, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	src := func(r *models.Request) terms.Terms {
		return terms.Terms{Executor: "kube", Roles: r.ApproverRoles, Remind: r.Remind, EscalateTo: r.EscalateRoles, EscalateAfter: r.EscalateAfter}
	}
	e.svc = approval.New(e.store, approval.Config{
		Now: e.clock.Now, ApproverRoles: []string{"approver"}, Policy: pe.holder,
		Effects: approval.Effects{Terms: terms.Hook(src), Grant: g.Hook(), Chat: outbox.Hook{}},
	})
	// Two sweepers on separate connections, as two replicas would run.
	for _, s := range []*models.Store{e.store, b.Open(t)} {
		svc := approval.New(s, approval.Config{Now: e.clock.Now, ApproverRoles: []string{"approver"}, Policy: pe.holder, Effects: approval.Effects{Chat: outbox.Hook{}}})
		pe.sweepers = append(pe.sweepers, sweep.New(s, svc, g, sweep.Config{Now: e.clock.Now, Notifier: outbox.Reminders{Now: e.clock.Now}}))
	}
	pe.worker, err = notify.NewWorker(notify.WorkerConfig{
		Queue: e.queue, Chat: e.client, Requests: e.svc, Render: notify.Renderer{PublicURL: publicURL},
		Directory: notify.PolicyApprovers{Policy: pe.holder, Static: static, Now: e.clock.Now},
		Signer:    e.signer, ActionURL: publicURL + "/hooks/mattermost/action", Owner: "w1", Now: e.clock.Now,
		BackoffBase: time.Second, BackoffMax: 10 * time.Second, MaxAttempts: 100, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return pe
}

// submit opens carol's prod restart under the policy.
func (e *policyEnv) submit(t *testing.T) *models.Request {
	t.Helper()
	capt := e.capture(t)
	carol := e.people["carol"]
	s, err := e.svc.Submit(context.Background(), approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "payments-api", "env": "prod"},
		Purpose: "OOM loop", Requester: models.Actor{Type: models.ActorHuman, ID: carol.Id, Display: carol.Username},
		Source: capt.Source, Posts: capt.Posts,
	}, []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Request.State != models.StatePending || s.Request.RequiredApprovals != 2 {
		t.Fatalf("submitted %s needing %d", s.Request.State, s.Request.RequiredApprovals)
	}
	return s.Request
}

// approveAs records a portal approval: the IdP subject differs from the
// Mattermost user id and the display name from the username, so only the
// chat username stored with the decision links the two.
func (e *policyEnv) approveAs(t *testing.T, id, who string, roles ...string) {
	t.Helper()
	r, err := e.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Decide(context.Background(), approval.Decision{
		RequestID: id, Approver: approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "idp-" + who, Display: "Dr. " + strings.ToUpper(who)}, Username: who, Roles: roles},
		Verdict: models.VerdictApprove, ContentHash: r.ContentHash,
		StepUp: approval.StepUp{AuthTime: e.clock.Now(), ACR: "urn:example:mfa", AMR: []string{"otp"}},
	}); err != nil {
		t.Fatal(err)
	}
}

// step advances the clock, runs both sweepers at once and drains the
// outbox.
func (e *policyEnv) step(t *testing.T, d time.Duration) {
	t.Helper()
	e.clock.Advance(d)
	var wg sync.WaitGroup
	for _, s := range e.sweepers {
		wg.Go(func() {
			if _, err := s.RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	drain(t, e.worker)
}

// dmsWith counts the bot's DMs to who about id that contain marker.
func (e *policyEnv) dmsWith(t *testing.T, who, id, marker string) int {
	t.Helper()
	n := 0
	for _, p := range e.dmPosts(t, who, id) {
		if strings.Contains(p.Message, marker) {
			n++
		}
	}
	return n
}

// threadWith returns the bot's thread posts about id containing marker.
func (e *policyEnv) threadWith(id, marker string) []string {
	var out []string
	for _, p := range e.botPosts(e.channel.Id, id) {
		if strings.Contains(p.Message, marker) {
			out = append(out, p.Message)
		}
	}
	return out
}

const (
	reminderMark   = "⏰ Reminder"
	escalationMark = "was escalated to"
)

// TestRemindersAndEscalationReachChat follows a prod restart through the
// policy's reminders (to the sre people who have not decided, never to
// the requester), its escalation (to security's people once, with a note
// in the thread, though two sweepers race) and a reminder after the
// escalation (now also to security), to its expiry (a thread note).
func TestRemindersAndEscalationReachChat(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newPolicyEnv(t, b, "dave")
		r := e.submit(t)
		drain(t, e.worker)
		for who, want := range map[string]int{"alice": 1, "bob": 1, "dave": 1, "carol": 0, "mallory": 0} {
			if got := len(e.dmPosts(t, who, r.ID)); got != want {
				t.Errorf("%s got %d DMs at creation, want %d", who, got, want)
			}
		}
		e.approveAs(t, r.ID, "alice", "sre")
		drain(t, e.worker)

		e.step(t, 9*time.Minute)
		if n := e.dmsWith(t, "bob", r.ID, reminderMark); n != 0 {
			t.Fatalf("reminded before the first offset: %d", n)
		}
		e.step(t, time.Minute) // 10m: first reminder
		for who, want := range map[string]int{"alice": 0, "bob": 1, "dave": 1, "carol": 0, "mallory": 0} {
			if got := e.dmsWith(t, who, r.ID, reminderMark); got != want {
				t.Errorf("after 10m %s got %d reminders, want %d", who, got, want)
			}
		}
		dm := e.dmPosts(t, "bob", r.ID)
		last := dm[len(dm)-1].Message
		for _, want := range []string{r.ID, "is still waiting for 1 more approval", publicURL + "/requests/" + r.ID} {
			if !strings.Contains(last, want) {
				t.Errorf("reminder lacks %q:\n%s", want, last)
			}
		}
		e.step(t, time.Minute)
		if got := e.dmsWith(t, "bob", r.ID, reminderMark); got != 1 {
			t.Fatalf("reminded twice for one offset: %d", got)
		}

		e.step(t, 9*time.Minute) // 20m: second reminder
		for who, want := range map[string]int{"alice": 0, "bob": 2, "dave": 2, "carol": 0, "mallory": 0} {
			if got := e.dmsWith(t, who, r.ID, reminderMark); got != want {
				t.Errorf("after 20m %s got %d reminders, want %d", who, got, want)
			}
		}
		if got := e.threadWith(r.ID, "escalated"); len(got) != 0 {
			t.Fatalf("escalated early: %v", got)
		}

		e.step(t, 10*time.Minute) // 30m: escalation to security
		if got := e.dmsWith(t, "mallory", r.ID, escalationMark); got != 1 {
			t.Fatalf("mallory got %d escalation DMs, want 1", got)
		}
		for _, who := range []string{"alice", "bob", "carol", "dave"} {
			if got := e.dmsWith(t, who, r.ID, escalationMark); got != 0 {
				t.Errorf("%s got %d escalation DMs", who, got)
			}
		}
		notes := e.threadWith(r.ID, "escalated to security")
		if len(notes) != 1 || !strings.Contains(notes[0], "still waiting for 1 more approval") {
			t.Fatalf("escalation notes in the thread: %q", notes)
		}
		e.step(t, 5*time.Minute)
		if got := e.dmsWith(t, "mallory", r.ID, escalationMark); got != 1 || len(e.threadWith(r.ID, "escalated to security")) != 1 {
			t.Fatal("escalated twice")
		}

		e.step(t, 5*time.Minute) // 40m: third reminder, security included now
		for who, want := range map[string]int{"alice": 0, "bob": 3, "dave": 3, "carol": 0, "mallory": 1} {
			if got := e.dmsWith(t, who, r.ID, reminderMark); got != want {
				t.Errorf("after 40m %s got %d reminders, want %d", who, got, want)
			}
		}

		e.step(t, 20*time.Minute) // 60m: expired
		got, err := e.svc.Get(context.Background(), r.ID)
		if err != nil || got.State != models.StateExpired {
			t.Fatalf("request %v %v, want expired", got.State, err)
		}
		notes = e.threadWith(r.ID, "expired without enough approvals (1 of 2)")
		if len(notes) != 1 {
			t.Fatalf("expiry notes: %q", notes)
		}
		if n := len(e.dmPosts(t, "carol", r.ID)); n != 1 {
			t.Fatalf("carol got %d DMs, want only the outcome", n)
		}
		if rows, err := e.queue.Pending(context.Background()); err != nil || rows != 0 {
			t.Fatalf("%d rows left pending (%v)", rows, err)
		}
	})
}

// TestReminderSkipsWhatEndedBeforeDelivery: a reminder queued while the
// request waits is dropped when the request is decided before the worker
// gets to it; nobody is reminded of a request that no longer waits.
func TestReminderSkipsWhatEndedBeforeDelivery(t *testing.T) {
	eachPolicyEnv(t, func(t *testing.T, e *policyEnv) {
		r := e.submit(t)
		drain(t, e.worker)
		e.clock.Advance(10 * time.Minute)
		if rep, err := e.sweepers[0].RunOnce(context.Background()); err != nil || rep.Reminders != 1 {
			t.Fatalf("sweep: %+v %v", rep, err)
		}
		e.approveAs(t, r.ID, "alice", "sre")
		e.approveAs(t, r.ID, "bob", "sre")
		drain(t, e.worker)
		for _, who := range []string{"alice", "bob", "carol"} {
			if got := e.dmsWith(t, who, r.ID, reminderMark); got != 0 {
				t.Errorf("%s reminded of an approved request: %d", who, got)
			}
		}
	})
}

// TestCancelPostsAThreadNote: cancelling updates the message, tells the
// requester and says in the thread who cancelled.
func TestCancelPostsAThreadNote(t *testing.T) {
	eachPolicyEnv(t, func(t *testing.T, e *policyEnv) {
		r := e.submit(t)
		drain(t, e.worker)
		carol := e.people["carol"]
		if _, err := e.svc.Move(context.Background(), approval.Transition{
			ID: r.ID, From: models.StatePending, To: models.StateCancelled,
			Actor: models.Actor{Type: models.ActorHuman, ID: carol.Id, Display: "carol"}, Reason: "cancelled by the requester from Mattermost",
		}); err != nil {
			t.Fatal(err)
		}
		drain(t, e.worker)
		notes := e.threadWith(r.ID, "was cancelled by **carol**")
		if len(notes) != 1 {
			t.Fatalf("cancel notes: %q", notes)
		}
		posts := e.botPosts(e.channel.Id, r.ID)
		if len(posts) != 2 || !strings.Contains(posts[0].Message, "CANCELLED") || posts[1].RootId != e.root.Id {
			t.Fatalf("thread after cancel: %d posts, first %q", len(posts), posts[0].Message)
		}
		if n := len(e.dmPosts(t, "carol", r.ID)); n != 1 {
			t.Fatalf("carol got %d DMs, want the outcome", n)
		}
		// Cancelled requests are not reminded.
		e.step(t, time.Hour)
		if got := e.dmsWith(t, "bob", r.ID, reminderMark); got != 0 {
			t.Fatalf("bob reminded of a cancelled request: %d", got)
		}
	})
}

// TestUnusedGrantExpiryPostsAThreadNote: an approved request whose grant
// runs out unused says so in its thread.
func TestUnusedGrantExpiryPostsAThreadNote(t *testing.T) {
	eachPolicyEnv(t, func(t *testing.T, e *policyEnv) {
		r := e.submit(t)
		e.approveAs(t, r.ID, "alice", "sre")
		e.approveAs(t, r.ID, "bob", "sre")
		drain(t, e.worker)
		e.step(t, terms.DefaultGrantTTL+grant.DefaultLeeway+time.Second)
		if got, err := e.svc.Get(context.Background(), r.ID); err != nil || got.State != models.StateExpired {
			t.Fatalf("request %v %v, want expired", got.State, err)
		}
		if notes := e.threadWith(r.ID, "its execution grant was not used in time"); len(notes) != 1 {
			t.Fatalf("grant expiry notes: %q", notes)
		}
		if notes := e.threadWith(r.ID, "without enough approvals"); len(notes) != 0 {
			t.Fatalf("an approved request said it lacked approvals: %q", notes)
		}
	})
}

// TestExecutionOutcomePostsAThreadNote: how the approved action ended is
// told in the thread, a failure with its reason (escaped as text).
func TestExecutionOutcomePostsAThreadNote(t *testing.T) {
	eachPolicyEnv(t, func(t *testing.T, e *policyEnv) {
		ok, bad := e.submit(t), e.submit(t)
		for _, r := range []*models.Request{ok, bad} {
			e.approveAs(t, r.ID, "alice", "sre")
			e.approveAs(t, r.ID, "bob", "sre")
		}
		drain(t, e.worker)
		sys := models.SystemActor("executor")
		if _, err := e.svc.Move(context.Background(), approval.Transition{ID: ok.ID, From: models.StateApproved, To: models.StateExecuted, Actor: sys}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Move(context.Background(), approval.Transition{ID: bad.ID, From: models.StateApproved, To: models.StateFailed, Actor: sys, Reason: "exit 1: **boom** <script>"}); err != nil {
			t.Fatal(err)
		}
		drain(t, e.worker)
		if notes := e.threadWith(ok.ID, "was executed"); len(notes) != 1 {
			t.Fatalf("executed notes: %q", notes)
		}
		notes := e.threadWith(bad.ID, "failed: ")
		if len(notes) != 1 || strings.Contains(notes[0], "**boom**") || !strings.Contains(notes[0], "boom") {
			t.Fatalf("failed notes (reason must be there, escaped): %q", notes)
		}
		if notes := e.threadWith(ok.ID, "failed: "); len(notes) != 0 {
			t.Fatalf("the executed request got a failure note: %q", notes)
		}
	})
}
