package approval_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/storetest"
)

func approver(id, username string, roles ...string) approval.Approver {
	return approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "sub-" + id, Display: username}, Username: username, Roles: roles}
}

var (
	aliceA = approver("alice", "alice", "approver")
	bobA   = approver("bob", "bob", "approver")
	erinA  = approver("erin", "erin", "approver")
	daveA  = approver("dave", "dave", "approver") // deploy-bot's sponsor
	carolA = approver("carol", "carol", "approver")
	viewer = approver("vic", "vic", "auditor")
)

var stepUp = approval.StepUp{AuthTime: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), ACR: "urn:countersign:acr:mfa", AMR: []string{"pwd", "otp", "mfa"}, IDTokenHash: strings.Repeat("ab", 32)}

func humanRequest() approval.NewRequest {
	in := newRequest()
	in.Requester = models.Actor{Type: models.ActorHuman, ID: "mm-carol", Display: "carol"}
	return in
}

func decide(svc *approval.Service, r *models.Request, a approval.Approver, v models.Verdict, comment string) (*approval.Outcome, error) {
	return svc.Decide(context.Background(), approval.Decision{RequestID: r.ID, Approver: a, Verdict: v, Comment: comment, ContentHash: r.ContentHash, StepUp: stepUp})
}

func newSvc(s *models.Store, cfg approval.Config) *approval.Service {
	cfg.ApproverRoles = []string{"approver"}
	cfg.StepUp = lenientStepUp(cfg.StepUp)
	return approval.New(s, cfg)
}

// lenientStepUp lets the fixed evidence of stepUp count whenever the
// tests run, for the tests about something else than freshness (those
// set their own MaxAge and clock).
func lenientStepUp(r approval.StepUpRule) approval.StepUpRule {
	if r.MaxAge == 0 {
		r.MaxAge = 50 * 365 * 24 * time.Hour
	}
	return r
}

func TestTwoOfNApprovalRecordsEvidenceAndTransitionsOnce(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := newSvc(s, approval.Config{})
		r, err := svc.Create(context.Background(), humanRequest()) // requires 2
		if err != nil {
			t.Fatal(err)
		}
		out, err := decide(svc, r, aliceA, models.VerdictApprove, "looks right")
		if err != nil {
			t.Fatal(err)
		}
		if out.Transitioned || out.Approvals != 1 || out.Request.State != models.StatePending {
			t.Fatalf("after 1st approval: %+v", out)
		}
		// The same person again: refused, nothing recorded.
		if _, err := decide(svc, r, aliceA, models.VerdictApprove, ""); !errors.Is(err, approval.ErrAlreadyDecided) || !errors.Is(err, models.ErrConflict) {
			t.Fatalf("second decision by alice: %v", err)
		}
		out, err = decide(svc, r, bobA, models.VerdictApprove, "")
		if err != nil {
			t.Fatal(err)
		}
		if !out.Transitioned || out.Approvals != 2 || out.Request.State != models.StateApproved {
			t.Fatalf("after 2nd approval: %+v", out)
		}
		got, _ := svc.Get(context.Background(), r.ID)
		if got.State != models.StateApproved || len(got.Decisions) != 2 {
			t.Fatalf("stored: %s with %d decisions", got.State, len(got.Decisions))
		}
		d := got.Decisions[0]
		if d.ApproverID != "sub-alice" || d.ACR != stepUp.ACR || d.AMR != "pwd otp mfa" || d.IDTokenHash != stepUp.IDTokenHash ||
			!d.AuthTime.Equal(stepUp.AuthTime) || d.ContentHash != r.ContentHash || d.Comment != "looks right" {
			t.Fatalf("decision evidence: %+v", d)
		}
		types := audittest.Types(audittest.Events(t, s))
		if strings.Join(types, ",") != "request.created,decision.approve,decision.approve,request.approved" {
			t.Fatalf("audit trail %v", types)
		}
		ev := audittest.Events(t, s)[1]
		if ev.ActorID != "sub-alice" || !strings.Contains(ev.Payload, `"acr":"urn:countersign:acr:mfa"`) || !strings.Contains(ev.Payload, stepUp.IDTokenHash) {
			t.Fatalf("decision audit event lacks evidence: %+v", ev)
		}
		// Approved requests take no more decisions.
		if _, err := decide(svc, got, erinA, models.VerdictApprove, ""); !errors.Is(err, approval.ErrNotPending) {
			t.Fatalf("decision on approved request: %v", err)
		}
	})
}

