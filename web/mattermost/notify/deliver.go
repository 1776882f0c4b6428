package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
)

// deliver performs one row. It returns the post created, if any, and for
// the kinds that expand (outbox.Kind.Expands) the rows to queue instead.
func (w *Worker) deliver(ctx context.Context, m *outbox.Message) (string, []outbox.Message, error) {
	r, err := w.request(ctx, m)
	if errors.Is(err, models.ErrNotFound) {
		return "", nil, fmt.Errorf("request %s: %w", m.RequestID, errPermanent)
	}
	if err != nil {
		return "", nil, err
	}
	switch m.Kind {
	case outbox.KindRequestPost:
		id, err := w.syncRequestPost(ctx, m, r)
		return id, nil, err
	case outbox.KindDecisionReply:
		id, err := w.decisionReply(ctx, m, r)
		return id, nil, err
	case outbox.KindNotifyApprovers:
		children, err := w.expandApprovers(ctx, r)
		return "", children, err
	case outbox.KindApproverDM:
		if r.State != models.StatePending {
			return "", nil, nil // decided already: nothing to ask for
		}
		uid, err := w.cfg.Chat.UserIDByUsername(ctx, m.Recipient)
		if err != nil {
			return "", nil, err
		}
		if r.MadeBy(uid, "") || r.SponsoredBy(uid, "") {
			return "", nil, nil // never ask requesters to approve themselves
		}
		id, err := w.directMessage(ctx, m, uid, w.cfg.Render.ApproverDM(r))
		return id, nil, err
	case outbox.KindVoidedDM:
		if r.State != models.StatePending {
			return "", nil, nil // ended meanwhile: there is nothing to approve again
		}
		uid, err := w.cfg.Chat.UserIDByUsername(ctx, m.Recipient)
		if err != nil {
			return "", nil, err
		}
		id, err := w.directMessage(ctx, m, uid, w.cfg.Render.VoidedDM(r))
		return id, nil, err
	case outbox.KindRemindApprovers, outbox.KindEscalate, outbox.KindReminderDM, outbox.KindEscalationDM, outbox.KindThreadNote:
		return w.deliverFollowUp(ctx, m, r)
	case outbox.KindOutcomeDM:
		p, err := m.DecodePayload()
		if err != nil {
			return "", nil, fmt.Errorf("%v: %w", err, errPermanent)
		}
		id, err := w.directMessage(ctx, m, m.Recipient, w.cfg.Render.OutcomeDM(r, p))
		return id, nil, err
	}
	return "", nil, fmt.Errorf("unknown outbox kind %q: %w", m.Kind, errPermanent)
}

// leanRequests is a loader that can leave the decisions out
// (outbox.Requests).
type leanRequests interface {
	GetWithoutDecisions(ctx context.Context, id string) (*models.Request, error)
}

// request loads the request m is about, without its decisions when m's
// kind shows none and the loader can leave them out.
func (w *Worker) request(ctx context.Context, m *outbox.Message) (*models.Request, error) {
	if lean, ok := w.cfg.Requests.(leanRequests); ok && !m.Kind.ShowsDecisions() {
		return lean.GetWithoutDecisions(ctx, m.RequestID)
	}
	return w.cfg.Requests.Get(ctx, m.RequestID)
}

// place finds where the request message goes: the request's thread (its
// root, or the root of the post that triggered it) or else its channel.
func (w *Worker) place(ctx context.Context, r *models.Request) (channelID, rootID string, err error) {
	channelID, rootID = r.ChannelID, r.RootPostID
	if rootID == "" && r.TriggerPostID != "" {
		p, err := w.cfg.Chat.GetPost(ctx, r.TriggerPostID)
		switch {
		case err == nil:
			rootID, channelID = p.Id, p.ChannelId
			if p.RootId != "" {
				rootID = p.RootId
			}
		case errors.Is(err, models.ErrNotFound), errors.Is(err, models.ErrInvalid):
			// The trigger is gone: post in the channel.
		default:
			return "", "", err
		}
	}
	if channelID == "" {
		return "", "", fmt.Errorf("request %s names no channel: %w", r.ID, errPermanent)
	}
	return channelID, rootID, nil
}

