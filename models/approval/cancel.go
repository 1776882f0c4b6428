package approval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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
	return cancellerOf(r, userID, "")
}

// cancellerOf is Canceller for a person known by id or by chat username
// (the portal knows both).
func cancellerOf(r *models.Request, id, username string) (actor models.Actor, ok bool) {
	switch {
	case id == "" && username == "":
		return models.Actor{}, false
	case r.SponsoredBy(id, username):
		return models.Actor{Type: models.ActorHuman, ID: r.SponsorID, Display: r.SponsorName}, true
	case r.RequesterType == models.ActorHuman && r.MadeBy(id, username):
		return r.Requester(), true
	}
	return models.Actor{}, false
}

// MovedError says a request has left pending, so it can no longer be
// cancelled, and where it stands now: the state, who moved it there and
// when (from the audit event of that move; By is empty for Countersign's
// own moves, such as expiry, and when the event cannot be found).
// It matches ErrNotPending (and so models.ErrConflict).
type MovedError struct {
	ID    string
	State models.State
	By    string
	At    time.Time
}

// Error implements error.
func (e *MovedError) Error() string {
	s := fmt.Sprintf("request %s is already %s", e.ID, e.State)
	if e.By != "" {
		s += " by " + e.By
	}
	return s
}

// Is matches ErrNotPending and models.ErrConflict.
func (e *MovedError) Is(target error) bool {
	return target == ErrNotPending || target == models.ErrConflict
}

// Cancel withdraws pending request id for the chat account userID, which
// must be allowed by Canceller; reason is recorded with the audited move.
// A request that is not pending, or that another caller (on any replica)
// moves first, is a *MovedError telling its state now and who moved it.
func (s *Service) Cancel(ctx context.Context, id, userID, reason string) (*models.Request, error) {
	return s.cancel(ctx, id, reason, func(r *models.Request) (models.Actor, error) {
		if actor, ok := Canceller(r, userID); ok {
			return actor, nil
		}
		return models.Actor{}, fmt.Errorf("approval: cancel %s: %w", r.ID, ErrNotYours)
	})
}

// WithdrawReasonMax bounds the reason a person gives when withdrawing.
const WithdrawReasonMax = 300

// Withdraw is Cancel from the portal, by the signed-in person who: the
// same rule (the requester of a person's request, the sponsor of an
// agent's, only while pending), matched by their IdP subject or their
// chat username, and recorded with who as the actor, as they signed in.
// Someone who may not see the request gets models.ErrNotFound, as for
// its page, so its existence is not revealed; someone who may see it but
// not withdraw it ErrNotYours. reason is optional (a default says it
// happened in the portal); bad text is a models.ErrInvalid naming
// "reason". Nothing changes on any error.
func (s *Service) Withdraw(ctx context.Context, id string, who Approver, reason string) (*models.Request, error) {
	reason, err := withdrawReason(reason)
	if err != nil {
		return nil, err
	}
	return s.cancel(ctx, id, reason, func(r *models.Request) (models.Actor, error) {
		if !s.MayView(r, who) {
			return models.Actor{}, fmt.Errorf("approval: %s hidden from %s: %w", r.ID, who.Actor.ID, models.ErrNotFound)
		}
		if _, ok := cancellerOf(r, who.Actor.ID, who.Username); !ok {
			return models.Actor{}, fmt.Errorf("approval: cancel %s: %w", r.ID, ErrNotYours)
		}
		return who.Actor, nil
	})
}

// withdrawReason checks the reason a person typed and gives the one to
// record.
func withdrawReason(reason string) (string, error) {
	if !utf8.ValidString(reason) {
		return "", models.Invalid("reason", "is not valid UTF-8 text")
	}
	reason = strings.TrimSpace(reason)
	switch {
	case len(reason) > WithdrawReasonMax:
		return "", models.Invalid("reason", fmt.Sprintf("is longer than %d bytes", WithdrawReasonMax))
	case reason == "":
		return "withdrawn in the portal", nil
	}
	return reason, nil
}

// MayWithdraw reports whether who may withdraw r now (Withdraw's rule),
// so the request page offers the form only to them.
func MayWithdraw(r *models.Request, who Approver) bool {
	_, ok := cancellerOf(r, who.Actor.ID, who.Username)
	return ok && r.State == models.StatePending
}

// cancel moves pending request id to cancelled as the actor allowed
// returns for it; allowed's error refuses the caller.
func (s *Service) cancel(ctx context.Context, id, reason string, allowed func(*models.Request) (models.Actor, error)) (*models.Request, error) {
	var r models.Request
	if err := s.store.DB(ctx).Omit("Posts", "ToolCalls", "Decisions").First(&r, "id = ?", id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("approval: cancel %s: %w", id, models.ErrNotFound)
		}
		return nil, fmt.Errorf("approval: cancel %s: %w", id, err)
	}
	actor, err := allowed(&r)
	if err != nil {
		return nil, err
	}
	if r.State != models.StatePending {
		if err := s.moved(ctx, id); !errors.Is(err, errStillPending) {
			return nil, err
		}
	}
	// A conflict while the request is still pending means only its version
	// moved (a decision that did not complete it): try again on the new one.
	for range 3 {
		out, err := s.Move(ctx, Transition{ID: id, From: models.StatePending, To: models.StateCancelled, Actor: actor, Reason: reason})
		if !errors.Is(err, models.ErrConflict) && !errors.Is(err, models.ErrIllegalTransition) {
			return out, err
		}
		if err := s.moved(ctx, id); !errors.Is(err, errStillPending) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("approval: cancel %s: the request kept changing: %w", id, models.ErrConflict)
}

// errStillPending: moved found the request still pending.
var errStillPending = errors.New("still pending")

// moved reports where request id stands now that it has left pending:
// its state, and who moved it there, from the audit event of that move.
func (s *Service) moved(ctx context.Context, id string) error {
	var r models.Request
	if err := s.store.DB(ctx).Omit("Posts", "ToolCalls", "Decisions").Select("id", "state").First(&r, "id = ?", id).Error; err != nil {
		return fmt.Errorf("approval: cancel %s: reload: %w", id, err)
	}
	if r.State == models.StatePending {
		return errStillPending
	}
	me := &MovedError{ID: id, State: r.State}
	var ev models.AuditEvent
	err := s.store.DB(ctx).Where("request_id = ? AND type = ?", id, "request."+string(r.State)).Order("seq DESC").Limit(1).Find(&ev).Error
	if err == nil && ev.Seq > 0 {
		me.At = time.UnixMicro(ev.AtUnixUS).UTC()
		if ev.ActorType != models.ActorSystem { // "expired by expiry" says nothing
			me.By = cmp.Or(ev.ActorDisplay, ev.ActorID)
		}
	}
	return fmt.Errorf("approval: cancel: %w", me)
}
