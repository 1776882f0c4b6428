package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/countersign/countersign/models"
)

// DefaultRereadTimeout bounds one re-read of a conversation at decision
// time.
const DefaultRereadTimeout = 5 * time.Second

// ConversationReader reads a request's conversation again as it is now
// (the Mattermost adapter implements it): which captured posts were edited
// or deleted, and which were written since. An error means chat could not
// be read; the decision then goes ahead on the capture (a chat outage
// never blocks decisions) and the person is told so.
type ConversationReader interface {
	Reread(ctx context.Context, r *models.Request) (*models.Reread, error)
}

// Prepared is a decision ready to be made: the request as the approver
// will decide it, and what their authentication must satisfy.
type Prepared struct {
	Request *models.Request
	// StepUp is the rule the decision's authentication must meet
	// (StepUpFor): check the session's with StepUp.Check, and
	// re-authenticate with it when that fails.
	StepUp StepUpRule
	// ChatUnchecked is true when the conversation could not be read
	// again: the decision stands on the capture.
	ChatUnchecked bool
}

// PrepareDecision is everything before a decision except the decision
// itself, in one call: request id must exist and be visible to a (else
// models.ErrNotFound, so its existence is not revealed), a must be allowed
// to decide it now on the content they were shown (CanDecide), and its
// conversation is read again — an edit or deletion since the capture moves
// the content hash (audited, earlier approvals stop counting) and the
// answer is ErrContentChanged, so the person reviews again instead of
// re-authenticating for nothing. The portal calls it before asking for a
// step-up and again when the step-up returns; Decide then checks it all
// once more inside its transaction.
func (s *Service) PrepareDecision(ctx context.Context, a Approver, id, contentHash string) (*Prepared, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.MayView(r, a) {
		return nil, fmt.Errorf("approval: %s is hidden from %s: %w", id, a.Actor.ID, models.ErrNotFound)
	}
	if err := s.CanDecide(r, a, contentHash); err != nil {
		if errors.Is(err, ErrContentChanged) {
			// The approver will review again: read the conversation now,
			// so the page they go back to holds every change made so far
			// (an edit the WebSocket listener recorded a moment ago may
			// have been followed by another it has not recorded yet).
			if _, _, rerr := s.reread(ctx, r, a.Actor); rerr != nil {
				return nil, rerr
			}
		}
		return nil, err
	}
	unchecked, changed, err := s.reread(ctx, r, a.Actor)
	if err != nil {
		return nil, err
	}
	if changed {
		if r, err = s.Get(ctx, id); err != nil {
			return nil, err
		}
		if r.ContentHash != contentHash {
			return nil, fmt.Errorf("approval: %s: %w", id, ErrContentChanged)
		}
	}
	return &Prepared{Request: r, StepUp: s.StepUpFor(r), ChatUnchecked: unchecked}, nil
}

// reread reads r's conversation again through the configured reader and
// records what changed (ApplyRecheck). unchecked is true when chat could
// not be read; changed when anything was recorded. Only the database's
// failures are errors.
func (s *Service) reread(ctx context.Context, r *models.Request, actor models.Actor) (unchecked, changed bool, err error) {
	if s.cfg.Conversation == nil || r.State != models.StatePending || (r.RootPostID == "" && r.ChannelID == "") {
		return false, false, nil
	}
	timeout := s.cfg.RereadTimeout
	if timeout <= 0 {
		timeout = DefaultRereadTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for try := 0; ; try++ {
		found, err := s.cfg.Conversation.Reread(ctx, r)
		if err != nil {
			return true, false, nil
		}
		if len(found.Changed) == 0 && len(found.Later) == 0 {
			return false, changed, nil
		}
		_, err = s.ApplyRecheck(ctx, Recheck{
			RequestID: r.ID, Version: r.Version, ContentHash: r.ContentHash,
			Changed: found.Changed, Later: found.Later, Actor: actor,
		})
		switch {
		case err == nil:
			return false, true, nil
		case errors.Is(err, ErrNotPending):
			return false, true, nil
		case errors.Is(err, models.ErrConflict) && try < 3:
			// A decision landed meanwhile: read the request and compare again.
			if r, err = s.Get(ctx, r.ID); err != nil {
				return false, changed, err
			}
			changed = true
			if r.State != models.StatePending {
				return false, true, nil
			}
		default:
			return false, changed, fmt.Errorf("approval: record re-read of %s: %w", r.ID, err)
		}
	}
}
