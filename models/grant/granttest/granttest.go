// Package granttest builds a store with the approval service, terms and
// grants wired together, and approved requests, for the tests of grants,
// executions, follow-ups and executors.
package granttest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/clocktest"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/terms"
)

// Clock is a settable clock shared by every service of an Env.
type Clock = clocktest.Clock

// SealKey is the seal key of the test services: as in the portal, the
// signing keys are stored sealed.
var SealKey = []byte("0123456789abcdef0123456789abcdef")

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return clocktest.At(t) }

// Issuer is the grants' issuer in tests.
const Issuer = "https://countersign.test"

// Start is the clock's initial time.
var Start = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// Env is a store with the services wired as the portal wires them.
type Env struct {
	Store     *models.Store
	Clock     *Clock
	Approvals *approval.Service
	Grants    *grant.Service
	// Terms is consulted for every created request; tests set it.
	Terms terms.Terms
}

// New wires the services on store: the terms and grant effects, plus
// execution when the test passes it (execution.Hook).
func New(t testing.TB, store *models.Store, execution ...approval.Hook) *Env {
	t.Helper()
	return NewIssuer(t, store, Issuer, execution...)
}

// NewIssuer is New with another issuer (a test server's URL).
func NewIssuer(t testing.TB, store *models.Store, issuer string, execution ...approval.Hook) *Env {
	t.Helper()
	e := &Env{Store: store, Clock: NewClock(Start), Terms: terms.Terms{Executor: "deployer"}}
	g, err := grant.New(store, grant.Config{Issuer: issuer, Now: e.Clock.Now, SealKey: SealKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Grants = g
	fx := approval.Effects{Terms: terms.Hook(func(*models.Request) terms.Terms { return e.Terms }), Grant: g.Hook()}
	if len(execution) > 0 {
		fx.Execution = execution[0]
	}
	e.Approvals = approval.New(store, approval.Config{Now: e.Clock.Now, ApproverRoles: []string{"approver"}, Effects: fx})
	return e
}

// Human and Agent are requesters; OtherAgent is an agent that is not
// Agent, for the refusals of acting on Agent's requests.
var (
	Human      = models.Actor{Type: models.ActorHuman, ID: "mm-carol", Display: "carol"}
	Agent      = models.Actor{Type: models.ActorAgent, ID: "b-deploy", Display: "deploy-bot", SponsorID: "mm-dave", SponsorName: "dave"}
	OtherAgent = models.Actor{Type: models.ActorAgent, ID: "b-other", Display: "deploy-bot", SponsorID: "mm-dave", SponsorName: "dave"}
)

// Approver returns a person allowed to decide.
func Approver(name string) approval.Approver {
	return approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "sub-" + name, Display: name}, Username: name, Roles: []string{"approver"}}
}

// NewRequest returns a restart request by requester needing n approvals.
func NewRequest(requester models.Actor, n int) approval.NewRequest {
	return approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "payments-api", "env": "prod", "replicas": 3},
		Purpose: "OOM loop, INC-4211", Requester: requester,
		Source: models.Source{TeamID: "t1", TeamName: "ops", ChannelID: "c1", ChannelName: "incidents"},
		ToolCalls: []models.ToolCall{{
			CallID: "c1", Tool: "metrics.query", Input: `{"q":"oom"}`, Output: `{"kills":12}`, Status: models.ToolCallOK,
			StartedAt: Start.Add(-time.Minute), EndedAt: Start.Add(-time.Minute + time.Second),
		}},
		TTL: time.Hour, RequiredApprovals: n, PolicyRef: "test",
	}
}

// Create opens a request.
func (e *Env) Create(t testing.TB, in approval.NewRequest) *models.Request {
	t.Helper()
	r, err := e.Approvals.Create(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Decide records a verdict by approver on r's current content.
func (e *Env) Decide(r *models.Request, a approval.Approver, v models.Verdict) (*approval.Outcome, error) {
	comment := ""
	if v == models.VerdictDeny {
		comment = "not now"
	}
	return e.Approvals.Decide(context.Background(), approval.Decision{
		RequestID: r.ID, Approver: a, Verdict: v, Comment: comment, ContentHash: r.ContentHash,
		StepUp: approval.StepUp{AuthTime: e.Clock.Now(), ACR: "mfa", AMR: []string{"otp"}, IDTokenHash: strings.Repeat("ab", 32)},
	})
}

// Approved opens a request by requester and approves it with alice.
func (e *Env) Approved(t testing.TB, requester models.Actor) *models.Request {
	t.Helper()
	r := e.Create(t, NewRequest(requester, 1))
	out, err := e.Decide(r, Approver("alice"), models.VerdictApprove)
	if err != nil {
		t.Fatal(err)
	}
	if out.Request.State != models.StateApproved {
		t.Fatalf("request is %s after approval", out.Request.State)
	}
	return out.Request
}

// Issued opens a request by requester, approves it with alice and returns
// it with its grant's token.
func (e *Env) Issued(t testing.TB, requester models.Actor) (*models.Request, string) {
	t.Helper()
	r := e.Approved(t, requester)
	tok, err := e.Grants.Token(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r, tok
}

// Redeemed opens a request by requester, approves it with alice and
// redeems its grant as requester.
func (e *Env) Redeemed(t testing.TB, requester models.Actor) *models.Request {
	t.Helper()
	r := e.Approved(t, requester)
	e.Redeem(t, r, requester)
	return r
}

// Redeem redeems the grant of the approved request r as requester.
func (e *Env) Redeem(t testing.TB, r *models.Request, requester models.Actor) {
	t.Helper()
	ctx := context.Background()
	g, err := e.Grants.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.Grants.Token(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Grants.Redeem(ctx, tok, g.ParamsSHA256, requester); err != nil {
		t.Fatal(err)
	}
}

// State returns the state request id is in now.
func (e *Env) State(t testing.TB, id string) models.State {
	t.Helper()
	r, err := e.Approvals.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

// Events returns the audit events of the given type, in order.
func (e *Env) Events(t testing.TB, typ string) []models.AuditEvent {
	t.Helper()
	var evs []models.AuditEvent
	if err := e.Store.DB(context.Background()).Where("type = ?", typ).Order("seq").Find(&evs).Error; err != nil {
		t.Fatal(err)
	}
	return evs
}