func TestOneDenyEndsTheRequest(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	svc := newSvc(s, approval.Config{})
	r, _ := svc.Create(context.Background(), humanRequest())
	if _, err := decide(svc, r, aliceA, models.VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := decide(svc, r, bobA, models.VerdictDeny, ""); !errors.Is(err, models.ErrInvalid) {
		t.Fatalf("deny without reason: %v", err)
	}
	out, err := decide(svc, r, bobA, models.VerdictDeny, "wrong service, payments-worker is the one leaking")
	if err != nil || !out.Transitioned || out.Request.State != models.StateDenied {
		t.Fatalf("deny: %+v %v", out, err)
	}
	if _, err := decide(svc, r, erinA, models.VerdictApprove, ""); !errors.Is(err, approval.ErrNotPending) {
		t.Fatalf("after deny: %v", err)
	}
}

func TestSeparationOfDuties(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	ctx := context.Background()
	svc := newSvc(s, approval.Config{})
	human, _ := svc.Create(ctx, humanRequest())
	agentReq, _ := svc.Create(ctx, newRequest()) // deploy-bot, sponsor dave
	cases := []struct {
		name string
		r    *models.Request
		a    approval.Approver
		want error
	}{
		{"requester by username", human, carolA, approval.ErrSelfDecision},
		{"requester by username, other case", human, approver("x", "Carol", "approver"), approval.ErrSelfDecision},
		{"requester by id", human, approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "mm-carol"}, Username: "someone", Roles: []string{"approver"}}, approval.ErrSelfDecision},
		{"agent's sponsor", agentReq, daveA, approval.ErrSponsorDecision},
		{"no approver role", human, viewer, approval.ErrNotApprover},
	}
	for _, c := range cases {
		if err := svc.Check(c.r, c.a); !errors.Is(err, c.want) || !errors.Is(err, models.ErrForbidden) {
			t.Errorf("%s: Check = %v, want %v", c.name, err, c.want)
		}
		if _, err := decide(svc, c.r, c.a, models.VerdictApprove, ""); !errors.Is(err, c.want) {
			t.Errorf("%s: Decide = %v, want %v", c.name, err, c.want)
		}
	}
	var n int64
	s.DB(ctx).Model(&models.Decision{}).Count(&n)
	if n != 0 || len(audittest.Events(t, s)) != 2 {
		t.Fatalf("refused decisions left %d rows / %d events", n, len(audittest.Events(t, s)))
	}
	// The sponsor may approve when the rules allow it.
	lenient := newSvc(s, approval.Config{SponsorMayApprove: true})
	if _, err := decide(lenient, agentReq, daveA, models.VerdictApprove, ""); err != nil {
		t.Fatalf("sponsor with SponsorMayApprove: %v", err)
	}
}

func TestDecisionBoundToContentAndTime(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc := newSvc(s, approval.Config{Now: clock})
	r, _ := svc.Create(ctx, humanRequest()) // TTL 1h
	stale := *r
	stale.ContentHash = strings.Repeat("0", 64)
	if _, err := decide(svc, &stale, aliceA, models.VerdictApprove, ""); !errors.Is(err, approval.ErrContentChanged) {
		t.Fatalf("approval of other content: %v", err)
	}
	if _, err := svc.Decide(ctx, approval.Decision{RequestID: "REQ-NOTHERE00", Approver: aliceA, Verdict: models.VerdictApprove, ContentHash: r.ContentHash, StepUp: stepUp}); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown request: %v", err)
	}
	if _, err := svc.Decide(ctx, approval.Decision{RequestID: r.ID, Approver: aliceA, Verdict: models.VerdictApprove, ContentHash: r.ContentHash}); !errors.Is(err, models.ErrInvalid) {
		t.Fatalf("decision without step-up evidence: %v", err)
	}
	now = now.Add(time.Hour)
	if _, err := decide(svc, r, aliceA, models.VerdictApprove, ""); !errors.Is(err, approval.ErrExpired) {
		t.Fatalf("decision after expiry: %v", err)
	}
	cancelled, _ := svc.Create(ctx, humanRequest())
	if _, err := svc.Move(ctx, approval.Transition{ID: cancelled.ID, From: models.StatePending, To: models.StateCancelled, Actor: carol}); err != nil {
		t.Fatal(err)
	}
	if _, err := decide(svc, cancelled, aliceA, models.VerdictApprove, ""); !errors.Is(err, approval.ErrNotPending) {
		t.Fatalf("decision on cancelled: %v", err)
	}
}