// syncRequestPost makes the request's one message show its current state:
// created when missing (found again instead when an earlier attempt may
// have created it), then updated in place with the current text and props.
func (w *Worker) syncRequestPost(ctx context.Context, m *outbox.Message, r *models.Request) (string, error) {
	now := w.cfg.Now().UTC()
	cp, err := w.cfg.Queue.EnsureChatPost(ctx, r.ID, now)
	if err != nil {
		return "", err
	}
	text := w.cfg.Render.RequestText(r)
	if cp.PostID == "" {
		channelID, rootID, err := w.place(ctx, r)
		if err != nil {
			return "", err
		}
		props := model.StringInterface{outbox.PropKey: cp.IdemKey, outbox.PropRequest: r.ID}
		post, err := w.createOnce(ctx, m, &model.Post{ChannelId: channelID, RootId: rootID, Message: text, PendingPostId: cp.IdemKey, Props: props}, cp.IdemKey, cp.CreatedAt)
		if err != nil {
			return "", err
		}
		if cp, err = w.cfg.Queue.SetChatPost(ctx, cp, post.Id, post.ChannelId, post.RootId, now); err != nil {
			return "", err
		}
	}
	if _, err := w.cfg.Chat.UpdatePost(ctx, cp.PostID, text, RequestProps(r, cp, w.cfg.Signer, w.cfg.ActionURL)); err != nil {
		return "", err
	}
	return cp.PostID, nil
}

// createOnce creates post unless an earlier attempt of m already did: when
// one may have reached Mattermost (a retry, a held row, a lease taken over
// after a crash) it first looks for a post carrying the idempotency key,
// because the answer to that attempt may have been lost after Mattermost
// stored the post (and its pending_post_id memory is short).
func (w *Worker) createOnce(ctx context.Context, m *outbox.Message, post *model.Post, key string, since time.Time) (*model.Post, error) {
	if m.MayHaveBeenSent() {
		found, err := w.cfg.Chat.FindKeyedPost(ctx, post.ChannelId, post.RootId, since.Add(-time.Minute).UnixMilli(), outbox.PropKey, key)
		if err != nil {
			return nil, err
		}
		if found != nil {
			return found, nil
		}
	}
	return w.cfg.Chat.CreatePost(ctx, post)
}

// decisionReply replies in the request's thread with one decision.
func (w *Worker) decisionReply(ctx context.Context, m *outbox.Message, r *models.Request) (string, error) {
	p, err := m.DecodePayload()
	if err != nil {
		return "", fmt.Errorf("%v: %w", err, errPermanent)
	}
	var d *models.Decision
	for i := range r.Decisions {
		if r.Decisions[i].ID == p.DecisionID {
			d = &r.Decisions[i]
		}
	}
	if d == nil {
		return "", fmt.Errorf("decision %d of %s: %w", p.DecisionID, r.ID, errPermanent)
	}
	return w.threadReply(ctx, m, r, w.cfg.Render.DecisionReply(r, d))
}

// threadReply replies in the request's thread (under the request message
// when it is top-level) with text, once.
func (w *Worker) threadReply(ctx context.Context, m *outbox.Message, r *models.Request, text string) (string, error) {
	cp, err := w.cfg.Queue.EnsureChatPost(ctx, r.ID, w.cfg.Now().UTC())
	if err != nil {
		return "", err
	}
	channelID, rootID := cp.ChannelID, cp.RootID
	switch {
	case cp.PostID != "" && rootID == "":
		rootID = cp.PostID // the request message is top-level: reply under it
	case cp.PostID == "":
		if channelID, rootID, err = w.place(ctx, r); err != nil {
			return "", err
		}
	}
	post := &model.Post{
		ChannelId: channelID, RootId: rootID, Message: text, PendingPostId: m.IdemKey,
		Props: model.StringInterface{outbox.PropKey: m.IdemKey, outbox.PropRequest: r.ID},
	}
	created, err := w.createOnce(ctx, m, post, m.IdemKey, m.CreatedAt)
	if err != nil {
		return "", err
	}
	return created.Id, nil
}

// expandApprovers turns "tell the approvers" into one DM row per eligible
// approver, each in its own lane.
func (w *Worker) expandApprovers(ctx context.Context, r *models.Request) ([]outbox.Message, error) {
	if w.cfg.Directory == nil || r.State != models.StatePending {
		return nil, nil
	}
	names, err := w.cfg.Directory.ApproverUsernames(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []outbox.Message
	for _, n := range eligible(r, names) {
		out = append(out, outbox.Message{Lane: r.ID + "/dm/" + strings.ToLower(n), Kind: outbox.KindApproverDM, Recipient: n})
	}
	return out, nil
}

// directMessage sends text to userID in the bot's DM channel, once.
func (w *Worker) directMessage(ctx context.Context, m *outbox.Message, userID, text string) (string, error) {
	channelID, err := w.cfg.Chat.DirectChannel(ctx, userID)
	if err != nil {
		return "", err
	}
	post := &model.Post{
		ChannelId: channelID, Message: text, PendingPostId: m.IdemKey,
		Props: model.StringInterface{outbox.PropKey: m.IdemKey, outbox.PropRequest: m.RequestID},
	}
	created, err := w.createOnce(ctx, m, post, m.IdemKey, m.CreatedAt)
	if err != nil {
		return "", err
	}
	return created.Id, nil
}
