package mattermost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
)

// RecaptureRequest says where the captured posts were read from, as stored
// on the request (Source.RootPostID and Source.ChannelID).
type RecaptureRequest struct {
	// RootPostID is the thread root of a thread capture; empty for a
	// channel window.
	RootPostID string
	// ChannelID is the channel of a window capture.
	ChannelID string
	// ExcludeUserIDs are left out of Added, like at capture (Countersign's
	// own bot).
	ExcludeUserIDs []string
}

// Change is what happened to a captured post since the capture.
type Change string

// The changes a post can show.
const (
	// Unchanged means the post reads as it did, with the same provenance.
	Unchanged Change = "unchanged"
	// Edited means the text, edit time or webhook labels differ.
	Edited Change = "edited"
	// Deleted means the post is gone (Mattermost keeps no tombstone for the
	// bot to read).
	Deleted Change = "deleted"
)

// PostDiff is the fate of one captured post.
type PostDiff struct {
	PostID string
	Change Change
	// Captured is the post as captured.
	Captured models.ConversationPost
	// Current is the post as it reads now, with its new hash; nil when
	// deleted.
	Current *models.ConversationPost
}

// Diff compares a capture with the conversation as it is now.
type Diff struct {
	// Posts has one entry per captured post, in captured order.
	Posts []PostDiff
	// Added are posts written after the newest captured post: later
	// discussion, to be shown apart from the approved content. Oldest
	// first; at most Config.MaxPosts, the newest, with AddedOmitted
	// saying how many older ones were left out.
	Added        []models.ConversationPost
	AddedOmitted int
	Warnings     []string
	CheckedAt    time.Time
}

// ContentChanged reports whether any captured post was edited or deleted:
// what approvers were shown no longer reads that way, so earlier approvals
// must stop counting. Added posts do not change the content.
func (d *Diff) ContentChanged() bool {
	for _, p := range d.Posts {
		if p.Change != Unchanged {
			return true
		}
	}
	return false
}

// Count returns how many captured posts show change ch.
func (d *Diff) Count(ch Change) int {
	n := 0
	for _, p := range d.Posts {
		if p.Change == ch {
			n++
		}
	}
	return n
}

// Recapture reads the same conversation again — the thread, or the
// channel's posts since the oldest captured one — and reports for each
// captured post whether it is unchanged, edited or deleted, plus the posts
// added after the capture (by authors not in ExcludeUserIDs, system
// messages skipped, authors resolved as at capture). A captured post
// missing from the listing is fetched on its own before it is called
// deleted, so a listing limit cannot fake a deletion.
func (c *Client) Recapture(ctx context.Context, captured []models.ConversationPost, req RecaptureRequest) (*Diff, error) {
	current, channelID, err := c.currentPosts(ctx, captured, req)
	if err != nil {
		return nil, fmt.Errorf("mattermost: recapture: %w", err)
	}
	for _, cp := range captured {
		if _, ok := current[cp.PostID]; ok {
			continue
		}
		p, err := c.getPost(ctx, cp.PostID)
		switch {
		case err == nil:
			current[p.Id] = p
		case errors.Is(err, models.ErrNotFound):
		default:
			return nil, fmt.Errorf("mattermost: recapture: %w", err)
		}
	}
	d := &Diff{Posts: make([]PostDiff, 0, len(captured))}
	capturedIDs := make(map[string]bool, len(captured))
	var newest int64
	for _, cp := range captured {
		capturedIDs[cp.PostID] = true
		newest = max(newest, cp.CreateAt)
		pd, err := c.comparePost(cp, current[cp.PostID])
		if err != nil {
			return nil, fmt.Errorf("mattermost: recapture: %w", err)
		}
		d.Posts = append(d.Posts, pd)
	}
	if err := c.addLater(ctx, d, current, capturedIDs, newest, channelID, req.ExcludeUserIDs); err != nil {
		return nil, fmt.Errorf("mattermost: recapture: %w", err)
	}
	d.CheckedAt = c.cfg.Now()
	return d, nil
}