// TestConcurrentLastApprovalTransitionsExactlyOnce races approvers for the
// last slot of a 2-of-N request through two stores (two processes' worth of
// connections): exactly one decision makes the transition.
func TestConcurrentLastApprovalTransitionsExactlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s1, s2 := b.Open(t), b.Open(t)
		ctx := context.Background()
		for round := 0; round < 3; round++ {
			r := create(t, newSvc(s1, approval.Config{}), humanRequest())
			var transitions atomic.Int32
			ok, refused := raceOnTwoStores(t, s1, s2, 6, approval.ErrNotPending, func(i int, s *models.Store) error {
				a := approver(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d", i), "approver")
				out, err := decide(newSvc(s, approval.Config{}), r, a, models.VerdictApprove, "")
				if err == nil && out.Transitioned {
					transitions.Add(1)
				}
				return err
			})
			if transitions.Load() != 1 || ok != 2 || refused != 4 {
				t.Fatalf("round %d: transitions=%d recorded=%d refused=%d; want 1, 2, 4", round, transitions.Load(), ok, refused)
			}
			var approvedEvents int64
			s1.DB(ctx).Model(&models.AuditEvent{}).Where("request_id = ? AND type = ?", r.ID, "request.approved").Count(&approvedEvents)
			if approvedEvents != 1 {
				t.Fatalf("round %d: %d request.approved events", round, approvedEvents)
			}
		}
	})
}

func TestVisibility(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	svc := newSvc(s, approval.Config{})
	human, _ := svc.Create(context.Background(), humanRequest())
	agentReq, _ := svc.Create(context.Background(), newRequest())
	noRole := func(name string) approval.Approver { return approver(name, name) }
	cases := []struct {
		r    *models.Request
		a    approval.Approver
		want bool
	}{
		{human, aliceA, true},                  // any role sees all
		{human, viewer, true},                  // auditor role
		{human, noRole("carol"), true},         // own request
		{human, noRole("mallory"), false},      // stranger
		{agentReq, noRole("dave"), true},       // the agent's sponsor
		{agentReq, noRole("carol"), false},     // not hers
		{agentReq, noRole("deploy-bot"), true}, // the agent itself by name
	}
	for i, c := range cases {
		if got := svc.MayView(c.r, c.a); got != c.want {
			t.Errorf("case %d (%s on %s): MayView = %v", i, c.a.Username, c.r.RequesterName, got)
		}
	}
}

// TestCanDecideIsWhatDecideEnforces checks the pre-check the portal runs
// before a step-up against what Decide then does.
func TestCanDecideIsWhatDecideEnforces(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	svc := newSvc(s, approval.Config{Now: func() time.Time { return now }})
	r, _ := svc.Create(ctx, humanRequest())
	cases := []struct {
		name string
		a    approval.Approver
		hash string
		at   time.Time
		want error
	}{
		{"own request", carolA, r.ContentHash, now, approval.ErrSelfDecision},
		{"other content", aliceA, strings.Repeat("1", 64), now, approval.ErrContentChanged},
		{"expired", aliceA, r.ContentHash, now.Add(time.Hour), approval.ErrExpired},
		{"eligible (denies it)", aliceA, r.ContentHash, now, nil},
	}
	for _, c := range cases {
		now = c.at
		err := svc.CanDecide(r, c.a, c.hash)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: CanDecide = %v, want %v", c.name, err, c.want)
		}
		_, derr := svc.Decide(ctx, approval.Decision{RequestID: r.ID, Approver: c.a, Verdict: models.VerdictDeny, Comment: "no", ContentHash: c.hash, StepUp: stepUp})
		if c.want != nil && !errors.Is(derr, c.want) {
			t.Errorf("%s: Decide = %v, want %v", c.name, derr, c.want)
		}
		if c.want == nil && derr != nil {
			t.Errorf("%s: Decide = %v", c.name, derr)
		}
	}
	// Now denied: no longer pending, for the pre-check as for Decide.
	got, _ := svc.Get(ctx, r.ID)
	if err := svc.CanDecide(got, bobA, got.ContentHash); !errors.Is(err, approval.ErrNotPending) {
		t.Fatalf("after deny: %v", err)
	}
}
