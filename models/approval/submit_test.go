package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
)

const submitPolicy = `version: 1
roles:
  sre: {idp_groups: [sre]}
  leads: {idp_groups: [leads]}
  dev: {}
windows: [{name: prod, max_duration: 4h}]
actions:
  - name: restart
    purpose_required: true
    requesters: [sre, dev]
    params:
      - {name: service, required: true, pattern: '[a-z0-9-]+'}
      - {name: env, required: true, allowed: [staging, prod, qa]}
      - {name: region}
rules:
  - name: no-agents-in-qa
    when: requester.type == "agent" && request.params.env == "qa"
    deny: Agents may not touch qa
  - name: region-check
    when: request.params.env == "qa" && request.params.region == "eu"
    deny: qa in eu is closed
  - name: staging-auto
    when: request.params.env == "staging"
    auto_approve: {grant_ttl: 2m}
  - name: prod-changes
    when: request.params.env == "prod"
    require:
      approvals: 2
      roles: [sre]
      step_up: {max_age: 2m, acr: ['urn:countersign:acr:mfa']}
      grant_ttl: 3m
      ttl: 90m
      remind: [15m, 45m]
      escalate_to: [leads]
      escalate_after: 30m
  - name: windows
    when: request.action == "window.open"
    auto_approve: {}
`

type fixedPolicy struct{ p *policy.Policy }

func (f fixedPolicy) Current() *policy.Policy { return f.p }

func loadPolicy(t *testing.T, src string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clock is a movable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func submitReq(env string) approval.NewRequest {
	in := humanRequest()
	in.Params = map[string]any{"service": "payments-api", "env": env}
	in.TTL, in.RequiredApprovals, in.PolicyRef = 0, 0, ""
	return in
}

func countRows(t *testing.T, s *models.Store) (requests, events int64) {
	t.Helper()
	db := s.DB(context.Background())
	if err := db.Model(&models.Request{}).Count(&requests).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&models.AuditEvent{}).Count(&events).Error; err != nil {
		t.Fatal(err)
	}
	return requests, events
}