// currentPosts lists the conversation as it is now, keyed by post id.
func (c *Client) currentPosts(ctx context.Context, captured []models.ConversationPost, req RecaptureRequest) (map[string]*model.Post, string, error) {
	current := map[string]*model.Post{}
	if req.RootPostID != "" {
		list, err := c.getThread(ctx, req.RootPostID)
		switch {
		case errors.Is(err, models.ErrNotFound):
			// The root is gone, and its replies with it.
			return current, req.ChannelID, nil
		case err != nil:
			return nil, "", err
		}
		channelID := req.ChannelID
		for id, p := range list.Posts {
			current[id] = p
			channelID = p.ChannelId
		}
		return current, channelID, nil
	}
	if !isPostID(req.ChannelID) {
		return nil, "", models.Invalid("channel_id", "a thread root or a channel id is needed")
	}
	// Everything since just before the oldest captured post: the captured
	// posts themselves, their deletions, and what came after.
	since := c.cfg.Now().Add(-c.cfg.Window.MaxAge).UnixMilli()
	if len(captured) > 0 {
		since = captured[0].CreateAt
		for _, cp := range captured {
			since = min(since, cp.CreateAt)
		}
		since--
	}
	list, err := c.getChannelSince(ctx, req.ChannelID, since)
	if err != nil {
		return nil, "", err
	}
	for id, p := range list.Posts {
		current[id] = p
	}
	return current, req.ChannelID, nil
}

// comparePost decides the fate of one captured post. The author cannot
// change, so Current copies it from the capture and takes the text, edit
// time and webhook labels from the server.
func (c *Client) comparePost(cp models.ConversationPost, p *model.Post) (PostDiff, error) {
	pd := PostDiff{PostID: cp.PostID, Captured: cp, Change: Unchanged}
	if p == nil || p.DeleteAt != 0 {
		pd.Change = Deleted
		return pd, nil
	}
	cur := cp
	cur.Message = clipMessage(p.Message, c.cfg.MaxMessageBytes)
	cur.EditAt = p.EditAt
	cur.FromWebhook, cur.OverrideUsername = webhookProps(p)
	h, err := contenthash.PostHash(&cur)
	if err != nil {
		return pd, fmt.Errorf("hash post %s: %w", p.Id, err)
	}
	cur.Hash = h
	if cur.Message != cp.Message || cur.EditAt != cp.EditAt || cur.FromWebhook != cp.FromWebhook || cur.OverrideUsername != cp.OverrideUsername {
		pd.Change = Edited
	}
	pd.Current = &cur
	return pd, nil
}

// addLater fills d.Added with the eligible posts newer than the newest
// captured one.
func (c *Client) addLater(ctx context.Context, d *Diff, current map[string]*model.Post, capturedIDs map[string]bool, newest int64, channelID string, excludeIDs []string) error {
	exclude := make(map[string]bool, len(excludeIDs))
	for _, id := range excludeIDs {
		exclude[id] = true
	}
	var later []*model.Post
	for id, p := range current {
		if !capturedIDs[id] && p.CreateAt > newest && p.DeleteAt == 0 && !isSystem(p) && !exclude[p.UserId] {
			later = append(later, p)
		}
	}
	if len(later) == 0 {
		return nil
	}
	sortPosts(later)
	later, d.AddedOmitted = capPosts(later, c.cfg.MaxPosts, "")
	ids := make([]string, len(later))
	for i, p := range later {
		ids[i] = p.UserId
	}
	res, err := c.resolveAuthors(ctx, channelID, ids)
	if err != nil {
		return err
	}
	d.Warnings = res.warnings
	for _, p := range later {
		cp, err := c.conversationPost(p, res.byID[p.UserId])
		if err != nil {
			return err
		}
		d.Added = append(d.Added, cp)
	}
	return nil
}
