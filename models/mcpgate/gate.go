// Package mcpgate decides what happens to a tool call an agent makes
// through Countersign's MCP gateway. A call of a tool that the policy
// catalogue maps to an action (mcp_tool) is a request for that action,
// its arguments the parameters: it is checked against the catalogue and
// evaluated by the policy like any request (Submit), so a denial, an
// auto-approval and a wait for approvers are stored and audited the same
// way. A call that may run is run by the gateway itself: it redeems the
// request's single-use grant with the digest of the call's own canonical
// arguments (so a call whose arguments differ from the approved ones is
// refused and audited by the grant), forwards exactly the approved
// parameters, and records the upstream's answer as the execution. Held
// calls live in the requests table, not in memory: a gateway restarted
// while a call waits finds the request again when the agent repeats the
// call, and the grant's compare-and-swap makes sure nothing runs twice.
// The package knows nothing of HTTP or of the MCP wire format.
package mcpgate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/policy"
)

// Verdict says what the gateway does with a call.
type Verdict string

// The verdicts.
const (
	// Ungated: no action is mapped to the tool; the call passes through.
	Ungated Verdict = "ungated"
	// Refused: the call may not run (policy denial, bad arguments, a
	// request that ended); Reason says why.
	Refused Verdict = "refused"
	// Waiting: the request waits for approvers; the call is held.
	Waiting Verdict = "waiting"
	// Ready: the request is approved and its grant unspent: run it.
	Ready Verdict = "ready"
	// Ran: the approved call ran already (Execution says how); it is not
	// run again.
	Ran Verdict = "ran"
	// InFlight: the grant was spent but no result is on record: the call
	// may be running, or the gateway stopped while it ran. It is not run
	// again.
	InFlight Verdict = "in_flight"
)

// Call is one tools/call as the gateway saw it.
type Call struct {
	// Agent is the authenticated agent and Roles its policy roles.
	Agent models.Actor
	Roles []string
	// Server and Tool name the upstream tool.
	Server, Tool string
	// Arguments are the call's arguments (a JSON object).
	Arguments map[string]any
	// Purpose is the reason the agent gives (the call's _meta).
	Purpose string
	// RequestID, when set, is the request the agent resumes.
	RequestID string
	// Chain is what the gateway observed the agent do earlier in the
	// same MCP session, stored as the request's tool chain.
	Chain []models.ToolCall
}

// Conversation is the chat context of a new request: where its proposal
// was posted and what was captured there.
type Conversation struct {
	Source   models.Source
	Posts    []models.ConversationPost
	Warnings []string
	// ProposalPostID and ProposalText are the proposal post the Proposer
	// made and its text (a Superseder marks that post).
	ProposalPostID, ProposalText string
}

// Proposal is what a Proposer announces in chat before the request is
// stored.
type Proposal struct {
	Agent   models.Actor
	Action  string
	Params  map[string]any
	Purpose string
	// Thread is the post id the agent named to hold the conversation;
	// empty means the configured channel.
	Thread string
}

// Proposer posts a proposal in chat and captures its conversation.
type Proposer interface {
	Propose(ctx context.Context, p Proposal) (*Conversation, error)
}

// Gate is the decision on one call.
type Gate struct {
	Verdict Verdict
	// Action is the catalogue action (empty when Ungated).
	Action string
	// Request is the request the call belongs to (nil when Ungated or
	// refused before anything was stored).
	Request *models.Request
	// Reason explains a refusal or a wait, for the agent.
	Reason string
	// Execution is the recorded run when Verdict is Ran.
	Execution *execution.Execution
	// paramsHash is the hex SHA-256 of the call's canonical parameters.
	paramsHash string
}

// ParamsHash is the hex SHA-256 of the call's canonical parameters, as
// checked against the grant.
func (g *Gate) ParamsHash() string { return g.paramsHash }

// PolicySource gives the policy in force.
type PolicySource interface {
	Current() *policy.Policy
}

// Service decides and runs gated calls.
type Service struct {
	store     *models.Store
	policy    PolicySource
	approvals *approval.Service
	grants    *grant.Service
	exec      *execution.Service
	now       func() time.Time
}

// Config wires a Service.
type Config struct {
	Store  *models.Store
	Policy PolicySource
	// Approvals must record idempotency keys (its Effects.Idempotency is
	// agents.IdempotencyHook): new requests are opened under one (open.go).
	Approvals  *approval.Service
	Grants     *grant.Service
	Executions *execution.Service
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: cfg.Store, policy: cfg.Policy, approvals: cfg.Approvals, grants: cfg.Grants, exec: cfg.Executions, now: cfg.Now}
}

