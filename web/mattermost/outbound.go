package mattermost

import (
	"context"
	"fmt"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
)

// CreatePost posts as the bot. A post without a PendingPostId gets a fresh
// one, which Mattermost uses to de-duplicate: a create retried after a
// lost answer returns the first post instead of posting twice. Callers
// that retry across restarts (an outbox) should store and reuse their own
// PendingPostId.
func (c *Client) CreatePost(ctx context.Context, post *model.Post) (*model.Post, error) {
	p := post.Clone()
	if p.PendingPostId == "" {
		p.PendingPostId = model.NewId()
	}
	var created *model.Post
	err := c.call(ctx, "create post in channel "+p.ChannelId, func(ctx context.Context) (r *model.Response, err error) {
		created, r, err = c.api.CreatePost(ctx, p)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	return created, nil
}

// UpdatePost replaces the text (and, when props is not nil, the props) of
// a post the bot wrote, so a request's chat message is a re-rendered view
// of its state, updated in place. A patch is idempotent, hence safe to
// retry.
func (c *Client) UpdatePost(ctx context.Context, postID, message string, props model.StringInterface) (*model.Post, error) {
	patch := &model.PostPatch{Message: &message}
	if props != nil {
		patch.Props = &props
	}
	var updated *model.Post
	err := c.call(ctx, "update post "+postID, func(ctx context.Context) (r *model.Response, err error) {
		updated, r, err = c.api.PatchPost(ctx, postID, patch)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	return updated, nil
}

// DirectMessage posts post (message, props, PendingPostId) into the bot's
// DM channel with userID, created on first use: approver notifications
// and outcomes for the requester. ChannelId is set here.
func (c *Client) DirectMessage(ctx context.Context, userID string, post *model.Post) (*model.Post, error) {
	me, err := c.BotUserID(ctx)
	if err != nil {
		return nil, err
	}
	var ch *model.Channel
	err = c.call(ctx, "open direct channel with "+userID, func(ctx context.Context) (r *model.Response, err error) {
		ch, r, err = c.api.CreateDirectChannel(ctx, me, userID)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	p := post.Clone()
	p.ChannelId = ch.Id
	created, err := c.CreatePost(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("direct message to %s: %w", userID, err)
	}
	return created, nil
}

// GetPost fetches one live post the bot can read, e.g. to check that a
// button click names a post Countersign created. Deleted posts are
// models.ErrNotFound.
func (c *Client) GetPost(ctx context.Context, postID string) (*model.Post, error) {
	if !isPostID(postID) {
		return nil, fmt.Errorf("mattermost: get post: %w", models.Invalid("post_id", "must be a Mattermost id"))
	}
	p, err := c.getPost(ctx, postID)
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	return p, nil
}
