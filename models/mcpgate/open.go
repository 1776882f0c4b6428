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
// idempotency key (agents.WithIdempotency, recorded in the creating
// transaction by the approval service's Idempotency effect), and the keys
// of one call — the agent's calls of one action with the same canonical
// arguments — form a chain: the first is the hash of the call, each next
// one the hash of the call and the request opened under the one before.
// A call walks the chain to its first key that has no record and opens
// its request under that key. Calls that race walk to the same key, and
// exactly one creation commits, on one replica or several (the key is the
// table's primary key); the others find the winner's request under the
// key and join it. A call that finds the request of a recorded key still
// open joins it too (it was opened since resumable looked). A call made
// after the request ended (denied, ran, expired) walks past it and opens a
// new request, as a retry should. The chain follows what was committed,
// not clocks: replicas whose clocks differ, or two requests created in the
// same microsecond, cannot make a call find an old key again.
//
// The proposal is posted before the request is stored (its conversation is
// part of what is approved), so a call that loses the race has posted one
// too: it marks that proposal with the request that carries the call
// (Superseder).

// Superseder is implemented by a Proposer that can mark a proposal it
// posted as superseded: the call joined a request another identical call
// opened at the same moment.
type Superseder interface {
	Superseded(ctx context.Context, conv *Conversation, req *models.Request) error
}

// keyPrefix starts the idempotency keys of gated calls; an agent's own
// Idempotency-Key header is recorded under its name, these under its bot
// user id.
const keyPrefix = "mcp:"

// openAttempts bounds how often a call tries again to open its request
// when the key it lost to was not committed after all (the winner's
// transaction failed after the key was taken in it).
const openAttempts = 3

// open stores a new request for the call, or, when an identical call
// opened one at the same moment, returns that request as joined (sub is
// then nil).
func (s *Service) open(ctx context.Context, in approval.NewRequest, c Call, canon, paramsHash string, proposer Proposer, thread string) (sub *approval.Submitted, joined *models.Request, err error) {
	if !s.approvals.RecordsIdempotency() {
		// Without it identical calls racing would open a request each.
		return nil, nil, errors.New("mcpgate: the approval service does not record idempotency keys (approval.Effects.Idempotency)")
	}
	in.ToolCalls = c.Chain
	var conv *Conversation
	join := func(id string) (*approval.Submitted, *models.Request, error) {
		r, err := s.approvals.Get(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("mcpgate: load %s: %w", id, err)
		}
		if sup, ok := proposer.(Superseder); ok && conv != nil {
			// Best effort (the Superseder says why it failed): the
			// call has its request either way.
			_ = sup.Superseded(context.WithoutCancel(ctx), conv, r)
		}
		return nil, r, nil
	}
	for attempt := 1; ; attempt++ {
		key, openID, err := s.openKey(ctx, c, in.Action, canon)
		if err != nil {
			return nil, nil, err
		}
		if openID != "" {
			return join(openID)
		}
		if proposer != nil && conv == nil {
			conv, err = proposer.Propose(ctx, Proposal{Agent: c.Agent, Action: in.Action, Params: in.Params, Purpose: in.Purpose, Thread: thread})
			if err != nil {
				return nil, nil, fmt.Errorf("mcpgate: propose %s: %w", in.Action, err)
			}
			in.Source, in.Posts, in.CaptureWarnings = conv.Source, conv.Posts, conv.Warnings
		}
		sub, err = s.approvals.Submit(agents.WithIdempotency(ctx, c.Agent.ID, key, paramsHash), in, c.Roles)
		if err == nil {
			return sub, nil, nil
		}
		if !agents.IsKeyReused(err) {
			return nil, nil, fmt.Errorf("mcpgate: submit %s: %w", in.Action, err)
		}
		// Another call took the key: join its request, whatever its
		// state (the race's one request) — unless its creation did not
		// commit after all; then walk again.
		link, err := s.link(ctx, c, key, in.Action, canon)
		if err != nil {
			return nil, nil, err
		}
		if link != nil {
			return join(link.RequestID)
		}
		if attempt == openAttempts {
			return nil, nil, fmt.Errorf("mcpgate: open %s: its key was taken %d times by creations that did not commit", in.Action, attempt)
		}
	}
}

// chainKey is the key after prev in the chain of a call (the first key
// when prev is empty).
func chainKey(action, canon, prev string) string {
	h := sha256.New()
	for _, part := range []string{action, canon, prev} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	return keyPrefix + hex.EncodeToString(h.Sum(nil))
}

// openKey walks the call's chain of keys and returns its first key without
// a record; or, when the request recorded under a key is still open, that
// request's id (openID), which the call joins.
func (s *Service) openKey(ctx context.Context, c Call, action, canon string) (key, openID string, err error) {
	prev := ""
	for {
		key = chainKey(action, canon, prev)
		l, err := s.link(ctx, c, key, action, canon)
		if err != nil {
			return "", "", err
		}
		if l == nil {
			return key, "", nil
		}
		if l.State == models.StatePending || l.State == models.StateApproved {
			return key, l.RequestID, nil
		}
		prev = l.RequestID
	}
}

// chainLink is a key's record: the request opened under it and that
// request's state (empty if the request is gone).
type chainLink struct {
	RequestID string
	State     models.State
}

// link returns the record of key, nil when there is none. A record whose
// request is not this agent's call of action with these arguments (a key
// the agent chose itself) is an error, not a request to join.
func (s *Service) link(ctx context.Context, c Call, key, action, canon string) (*chainLink, error) {
	var rows []struct {
		RequestID                   string
		State                       *models.State
		RequesterType               *models.ActorType
		RequesterID, Action, Params *string
	}
	err := s.store.DB(ctx).Raw(`SELECT i.request_id, r.state, r.requester_type, r.requester_id, r.action, r.params `+
		`FROM agent_idempotency i LEFT JOIN requests r ON r.id = i.request_id WHERE i.agent = ? AND i.idem_key = ?`, c.Agent.ID, key).
		Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("mcpgate: the request of %s under its key: %w", action, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	row := rows[0]
	l := &chainLink{RequestID: row.RequestID}
	if row.State == nil {
		return l, nil // the request is gone: an ended link
	}
	if *row.RequesterType != models.ActorAgent || *row.RequesterID != c.Agent.ID || *row.Action != action || *row.Params != canon {
		return nil, fmt.Errorf("mcpgate: request %s under the call's key is another call's: %w", row.RequestID, models.ErrConflict)
	}
	l.State = *row.State
	return l, nil
}
