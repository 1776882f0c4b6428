package approval

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// ErrNotYours: only the requester, or an agent's sponsor, may cancel (a
// request no longer pending is ErrNotPending).
var ErrNotYours = fmt.Errorf("only the requester (or the agent's sponsor) may cancel this request: %w", models.ErrForbidden)

// Canceller returns who cancels r when the chat account userID asks to:
// the requester of a person's request, the sponsor of an agent's (an agent
// cannot withdraw its own request; its accountable human can). ok is false
// for anyone else.
func Canceller(r *models.Request, userID string) (actor models.Actor, ok bool) {
	switch {
	case userID == "":
		return models.Actor{}, false
	case r.RequesterType == models.ActorAgent && userID == r.SponsorID:
		return models.Actor{Type: models.ActorHuman, ID: r.SponsorID, Display: r.SponsorName}, true
	case r.RequesterType == models.ActorHuman && userID == r.RequesterID:
		return r.Requester(), true
	}
	return models.Actor{}, false
}

// Cancel withdraws pending request id for the chat account userID, which
// must be allowed by Canceller; reason is recorded with the audited move.
// A request that is not pending (or moves meanwhile) is ErrNotPending.
func (s *Service) Cancel(ctx context.Context, id, userID, reason string) (*models.Request, error) {
	var r models.Request
	if err := s.store.DB(ctx).Omit("Posts", "ToolCalls", "Decisions").First(&r, "id = ?", id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("approval: cancel %s: %w", id, models.ErrNotFound)
		}
		return nil, fmt.Errorf("approval: cancel %s: %w", id, err)
	}
	actor, ok := Canceller(&r, userID)
	if !ok {
		return nil, fmt.Errorf("approval: cancel %s: %w", id, ErrNotYours)
	}
	if r.State != models.StatePending {
		return nil, fmt.Errorf("approval: cancel %s (%s): %w", id, r.State, ErrNotPending)
	}
	out, err := s.Move(ctx, Transition{ID: id, From: models.StatePending, To: models.StateCancelled, Actor: actor, Reason: reason})
	if errors.Is(err, models.ErrConflict) || errors.Is(err, models.ErrIllegalTransition) {
		return nil, fmt.Errorf("approval: cancel %s: %w", id, ErrNotPending)
	}
	return out, err
}