func TestSubmitStoresEachOutcomeWithItsAuditEvents(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		p := loadPolicy(t, submitPolicy)
		svc := approval.New(s, approval.Config{Policy: fixedPolicy{p}, ApproverRoles: []string{"approver"}})
		ctx := context.Background()

		denied := submitReq("qa")
		denied.Requester = agent
		got, err := svc.Submit(ctx, denied, []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Request.State != models.StateDenied || got.Outcome.Rule != "no-agents-in-qa" || got.Request.PolicyRef != p.Ref+"#no-agents-in-qa" {
			t.Fatalf("denied: %+v / %+v", got.Request, got.Outcome)
		}
		evs := audittest.Events(t, s)
		if !slices.Equal(audittest.Types(evs), []string{"request.created", "request.denied"}) || evs[1].ActorType != models.ActorSystem {
			t.Fatalf("denied events %v", audittest.Types(evs))
		}
		if !strings.Contains(evs[1].Payload, "Agents may not touch qa") {
			t.Errorf("deny reason not audited: %s", evs[1].Payload)
		}

		auto, err := svc.Submit(ctx, submitReq("staging"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := svc.Get(ctx, auto.Request.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.State != models.StateApproved || stored.GrantTTL != 2*time.Minute || !strings.Contains(stored.PolicyExplanation, "approved automatically, rule staging-auto") {
			t.Fatalf("auto-approved stored %+v", stored)
		}
		evs = audittest.Events(t, s)
		if !slices.Equal(audittest.Types(evs)[2:], []string{"request.created", "request.approved"}) {
			t.Fatalf("auto events %v", audittest.Types(evs))
		}

		req, err := svc.Submit(ctx, submitReq("prod"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		stored, err = svc.Get(ctx, req.Request.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := models.ApprovalRules{
			ApproverRoles: models.Words{"sre"}, StepUpMaxAge: 2 * time.Minute, StepUpACR: models.Words{"urn:countersign:acr:mfa"},
			GrantTTL: 3 * time.Minute, EscalateRoles: models.Words{"leads"}, EscalateAfter: 30 * time.Minute,
			Remind:            models.Durations{15 * time.Minute, 45 * time.Minute},
			PolicyExplanation: `2 approvals from sre needed, rule prod-changes, because request.params.env == "prod"`,
		}
		if stored.State != models.StatePending || stored.RequiredApprovals != 2 || stored.ExpiresAt.Sub(stored.CreatedAt) != 90*time.Minute {
			t.Fatalf("pending stored %+v", stored)
		}
		if !rulesEqual(stored.ApprovalRules, want) {
			t.Fatalf("rules stored\n got %+v\nwant %+v", stored.ApprovalRules, want)
		}
		evs = audittest.Events(t, s)
		last := evs[len(evs)-1]
		if last.Type != "request.created" || last.RequestID != stored.ID {
			t.Fatalf("pending events %v", audittest.Types(evs))
		}
		var payload struct {
			Policy struct {
				Explanation   string   `json:"explanation"`
				ApproverRoles []string `json:"approver_roles"`
			} `json:"policy"`
		}
		if err := json.Unmarshal([]byte(last.Payload), &payload); err != nil || payload.Policy.Explanation != want.PolicyExplanation || !slices.Equal(payload.Policy.ApproverRoles, []string{"sre"}) {
			t.Errorf("created payload %s (%v)", last.Payload, err)
		}
	})
}

func rulesEqual(a, b models.ApprovalRules) bool {
	return slices.Equal(a.ApproverRoles, b.ApproverRoles) && a.StepUpMaxAge == b.StepUpMaxAge && slices.Equal(a.StepUpACR, b.StepUpACR) &&
		a.GrantTTL == b.GrantTTL && slices.Equal(a.EscalateRoles, b.EscalateRoles) && a.EscalateAfter == b.EscalateAfter &&
		slices.Equal(a.Remind, b.Remind) && a.PolicyWindow == b.PolicyWindow && a.PolicyExplanation == b.PolicyExplanation
}

func TestSubmitRuntimeErrorDeniesAndIsAudited(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, submitPolicy)}})
		// region-check reads params.region, which this request lacks.
		got, err := svc.Submit(context.Background(), submitReq("qa"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Request.State != models.StateDenied || got.Outcome.Err == nil || got.Outcome.Rule != "region-check" {
			t.Fatalf("got %+v / %+v", got.Request, got.Outcome)
		}
		evs := audittest.Events(t, s)
		if !slices.Equal(audittest.Types(evs), []string{"request.created", "policy.error", "request.denied"}) {
			t.Fatalf("events %v", audittest.Types(evs))
		}
		if !strings.Contains(evs[1].Payload, "no such key") || !strings.Contains(evs[1].Payload, "region-check") || evs[1].RequestID != got.Request.ID {
			t.Errorf("policy.error payload %s", evs[1].Payload)
		}
	})
}

func TestSubmitBadInputStoresNothing(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, submitPolicy)}})
		ctx := context.Background()
		cases := map[string]struct {
			in    func() approval.NewRequest
			roles []string
			want  error
		}{
			"unknown action":      {func() approval.NewRequest { r := submitReq("prod"); r.Action = "reboot"; return r }, []string{"sre"}, models.ErrInvalid},
			"bad param value":     {func() approval.NewRequest { return submitReq("dev") }, []string{"sre"}, models.ErrInvalid},
			"missing param":       {func() approval.NewRequest { r := submitReq("prod"); delete(r.Params, "service"); return r }, []string{"sre"}, models.ErrInvalid},
			"missing purpose":     {func() approval.NewRequest { r := submitReq("prod"); r.Purpose = ""; return r }, []string{"sre"}, models.ErrInvalid},
			"not a requester":     {func() approval.NewRequest { return submitReq("prod") }, []string{"leads"}, approval.ErrNotRequester},
			"undeclared window":   {func() approval.NewRequest { return windowReq("dev", "1h") }, nil, models.ErrInvalid},
			"window too long":     {func() approval.NewRequest { return windowReq("prod", "5h") }, nil, models.ErrInvalid},
			"window bad length":   {func() approval.NewRequest { return windowReq("prod", "soon") }, nil, models.ErrInvalid},
			"window wrong action": {func() approval.NewRequest { r := windowReq("prod", "1h"); r.Action = "restart"; return r }, nil, models.ErrInvalid},
			"bad requester": {func() approval.NewRequest {
				r := submitReq("prod")
				r.Requester.ID = ""
				return r
			}, []string{"sre"}, models.ErrInvalid},
		}
		for name, c := range cases {
			_, err := svc.Submit(ctx, c.in(), c.roles)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", name, err, c.want)
			}
		}
		noPolicy := approval.New(s, approval.Config{})
		if _, err := noPolicy.Submit(ctx, submitReq("prod"), []string{"sre"}); !errors.Is(err, approval.ErrNoPolicy) {
			t.Errorf("without policy: %v", err)
		}
		if r, e := countRows(t, s); r != 0 || e != 0 {
			t.Fatalf("bad input stored %d requests, %d events", r, e)
		}
	})
}

func windowReq(name, d string) approval.NewRequest {
	in := humanRequest()
	in.Kind, in.Action, in.Params = models.KindWindow, policy.ActionWindowOpen, map[string]any{"window": name, "duration": d}
	in.TTL, in.RequiredApprovals, in.PolicyRef = 0, 0, ""
	return in
}

