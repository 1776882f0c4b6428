package mattermost

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
)

// Window bounds the channel posts captured when no thread is named: the
// newest MaxPosts posts no older than MaxAge.
type Window struct {
	MaxPosts int
	MaxAge   time.Duration
}

// CaptureRequest says which conversation a request came from.
type CaptureRequest struct {
	// PostRef names the thread: the id of any post in it (root or reply)
	// or a permalink of this site (see ParsePostRef). It is root_id on
	// newer servers' slash commands, the post a requester names, or an
	// agent's proposal post. Empty means "no thread": capture the channel
	// window instead.
	PostRef string
	// ChannelID is the channel the request was made in. Required without
	// PostRef. With PostRef, the thread must be in this channel, so nobody
	// pulls a conversation from a channel they did not ask in.
	ChannelID string
	// Window overrides the configured channel window (zero fields keep the
	// defaults); it never exceeds Config.MaxPosts.
	Window Window
	// ExcludeUserIDs leaves these authors' posts out, typically
	// Countersign's own bot (BotUserID): its messages describe a request
	// and must not become part of what is approved.
	ExcludeUserIDs []string
}

// Capture is a snapshot of a conversation with the provenance of every
// post, ready for approval.NewRequest.
type Capture struct {
	// Source is where the request was born (team, channel, thread root,
	// named post), for approval.NewRequest.Source.
	Source models.Source
	// Posts are the captured posts, oldest first, each with its hash.
	Posts []models.ConversationPost
	// Trigger is the post PostRef named, resolved like the others even
	// when the cap or ExcludeUserIDs left it out of Posts. The agent API
	// checks its AuthorID and AuthorKind. Nil for a channel window.
	Trigger *models.ConversationPost
	// Truncated is true when posts were left out to respect the cap;
	// Omitted says how many (a lower bound when OmittedAtLeast).
	Truncated      bool
	Omitted        int
	OmittedAtLeast bool
	// Warnings are degraded lookups worth showing (e.g. a bot owner the
	// bot may not read).
	Warnings   []string
	CapturedAt time.Time
}

// Note is the sentence to show when the capture is not the whole
// conversation; empty otherwise.
func (c *Capture) Note() string {
	switch {
	case !c.Truncated:
		return ""
	case c.OmittedAtLeast:
		return fmt.Sprintf("Only %d posts were captured: at least %d older posts were left out.", len(c.Posts), c.Omitted)
	default:
		return fmt.Sprintf("Only %d of %d posts were captured: %d older posts were left out.", len(c.Posts), len(c.Posts)+c.Omitted, c.Omitted)
	}
}

// Capture reads the conversation named by req: the whole thread when a
// post is named, else the channel window. System messages and excluded
// authors are skipped; posts are ordered by create_at; at most
// Config.MaxPosts are kept, the newest — and in a thread the root too,
// which states what the thread is about. Every author is resolved once
// (see conversationPost for the rules).
func (c *Client) Capture(ctx context.Context, req CaptureRequest) (*Capture, error) {
	exclude := make(map[string]bool, len(req.ExcludeUserIDs))
	for _, id := range req.ExcludeUserIDs {
		exclude[id] = true
	}
	if req.PostRef != "" {
		return c.captureThread(ctx, req, exclude)
	}
	return c.captureWindow(ctx, req, exclude)
}

// captureThread captures the thread of the named post.
func (c *Client) captureThread(ctx context.Context, req CaptureRequest, exclude map[string]bool) (*Capture, error) {
	postID, err := ParsePostRef(c.SiteURL(), req.PostRef)
	if err != nil {
		return nil, fmt.Errorf("mattermost: capture: %w", err)
	}
	list, err := c.getThread(ctx, postID)
	if err != nil {
		return nil, fmt.Errorf("mattermost: capture thread of %s: %w", postID, err)
	}
	named := list.Posts[postID]
	if named == nil {
		return nil, fmt.Errorf("mattermost: capture thread of %s: %w", postID, models.ErrNotFound)
	}
	if req.ChannelID != "" && named.ChannelId != req.ChannelID {
		return nil, fmt.Errorf("mattermost: capture thread of %s: %w: the thread is in another channel than the request", postID, models.ErrForbidden)
	}
	rootID := named.RootId
	if rootID == "" {
		rootID = named.Id
	}
	posts := eligible(list, exclude)
	kept, omitted := capPosts(posts, c.cfg.MaxPosts, rootID)
	capt := &Capture{Truncated: omitted > 0, Omitted: omitted}
	if err := c.fill(ctx, capt, named.ChannelId, kept, named); err != nil {
		return nil, fmt.Errorf("mattermost: capture thread of %s: %w", postID, err)
	}
	capt.Source.RootPostID = rootID
	capt.Source.TriggerPostID = postID
	return capt, nil
}

