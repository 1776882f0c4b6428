package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/policy"
)

// PolicySource gives the policy in force; *policy.Holder is one.
type PolicySource interface {
	Current() *policy.Policy
}

// WindowSource tells which change windows are open; *window.Service is one.
type WindowSource interface {
	OpenWindowNames(ctx context.Context, at time.Time) ([]string, error)
}

// Defaults apply when the policy's outcome leaves a value unset.
const (
	DefaultRequestTTL = time.Hour
)

// ErrNoPolicy: Submit was called while no policy is loaded.
var ErrNoPolicy = fmt.Errorf("no policy is loaded, so no request can be opened: %w", models.ErrForbidden)

// ErrNotRequester: the requester's roles may not ask for this action.
var ErrNotRequester = fmt.Errorf("your roles may not ask for this action: %w", models.ErrForbidden)

// Submitted is what Submit did: the stored request and the policy outcome
// that decided its fate.
type Submitted struct {
	Request *models.Request
	Outcome policy.Outcome
}

// Submit opens a request under the policy in force: the action must be in
// the catalogue with valid parameters (and a purpose when the action needs
// one) and the requester's roles must be among its requesters; a window
// request (Kind window, Action window.open) must name a declared window and
// a duration within its limit. The first matching rule, seeing the open
// change windows, decides whether the request is denied, approved on its
// own, or waits for approvers; the rule's settings (approver roles,
// step-up, grant lifetime, escalation, reminders, explanation) are stored on
// the request. Denied and auto-approved requests are still stored and
// audited; creation and that first move commit together. A rule that failed
// to evaluate denies the request and its error is audited as
// "policy.error" in the same transaction. Bad input is
// *models.ValidationError and nothing is stored.
func (s *Service) Submit(ctx context.Context, in NewRequest, roles []string) (*Submitted, error) {
	if s.cfg.Policy == nil || s.cfg.Policy.Current() == nil {
		return nil, fmt.Errorf("approval: submit: %w", ErrNoPolicy)
	}
	p := s.cfg.Policy.Current()
	now := s.clock()
	if err := s.checkAgainstCatalogue(p, &in, roles); err != nil {
		return nil, err
	}
	var open []string
	if s.cfg.Windows != nil {
		var err error
		if open, err = s.cfg.Windows.OpenWindowNames(ctx, now); err != nil {
			return nil, fmt.Errorf("approval: submit: open windows: %w", err)
		}
	}
	out := p.Evaluate(policy.Input{
		Action: in.Action, Params: in.Params, Purpose: in.Purpose,
		Requester: policy.Requester{Type: string(in.Requester.Type), ID: in.Requester.ID, Name: in.Requester.Display, Roles: roles, Sponsor: in.Requester.SponsorName},
		Source:    policy.Source{Team: in.Source.TeamName, Channel: in.Source.ChannelName},
		Time:      now, OpenWindows: open,
	})
	in.PolicyRef = p.Ref
	if out.Rule != "" {
		in.PolicyRef = p.Ref + "#" + out.Rule
	}
	in.TTL = out.RequestTTL
	if in.TTL <= 0 {
		in.TTL = s.cfg.DefaultTTL
	}
	if in.TTL <= 0 {
		in.TTL = DefaultRequestTTL
	}
	in.RequiredApprovals = max(out.Approvals, 1)
	req, posts, calls, err := prepare(in, now)
	if err != nil {
		return nil, err
	}
	req.ApprovalRules = rulesFrom(out)
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		if err := s.insert(tx, req, posts, calls, in.Requester, now); err != nil {
			return err
		}
		actor := models.SystemActor("policy")
		if out.Err != nil {
			// Fail closed, but visibly: the rule's error is part of the record.
			if _, err := audit.Append(tx, now, audit.Entry{
				Type: "policy.error", Actor: actor, RequestID: req.ID, Purpose: req.Purpose, Action: req.Action, PolicyRef: req.PolicyRef,
				Payload: map[string]any{"rule": out.Rule, "error": out.Err.Error(), "outcome": string(out.Kind)},
			}); err != nil {
				return err
			}
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

// CheckRequest applies the rule Submit starts with — the policy in
// force's catalogue (or its window declarations) and who may ask — to in,
// and normalises its parameters. Entry points call it before they do
// anything costly (reading the conversation from chat), so bad input is
// refused at once, in the same words whichever way it came. Bad input is
// *models.ValidationError; a requester who may not ask is ErrNotRequester;
// without a policy ErrNoPolicy.
func (s *Service) CheckRequest(in *NewRequest, roles []string) error {
	if s.cfg.Policy == nil || s.cfg.Policy.Current() == nil {
		return fmt.Errorf("approval: check: %w", ErrNoPolicy)
	}
	return s.checkAgainstCatalogue(s.cfg.Policy.Current(), in, roles)
}

// checkAgainstCatalogue validates in against the policy's catalogue (or
// its window declarations) and normalises its parameters.
func (s *Service) checkAgainstCatalogue(p *policy.Policy, in *NewRequest, roles []string) error {
	params, err := p.CheckRequest(in.Kind, in.Action, in.Params, in.Purpose, roles)
	if errors.Is(err, policy.ErrMayNotRequest) {
		return fmt.Errorf("approval: submit %s: %w", in.Action, ErrNotRequester)
	}
	if err != nil {
		return err
	}
	in.Params = params
	return nil
}
