package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/outbox"
)

// Actions handles clicks on the buttons of Countersign's chat messages.
// Approving never happens by button: the only action is the requester's
// cancel, which is checked like this — the context's signature (HMAC,
// constant-time) over request, action, this post and an expiry; the post
// clicked is the one Countersign created for that request; the clicker
// (Mattermost's user_id, the one field it vouches for) is the requester,
// or the sponsor of an agent. Only then is the request moved to cancelled
// through the approval service, with its audit event.
type Actions struct {
	svc       *approval.Service
	queue     *outbox.Queue
	signer    *Signer
	render    Renderer
	actionURL string
	now       func() time.Time
	log       *slog.Logger
}

// NewActions returns the button handler logic.
func NewActions(svc *approval.Service, queue *outbox.Queue, signer *Signer, render Renderer, actionURL string, now func() time.Time, log *slog.Logger) *Actions {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Actions{svc: svc, queue: queue, signer: signer, render: render, actionURL: actionURL, now: now, log: log}
}

// Refusal texts: they say what happened without saying which check failed
// for a forged click.
const (
	msgInvalid    = "This button is not valid (it may be out of date). Nothing was changed; open the request in the portal."
	msgNotYours   = "Only the person who made this request can cancel it. Nothing was changed."
	msgNotPending = "This request is no longer pending, so it cannot be cancelled. Nothing was changed."
	msgFailed     = "The request could not be cancelled right now. Nothing was changed; try again or use the portal."
)

// Handle answers one button click. Every refusal is an ephemeral text to
// the clicker and changes nothing.
func (a *Actions) Handle(ctx context.Context, in *model.PostActionIntegrationRequest) *model.PostActionIntegrationResponse {
	refuse := func(msg, reason string, attrs ...any) *model.PostActionIntegrationResponse {
		a.log.Warn("mattermost action refused", append([]any{slog.String("reason", reason), slog.String("post", in.PostId), slog.String("user", in.UserId)}, attrs...)...)
		return &model.PostActionIntegrationResponse{EphemeralText: msg}
	}
	if a.signer == nil {
		return refuse(msgInvalid, "buttons are not configured")
	}
	id, action, err := a.signer.Verify(in.Context, in.PostId, a.now())
	if err != nil {
		return refuse(msgInvalid, err.Error())
	}
	if action != ActionCancel {
		return refuse(msgInvalid, "unknown action", slog.String("action", action))
	}
	cp, err := a.queue.ChatPost(ctx, id)
	if err != nil || cp.PostID == "" || cp.PostID != in.PostId {
		return refuse(msgInvalid, "post is not the request's message", slog.String("request", id))
	}
	r, err := a.svc.Get(ctx, id)
	if err != nil {
		return refuse(msgInvalid, "request not found", slog.String("request", id))
	}
	actor, ok := approval.Canceller(r, in.UserId)
	if !ok {
		return refuse(msgNotYours, "clicker is not the requester", slog.String("request", id))
	}
	moved, err := a.svc.Cancel(ctx, id, in.UserId, "cancelled from Mattermost by "+actor.Display)
	switch {
	case errors.Is(err, approval.ErrNotPending):
		return refuse(notPendingMessage(err), "request not pending", slog.String("request", id))
	case errors.Is(err, approval.ErrNotYours):
		return refuse(msgNotYours, "clicker is not the requester", slog.String("request", id))
	case err != nil:
		a.log.Error("mattermost action: cancel", slog.String("request", id), slog.String("error", err.Error()))
		return &model.PostActionIntegrationResponse{EphemeralText: msgFailed}
	}
	a.log.Info("request cancelled from Mattermost", slog.String("request", id), slog.String("user", in.UserId))
	// Decisions do not change on cancel: reuse the ones loaded before.
	moved.Decisions = r.Decisions
	return &model.PostActionIntegrationResponse{
		Update:        &model.Post{Message: a.render.RequestText(moved), Props: RequestProps(moved, cp, a.signer, a.actionURL)},
		EphemeralText: fmt.Sprintf("Request %s is cancelled.", id),
	}
}

// notPendingMessage tells a clicker who came too late where the request
// stands now and who moved it there.
func notPendingMessage(err error) string {
	var me *approval.MovedError
	if !errors.As(err, &me) {
		return msgNotPending
	}
	s := "This request was already " + string(me.State)
	if me.By != "" {
		s += " by " + Escape(me.By, 80)
	}
	return s + ", so it cannot be cancelled. Nothing was changed."
}