// captureWindow captures the newest posts of the channel.
func (c *Client) captureWindow(ctx context.Context, req CaptureRequest, exclude map[string]bool) (*Capture, error) {
	if !isPostID(req.ChannelID) {
		return nil, fmt.Errorf("mattermost: capture: %w", models.Invalid("channel_id", "a channel id is needed when no thread is named"))
	}
	w := req.Window
	if w.MaxPosts <= 0 {
		w.MaxPosts = c.cfg.Window.MaxPosts
	}
	if w.MaxAge <= 0 {
		w.MaxAge = c.cfg.Window.MaxAge
	}
	w.MaxPosts = min(w.MaxPosts, c.cfg.MaxPosts)
	kept, omitted, atLeast, err := c.channelWindow(ctx, req.ChannelID, w, exclude)
	if err != nil {
		return nil, fmt.Errorf("mattermost: capture channel %s: %w", req.ChannelID, err)
	}
	capt := &Capture{Truncated: omitted > 0, Omitted: omitted, OmittedAtLeast: atLeast}
	if err := c.fill(ctx, capt, req.ChannelID, kept, nil); err != nil {
		return nil, fmt.Errorf("mattermost: capture channel %s: %w", req.ChannelID, err)
	}
	return capt, nil
}

// fill resolves the authors and the channel and team names, and converts
// the posts (and the trigger, if any).
func (c *Client) fill(ctx context.Context, capt *Capture, channelID string, posts []*model.Post, trigger *model.Post) error {
	ch, err := c.getChannel(ctx, channelID)
	if err != nil {
		return err
	}
	capt.Source.ChannelID, capt.Source.ChannelName = ch.Id, ch.Name
	if ch.TeamId != "" {
		team, err := c.getTeam(ctx, ch.TeamId)
		if err != nil {
			return err
		}
		capt.Source.TeamID, capt.Source.TeamName = team.Id, team.Name
	}
	ids := make([]string, 0, len(posts)+1)
	for _, p := range posts {
		ids = append(ids, p.UserId)
	}
	if trigger != nil {
		ids = append(ids, trigger.UserId)
	}
	res, err := c.resolveAuthors(ctx, channelID, ids)
	if err != nil {
		return err
	}
	capt.Warnings = res.warnings
	capt.Posts = make([]models.ConversationPost, 0, len(posts))
	for i, p := range posts {
		cp, err := c.conversationPost(p, res.byID[p.UserId])
		if err != nil {
			return err
		}
		cp.Position = i
		capt.Posts = append(capt.Posts, cp)
	}
	if trigger != nil {
		cp, err := c.conversationPost(trigger, res.byID[trigger.UserId])
		if err != nil {
			return err
		}
		capt.Trigger = &cp
	}
	capt.CapturedAt = c.cfg.Now()
	return nil
}

// eligible returns the posts of a list that are conversation: live, not
// system messages, not by an excluded author; oldest first.
func eligible(list *model.PostList, exclude map[string]bool) []*model.Post {
	out := make([]*model.Post, 0, len(list.Posts))
	for _, p := range list.Posts {
		if p.DeleteAt == 0 && !isSystem(p) && !exclude[p.UserId] {
			out = append(out, p)
		}
	}
	sortPosts(out)
	return out
}

// sortPosts orders posts by create_at, ties by id, so the order is the
// same on every capture.
func sortPosts(ps []*model.Post) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].CreateAt != ps[j].CreateAt {
			return ps[i].CreateAt < ps[j].CreateAt
		}
		return ps[i].Id < ps[j].Id
	})
}

// capPosts keeps at most limit posts of an oldest-first slice: the newest,
// plus keepID (the root) in place of the oldest of them when it would
// otherwise fall out.
func capPosts(posts []*model.Post, limit int, keepID string) ([]*model.Post, int) {
	if len(posts) <= limit {
		return posts, 0
	}
	newest := posts[len(posts)-limit:]
	if keepID == "" || posts[0].Id != keepID || limit < 2 {
		return newest, len(posts) - limit
	}
	kept := make([]*model.Post, 0, limit)
	kept = append(kept, posts[0])
	kept = append(kept, posts[len(posts)-limit+1:]...)
	return kept, len(posts) - limit
}