// TestRequestRolesDecideWhoMayApprove checks that a request's own approver
// roles replace the configured ones, that escalation roles join once due,
// and that the listing of actionable requests follows the same rule.
func TestRequestRolesDecideWhoMayApprove(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		clk := &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
		svc := approval.New(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, submitPolicy)}, ApproverRoles: []string{"approver"}, Now: clk.now})
		ctx := context.Background()
		sub, err := svc.Submit(ctx, submitReq("prod"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		r := sub.Request
		plainApprover := approver("alice", "alice", "approver")
		sre := approver("bob", "bob", "sre")
		lead := approver("erin", "erin", "leads")
		if err := svc.Check(r, plainApprover); !errors.Is(err, approval.ErrNotApprover) {
			t.Errorf("config approver on an sre request: %v", err)
		}
		if err := svc.Check(r, sre); err != nil {
			t.Errorf("sre: %v", err)
		}
		if err := svc.Check(r, lead); !errors.Is(err, approval.ErrNotApprover) {
			t.Errorf("lead before escalation: %v", err)
		}
		ids := func(a approval.Approver) []string {
			p, err := svc.ListActionable(ctx, a, approval.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, it := range p.Items {
				out = append(out, it.ID)
			}
			return out
		}
		if got := ids(sre); !slices.Equal(got, []string{r.ID}) {
			t.Errorf("sre actionable %v", got)
		}
		if got := ids(plainApprover); len(got) != 0 {
			t.Errorf("plain approver actionable %v", got)
		}
		if got := ids(lead); len(got) != 0 {
			t.Errorf("lead actionable before escalation %v", got)
		}
		clk.t = clk.t.Add(31 * time.Minute)
		if err := svc.Check(r, lead); err != nil {
			t.Errorf("lead after escalation: %v", err)
		}
		if got := ids(lead); !slices.Equal(got, []string{r.ID}) {
			t.Errorf("lead actionable after escalation %v", got)
		}
		// A request without its own roles keeps the configured ones.
		plain, err := svc.Create(ctx, humanRequest())
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Check(plain, plainApprover); err != nil {
			t.Errorf("config approver on a plain request: %v", err)
		}
		if err := svc.Check(plain, sre); !errors.Is(err, approval.ErrNotApprover) {
			t.Errorf("sre on a plain request: %v", err)
		}
	})
}

func TestDecideHonoursTheRequestsStepUp(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		clk := &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
		svc := approval.New(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, submitPolicy)}, Now: clk.now})
		ctx := context.Background()
		sub, err := svc.Submit(ctx, submitReq("prod"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		r := sub.Request
		sre := approver("bob", "bob", "sre")
		d := approval.Decision{RequestID: r.ID, Approver: sre, Verdict: models.VerdictApprove, ContentHash: r.ContentHash,
			StepUp: approval.StepUp{AuthTime: clk.t.Add(-3 * time.Minute), ACR: "urn:countersign:acr:mfa"}}
		if _, err := svc.Decide(ctx, d); !errors.Is(err, approval.ErrStepUpStale) {
			t.Errorf("3-minute-old sign-in with max_age 2m: %v", err)
		}
		d.StepUp = approval.StepUp{AuthTime: clk.t.Add(-time.Minute), ACR: "urn:countersign:acr:pwd"}
		if _, err := svc.Decide(ctx, d); !errors.Is(err, approval.ErrStepUpWeak) {
			t.Errorf("weak acr: %v", err)
		}
		d.StepUp.ACR = "urn:countersign:acr:mfa"
		out, err := svc.Decide(ctx, d)
		if err != nil || out.Approvals != 1 {
			t.Fatalf("fresh strong decision: %v %+v", err, out)
		}
	})
}

// TestRequesterOnlyPolicyRolesDoNotSeeEverything: a policy role no rule
// names as approver (here dev) lets people ask, not see all requests; an
// approving policy role (sre) and configured roles do.
func TestRequesterOnlyPolicyRolesDoNotSeeEverything(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	svc := approval.New(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, submitPolicy)}})
	for _, c := range []struct {
		roles []string
		want  bool
	}{{[]string{"dev"}, false}, {[]string{"sre"}, true}, {[]string{"leads"}, true}, {[]string{"auditor"}, true}, {[]string{"dev", "approver"}, true}, {nil, false}} {
		if got := svc.SeesAll(approver("x", "x", c.roles...)); got != c.want {
			t.Errorf("roles %v: SeesAll %v, want %v", c.roles, got, c.want)
		}
	}
}

// TestSubmitTakesTheConfiguredTTLWhenTheRuleSetsNone: a rule's own ttl
// wins; without one the service's DefaultTTL applies, and without that the
// package default.
func TestSubmitTakesTheConfiguredTTLWhenTheRuleSetsNone(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	src := strings.Replace(submitPolicy, "      ttl: 90m\n", "", 1)
	if src == submitPolicy {
		t.Fatal("the test policy no longer has the ttl line this test removes")
	}
	pol := fixedPolicy{loadPolicy(t, src)}
	for _, tc := range []struct {
		cfg  time.Duration
		want time.Duration
	}{{3 * time.Hour, 3 * time.Hour}, {0, approval.DefaultRequestTTL}} {
		svc := approval.New(s, approval.Config{Policy: pol, DefaultTTL: tc.cfg})
		sub, err := svc.Submit(context.Background(), submitReq("prod"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		if got := sub.Request.ExpiresAt.Sub(sub.Request.CreatedAt); got != tc.want {
			t.Errorf("DefaultTTL %s: request waits %s, want %s", tc.cfg, got, tc.want)
		}
	}
}
