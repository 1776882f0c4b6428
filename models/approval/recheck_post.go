package approval

import (
	"context"
	"fmt"

	"github.com/countersign/countersign/models"
)

// WatcherActor is who records a re-check that Countersign made because
// Mattermost announced an edit or a deletion (the WebSocket listener), as
// opposed to one made when someone was about to decide.
func WatcherActor() models.Actor {
	return models.Actor{Type: models.ActorSystem, ID: "countersign-chat-watcher", Display: "Countersign (saw the change in Mattermost)"}
}

// PostRecheck is what RecheckPost did.
type PostRecheck struct {
	// Requests are the pending requests that captured the post.
	Requests []string
	// Changed are those whose re-read recorded something (a new content
	// hash, later discussion).
	Changed []string
	// Unchecked are those whose conversation could not be read; the
	// decision-time re-check remains their backstop.
	Unchecked []string
}

// RecheckPost reads again, at once, the conversation of every pending
// request that captured the Mattermost post postID, and records what
// changed exactly as a decision-time re-check does (ApplyRecheck: new
// content hash, approvals of the old content stop counting and their
// approvers are told, audited). The WebSocket listener calls it when
// Mattermost announces that a post was edited or deleted. Safe to call
// twice or from several replicas at once: the second call finds nothing
// left to record.
func (s *Service) RecheckPost(ctx context.Context, postID string) (*PostRecheck, error) {
	out := &PostRecheck{}
	if postID == "" || s.cfg.Conversation == nil {
		return out, nil
	}
	var ids []string
	err := s.store.DB(ctx).Table("conversation_posts").
		Joins("JOIN requests ON requests.id = conversation_posts.request_id").
		Where("conversation_posts.post_id = ? AND requests.state = ?", postID, models.StatePending).
		Distinct().Order("conversation_posts.request_id").Pluck("conversation_posts.request_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("approval: requests that captured post %s: %w", postID, err)
	}
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			return out, err
		}
		out.Requests = append(out.Requests, id)
		unchecked, changed, err := s.reread(ctx, r, WatcherActor())
		if err != nil {
			return out, err
		}
		if unchecked {
			out.Unchecked = append(out.Unchecked, id)
		}
		if changed {
			out.Changed = append(out.Changed, id)
		}
	}
	return out, nil
}
