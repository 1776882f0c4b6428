package mcpgate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
)

// Opening a request for a call.
//
// A call the agent repeats while its request is open resumes that request
// (resumable). Identical calls that arrive together, before any request
// exists, would each find none; so each new request is opened under an
// idempotency key of its own (agents.WithIdempotency, recorded in the
// creating transaction by the approval service's Idempotency effect): the
// key names the agent's call — action and canonical arguments — and the
// newest request the agent already has for that call, whatever its state.
// Calls that race compute the same key and exactly one creation commits,
// on one replica or several (the key is the table's primary key); the
// others find the winner's request under the key and join it. A call made
// after that request ended (denied, executed, expired) sees it as the
// newest and gets a new key, so it opens a new request, as a retry should;
// one that finds it still open joins it. (A request the policy denies or
// approves and runs at once may have ended before a racing call looks: that
// call is then a retry, as it would be a moment later.)
//
// The proposal is posted before the request is stored (its conversation is
// part of what is approved), so a call that loses the race has posted one
// too: it says under it which request carries the call (Superseder).

// Superseder is implemented by a Proposer that can say, under a proposal
// it posted, that the call joined a request another identical call opened
// at the same moment.
type Superseder interface {
	Superseded(ctx context.Context, conv *Conversation, req *models.Request) error
}

// keyPrefix starts the idempotency keys of gated calls; an agent's own
// Idempotency-Key header is recorded under its name, these under its bot
// user id.
const keyPrefix = "mcp:"

// open stores a new request for the call, or, when an identical call
// opened one at the same moment, returns that request as joined (sub is
// then nil).
func (s *Service) open(ctx context.Context, in approval.NewRequest, c Call, canon, paramsHash string, proposer Proposer, thread string) (sub *approval.Submitted, joined *models.Request, err error) {
	if !s.approvals.RecordsIdempotency() {
		// Without it identical calls racing would open a request each.
		return nil, nil, errors.New("mcpgate: the approval service does not record idempotency keys (approval.Effects.Idempotency)")
	}
	key, newest, err := s.openKey(ctx, c, in.Action, canon)
	if err != nil {
		return nil, nil, err
	}
	if newest != nil && (newest.State == models.StatePending || newest.State == models.StateApproved) {
		// Opened since resumable looked: join it.
		r, err := s.approvals.Get(ctx, newest.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("mcpgate: load %s: %w", newest.ID, err)
		}
		return nil, r, nil
	}
	// Joined already (the winner committed before this call looked).
	if r, err := s.byKey(ctx, c, key, in.Action, canon); err != nil || r != nil {
		return nil, r, err
	}
	in.ToolCalls = c.Chain
	var conv *Conversation
	if proposer != nil {
		conv, err = proposer.Propose(ctx, Proposal{Agent: c.Agent, Action: in.Action, Params: in.Params, Purpose: in.Purpose, Thread: thread})
		if err != nil {
			return nil, nil, fmt.Errorf("mcpgate: propose %s: %w", in.Action, err)
		}
		in.Source, in.Posts, in.CaptureWarnings = conv.Source, conv.Posts, conv.Warnings
	}
	sub, err = s.approvals.Submit(agents.WithIdempotency(ctx, c.Agent.ID, key, paramsHash), in, c.Roles)
	if agents.IsKeyReused(err) {
		r, err := s.byKey(ctx, c, key, in.Action, canon)
		if err != nil {
			return nil, nil, err
		}
		if r == nil {
			return nil, nil, fmt.Errorf("mcpgate: the request of %s under its key: %w", in.Action, models.ErrNotFound)
		}
		if sup, ok := proposer.(Superseder); ok && conv != nil {
			// Best effort: the call has its request either way.
			_ = sup.Superseded(context.WithoutCancel(ctx), conv, r)
		}
		return nil, r, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mcpgate: submit %s: %w", in.Action, err)
	}
	return sub, nil, nil
}

// newestRequest is the id and state of the agent's newest request for a
// call.
type newestRequest struct {
	ID    string
	State models.State
}

// openKey is the idempotency key of a new request for the call: the
// action, the canonical arguments and the agent's newest request for them
// (none, or its id), hashed. It returns that request too: one that is
// still open was opened since resumable looked, and the call joins it.
func (s *Service) openKey(ctx context.Context, c Call, action, canon string) (string, *newestRequest, error) {
	var rows []newestRequest
	err := s.store.DB(ctx).Model(&models.Request{}).Select("id", "state").
		Where("requester_type = ? AND requester_id = ? AND action = ? AND params = ?", models.ActorAgent, c.Agent.ID, action, canon).
		Order("created_at DESC").Order("id DESC").Limit(1).Find(&rows).Error
	if err != nil {
		return "", nil, fmt.Errorf("mcpgate: the newest request of %s: %w", action, err)
	}
	var newest *newestRequest
	prev := ""
	if len(rows) == 1 {
		newest, prev = &rows[0], rows[0].ID
	}
	h := sha256.New()
	for _, part := range []string{action, canon, prev} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	return keyPrefix + hex.EncodeToString(h.Sum(nil)), newest, nil
}

// byKey returns the request opened under key, nil when there is none. A
// request under the key that is not this agent's call of action with these
// arguments (the agent chose such a key itself, through the HTTP API) is
// an error, not a request to join.
func (s *Service) byKey(ctx context.Context, c Call, key, action, canon string) (*models.Request, error) {
	rec, err := agents.FindIdempotent(ctx, s.store, c.Agent.ID, key)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mcpgate: %w", err)
	}
	r, err := s.approvals.Get(ctx, rec.RequestID)
	if err != nil {
		return nil, fmt.Errorf("mcpgate: load %s: %w", rec.RequestID, err)
	}
	if !r.RequestedBy(c.Agent) || r.Action != action || r.Params != canon {
		return nil, fmt.Errorf("mcpgate: request %s under the call's key is another call's: %w", r.ID, models.ErrConflict)
	}
	return r, nil
}
