package mcpgate_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/mcpgate"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/terms"
)

const gatePolicy = `version: 1
actions:
  - name: restart
    mcp_tool: ops/restart_service
    params:
      - {name: service, required: true}
rules:
  - name: staging
    when: request.params.service == "staging-api"
    auto_approve: {}
`

var bot = models.Actor{Type: models.ActorAgent, ID: "aaaaaaaaaaaaaaaaaaaaaaaaaa", Display: "deploy-bot", SponsorID: "@dave", SponsorName: "dave"}

func newGate(t *testing.T) (*mcpgate.Service, *grant.Service) {
	t.Helper()
	return newGateOn(t, storetest.SQLite(t).Open(t), gatePolicy, true)
}

// newGateOn builds a gate on store with the policy text; idempotency says
// whether the approval service records idempotency keys, as it must.
func newGateOn(t *testing.T, store *models.Store, text string, idempotency bool) (*mcpgate.Service, *grant.Service) {
	t.Helper()
	var hook approval.Hook
	if idempotency {
		hook = agents.IdempotencyHook{}
	}
	return newGateWith(t, store, text, hook, nil)
}

// newGateWith builds a gate on store with the policy text, the approval
// service's Idempotency effect and clock (nil: time.Now).
func newGateWith(t *testing.T, store *models.Store, text string, idempotency approval.Hook, now func() time.Time) (*mcpgate.Service, *grant.Service) {
	t.Helper()
	p, err := policy.Parse("p.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	holder := policy.NewHolder(p)
	g, err := grant.New(store, grant.Config{Issuer: "https://countersign.test", SealKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx := approval.Effects{Idempotency: idempotency, Terms: terms.Hook(nil), Grant: g.Hook(), Execution: execution.Hook()}
	approvals := approval.New(store, approval.Config{Policy: holder, Effects: fx, Now: now})
	return mcpgate.New(mcpgate.Config{Store: store, Policy: holder, Approvals: approvals, Grants: g, Executions: execution.New(store, approvals, g, nil), Now: now}), g
}

func TestVerdicts(t *testing.T) {
	ctx := context.Background()
	gate, grants := newGate(t)
	call := func(args map[string]any, requestID string) *mcpgate.Gate {
		t.Helper()
		g, err := gate.Decide(ctx, mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: args, RequestID: requestID}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g, _ := gate.Decide(ctx, mcpgate.Call{Agent: bot, Server: "ops", Tool: "service_status"}, nil, ""); g.Verdict != mcpgate.Ungated {
		t.Fatalf("status tool: %s", g.Verdict)
	}
	if g := call(map[string]any{"service": "staging-api", "extra": 1}, ""); g.Verdict != mcpgate.Refused || g.Request != nil {
		t.Fatalf("unknown parameter: %s %v", g.Verdict, g.Request)
	}
	// No rule matches prod: default deny, stored and refused.
	if g := call(map[string]any{"service": "prod-api"}, ""); g.Verdict != mcpgate.Refused || g.Request == nil || g.Request.State != models.StateDenied {
		t.Fatalf("default deny: %+v", g)
	}
	g := call(map[string]any{"service": "staging-api"}, "")
	if g.Verdict != mcpgate.Ready {
		t.Fatalf("auto-approved: %s", g.Verdict)
	}
	// The grant is spent but the run never recorded (the gateway stopped
	// while forwarding): the call is in flight and is not run again.
	tok, err := grants.Token(ctx, g.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grants.RedeemRequest(ctx, g.Request.ID, tok, g.ParamsHash(), bot); err != nil {
		t.Fatal(err)
	}
	again := call(map[string]any{"service": "staging-api"}, "")
	if again.Verdict != mcpgate.InFlight || again.Request.ID != g.Request.ID {
		t.Fatalf("after a spent grant without a result: %s %s", again.Verdict, again.Request.ID)
	}
	ran := false
	_, _, err = gate.Run(ctx, again, bot, func(context.Context, json.RawMessage) mcpgate.Outcome { ran = true; return mcpgate.Outcome{} })
	if ran || err == nil {
		t.Fatalf("running an in-flight call: ran=%v err=%v", ran, err)
	}
}