// PolicyRef identifies the policy in force (empty without one): what
// the gateway lists and gates changes with it.
func (s *Service) PolicyRef() string {
	if p := s.policy.Current(); p != nil {
		return p.Ref
	}
	return ""
}

// Gated reports whether a call of server's tool is a request for an
// action, and which.
func (s *Service) Gated(server, tool string) (string, bool) {
	p := s.policy.Current()
	if p == nil {
		return "", false
	}
	a, ok := p.ActionForTool(server, tool)
	if !ok {
		return "", false
	}
	return a.Name, true
}

// MayCall reports whether an agent with roles may see and call the tool:
// every ungated tool, and gated tools whose action its roles may request.
func (s *Service) MayCall(server, tool string, roles []string) bool {
	p := s.policy.Current()
	if p == nil {
		return true
	}
	a, ok := p.ActionForTool(server, tool)
	return !ok || a.MayRequest(roles)
}

// Decide finds or opens the request a call belongs to and says what to do
// with it. A call the agent repeats (same tool, same canonical arguments)
// while its request waits or is approved resumes that request, as does a
// call naming the request (RequestID). Otherwise a new request is opened
// (open.go): proposer (may be nil) posts the proposal and captures the
// conversation, and the policy decides; a denied or auto-approved request
// is on record and audited before Decide returns. Identical calls that
// arrive together open one request, on one replica or several.
func (s *Service) Decide(ctx context.Context, c Call, proposer Proposer, thread string) (*Gate, error) {
	action, ok := s.Gated(c.Server, c.Tool)
	if !ok {
		return &Gate{Verdict: Ungated}, nil
	}
	in := approval.NewRequest{Kind: models.KindAction, Action: action, Params: c.Arguments, Purpose: c.Purpose, Requester: c.Agent}
	err := s.approvals.CheckRequest(&in, c.Roles)
	var ve *models.ValidationError
	switch {
	case errors.As(err, &ve):
		return &Gate{Verdict: Refused, Action: action, Reason: fmt.Sprintf("the arguments are not a valid %s request: %s %s", action, ve.Field, ve.Reason)}, nil
	case errors.Is(err, approval.ErrNotRequester):
		return &Gate{Verdict: Refused, Action: action, Reason: fmt.Sprintf("this agent may not request %s", action)}, nil
	case err != nil:
		return nil, fmt.Errorf("mcpgate: check %s: %w", action, err)
	}
	canon, err := contenthash.Canonical(in.Params)
	if err != nil {
		return &Gate{Verdict: Refused, Action: action, Reason: "the arguments are not JSON values"}, nil
	}
	hash := grant.ParamsHash(string(canon))
	r, err := s.resumable(ctx, c, action, string(canon))
	if err != nil {
		return nil, err
	}
	if r == nil {
		sub, joined, err := s.open(ctx, in, c, string(canon), hash, proposer, thread)
		if err != nil {
			return nil, err
		}
		if joined != nil {
			r = joined
		} else if r = sub.Request; r.State == models.StateDenied {
			reason := sub.Outcome.Reason
			if reason == "" {
				reason = sub.Outcome.Explanation
			}
			return &Gate{Verdict: Refused, Action: action, Request: r, Reason: "the policy denies this call: " + reason, paramsHash: hash}, nil
		}
	}
	g, err := s.stateOf(ctx, r)
	if err != nil {
		return nil, err
	}
	g.Action, g.paramsHash = action, hash
	return g, nil
}

