package approval

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
)

// PolicySource gives the policy in force; *policy.Holder is one.
type PolicySource interface {
	Current() *policy.Policy
}

// Defaults apply when the policy's outcome leaves a value unset.
const (
	DefaultRequestTTL = time.Hour
)

// Submitted is what Submit did: the stored request and the policy outcome
// that decided its fate.
type Submitted struct {
	Request *models.Request
	Outcome policy.Outcome
}

// Submit opens a request under the policy in force: the action must be in
// the catalogue with valid parameters (and a purpose when the action needs
// one); the first matching rule decides whether it is denied, approved on
// its own, or waits for approvers. Denied and auto-approved requests are
// still stored and audited; creation and that first move commit together.
// in.RequiredApprovals, in.TTL and in.PolicyRef are set from the outcome.
// Bad input is *models.ValidationError and nothing is stored.
func (s *Service) Submit(ctx context.Context, in NewRequest, roles []string) (*Submitted, error) {
	if s.cfg.Policy == nil || s.cfg.Policy.Current() == nil {
		return nil, fmt.Errorf("approval: submit: no policy is loaded: %w", models.ErrForbidden)
	}
	p := s.cfg.Policy.Current()
	now := s.clock()
	if in.Kind == models.KindAction {
		act, ok := p.Action(in.Action)
		if !ok {
			return nil, models.Invalid("action", fmt.Sprintf("%q is not in the action catalogue", in.Action))
		}
		params, err := act.CheckParams(in.Params)
		if err != nil {
			return nil, err
		}
		in.Params = params
		if act.PurposeRequired && in.Purpose == "" {
			return nil, models.Invalid("purpose", fmt.Sprintf("%s needs a purpose (after --)", act.Name))
		}
	}
	out := p.Evaluate(policy.Input{
		Action: in.Action, Params: in.Params, Purpose: in.Purpose,
		Requester: policy.Requester{Type: string(in.Requester.Type), ID: in.Requester.ID, Name: in.Requester.Display, Roles: roles, Sponsor: in.Requester.SponsorName},
		Source:    policy.Source{Team: in.Source.TeamName, Channel: in.Source.ChannelName},
		Time:      now,
	})
	in.PolicyRef = p.Ref
	if out.Rule != "" {
		in.PolicyRef = p.Ref + "#" + out.Rule
	}
	in.TTL = out.RequestTTL
	if in.TTL <= 0 {
		in.TTL = DefaultRequestTTL
	}
	in.RequiredApprovals = max(out.Approvals, 1)
	req, posts, calls, err := prepare(in, now)
	if err != nil {
		return nil, err
	}
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		if err := s.insert(tx, req, posts, calls, in.Requester, now); err != nil {
			return err
		}
		var to models.State
		switch out.Kind {
		case policy.OutcomeDeny:
			to = models.StateDenied
		case policy.OutcomeAutoApprove:
			to = models.StateApproved
		default:
			return nil
		}
		actor := models.SystemActor("policy")
		if err := s.bump(tx, req, to, now, actor, out.Explanation); err != nil {
			return err
		}
		return s.runHooks(tx, Change{Kind: ChangeMoved, Request: req, From: models.StatePending, To: to, Actor: actor, Reason: out.Explanation, At: now})
	})
	if err != nil {
		return nil, fmt.Errorf("approval: submit: %w", err)
	}
	req.Posts, req.ToolCalls = posts, calls
	return &Submitted{Request: req, Outcome: out}, nil
}