// resumable finds the request a call continues: the one it names, or the
// agent's newest waiting or approved request for the same action and
// parameters.
func (s *Service) resumable(ctx context.Context, c Call, action, canonParams string) (*models.Request, error) {
	if c.RequestID != "" {
		r, err := s.approvals.Get(ctx, models.NormalizeRequestID(c.RequestID))
		if errors.Is(err, models.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("mcpgate: load %s: %w", c.RequestID, err)
		}
		if !r.RequestedBy(c.Agent) || r.Action != action {
			// Another agent's request, or another action: not this call's.
			return nil, nil
		}
		return r, nil
	}
	var rows []models.Request
	err := s.store.DB(ctx).Omit("Posts", "ToolCalls", "Decisions").
		// The states are written out, not bound: only then can SQLite (and
		// a generic PostgreSQL plan) use requests_open_by_requester, whose
		// WHERE names them (migration 0032).
		Where("requester_type = ? AND requester_id = ? AND action = ? AND params = ? AND state IN ('pending', 'approved')",
			models.ActorAgent, c.Agent.ID, action, canonParams).
		Order("created_at DESC").Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("mcpgate: find the request of %s: %w", action, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// stateOf turns the request's state into a verdict.
func (s *Service) stateOf(ctx context.Context, r *models.Request) (*Gate, error) {
	g := &Gate{Request: r}
	switch r.State {
	case models.StatePending:
		g.Verdict, g.Reason = Waiting, "waiting for approval of "+r.ID
	case models.StateApproved:
		gr, err := s.grants.Get(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("mcpgate: grant of %s: %w", r.ID, err)
		}
		g.Verdict = Ready
		if gr.RedeemedAt != nil {
			g.Verdict, g.Reason = InFlight, "the approved call of "+r.ID+" was started already; its result is not on record yet, and it is not run again"
		}
	case models.StateExecuted, models.StateFailed:
		ex, err := s.exec.Get(ctx, r.ID)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return nil, fmt.Errorf("mcpgate: execution of %s: %w", r.ID, err)
		}
		g.Verdict, g.Execution, g.Reason = Ran, ex, "the approved call of "+r.ID+" ran already; an approval is spent once"
	case models.StateDenied:
		g.Verdict, g.Reason = Refused, r.ID+" was denied: "+s.denial(ctx, r)
	default:
		g.Verdict, g.Reason = Refused, fmt.Sprintf("%s is %s", r.ID, r.State)
	}
	return g, nil
}

// denial words why request r was denied, from its audit record.
func (s *Service) denial(ctx context.Context, r *models.Request) string {
	var evs []models.AuditEvent
	err := s.store.DB(ctx).Where("request_id = ? AND type = ?", r.ID, "request.denied").Order("seq DESC").Limit(1).Find(&evs).Error
	if err == nil && len(evs) == 1 {
		var p struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal([]byte(evs[0].Payload), &p) == nil && p.Reason != "" {
			return p.Reason
		}
	}
	return "denied"
}

// Wait polls the state of request id until it leaves pending or until
// ends, and returns it. Each poll reads the state alone, one indexed
// row: a held call polls several times a second.
func (s *Service) Wait(ctx context.Context, id string, until time.Time, every time.Duration) (models.State, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var states []models.State
		if err := s.store.DB(ctx).Model(&models.Request{}).Where("id = ?", id).Pluck("state", &states).Error; err != nil {
			return "", fmt.Errorf("mcpgate: wait for %s: %w", id, err)
		}
		if len(states) != 1 {
			return "", fmt.Errorf("mcpgate: wait for %s: %w", id, models.ErrNotFound)
		}
		state := states[0]
		if state != models.StatePending || !time.Now().Before(until) {
			return state, nil
		}
		select {
		case <-ctx.Done():
			return state, ctx.Err()
		case <-t.C:
		}
	}
}

// Outcome is what the upstream answered to a forwarded call.
type Outcome struct {
	// Result is the upstream's answer as JSON (the MCP result object).
	Result json.RawMessage
	// Failed is true for an error result or no answer at all; Error
	// says why.
	Failed bool
	Error  string
}

// Forward sends the approved parameters (canonical JSON) upstream.
type Forward func(ctx context.Context, params json.RawMessage) Outcome

// Run spends the grant of an approved call and forwards it. The grant is
// redeemed as the agent with the digest of the call's own parameters, so a
// call whose arguments differ from the approved ones is refused (and
// audited) before anything runs, and a grant spent already is refused as
// replayed. The upstream's answer is recorded as the execution (audited,
// the request ends executed or failed). A refusal is *grant.RefusedError.
func (s *Service) Run(ctx context.Context, g *Gate, agent models.Actor, fwd Forward) (*execution.Execution, Outcome, error) {
	r := g.Request
	tok, err := s.grants.Token(ctx, r.ID)
	if err != nil {
		return nil, Outcome{}, fmt.Errorf("mcpgate: grant token of %s: %w", r.ID, err)
	}
	red, err := s.grants.RedeemRequest(ctx, r.ID, tok, g.paramsHash, agent)
	if err != nil {
		return nil, Outcome{}, err
	}
	started := s.now()
	out := fwd(ctx, json.RawMessage(red.Params))
	ended := s.now()
	res := execution.Result{Succeeded: !out.Failed, Error: out.Error, StartedAt: started, EndedAt: ended, Mode: execution.ModeGateway}
	if len(out.Result) > 0 {
		if len(out.Result) <= execution.MaxOutputBytes/2 {
			res.Output = out.Result
		} else {
			res.OutputDigest = "sha256:" + contenthash.Sum(out.Result)
		}
	}
	// The result is on record even when the agent has gone away.
	ex, err := s.exec.RecordResult(context.WithoutCancel(ctx), r.ID, res, agent)
	if err != nil {
		return nil, out, fmt.Errorf("mcpgate: record the result of %s: %w", r.ID, err)
	}
	return ex, out, nil
}
