package mattermost

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"

	"github.com/mattermost/mattermost/server/public/model"
)

// Client is the bot's connection to one Mattermost site. It is safe for
// concurrent use; build one per site at start-up and share it.
type Client struct {
	cfg  Config
	site *url.URL
	api  *model.Client4
	log  *slog.Logger

	meMu sync.Mutex
	me   string
}

// New builds a Client from cfg. It does not contact Mattermost; call
// BotUserID to check the token at start-up if wanted.
func New(cfg Config) (*Client, error) {
	cfg, site, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	api := model.NewAPIv4Client(site.String())
	api.HTTPClient = cfg.HTTPClient
	api.SetToken(cfg.BotToken)
	return &Client{cfg: cfg, site: site, api: api, log: cfg.Logger}, nil
}

// SiteURL returns the normalized site URL (no trailing slash), the base of
// permalinks and channel links.
func (c *Client) SiteURL() string { return c.site.String() }

// BotUserID returns the bot's own user id, fetched once. Captures pass it
// in ExcludeUserIDs so Countersign's own messages never become part of
// what is approved.
func (c *Client) BotUserID(ctx context.Context) (string, error) {
	c.meMu.Lock()
	defer c.meMu.Unlock()
	if c.me != "" {
		return c.me, nil
	}
	var u *model.User
	err := c.call(ctx, "get bot user (users/me)", func(ctx context.Context) (r *model.Response, err error) {
		u, r, err = c.api.GetMe(ctx, "")
		return r, err
	})
	if err != nil {
		return "", fmt.Errorf("mattermost: %w", err)
	}
	c.me = u.Id
	return c.me, nil
}

// getPost fetches one live post.
func (c *Client) getPost(ctx context.Context, postID string) (*model.Post, error) {
	var p *model.Post
	err := c.call(ctx, "get post "+postID, func(ctx context.Context) (r *model.Response, err error) {
		p, r, err = c.api.GetPost(ctx, postID, "")
		return r, err
	})
	return p, err
}

// getThread fetches the whole thread of any of its posts.
func (c *Client) getThread(ctx context.Context, postID string) (*model.PostList, error) {
	var l *model.PostList
	err := c.call(ctx, "get thread of post "+postID, func(ctx context.Context) (r *model.Response, err error) {
		l, r, err = c.api.GetPostThread(ctx, postID, "", false)
		return r, err
	})
	return l, err
}

// getChannelPage fetches one page of a channel's posts, newest first.
func (c *Client) getChannelPage(ctx context.Context, channelID string, page, perPage int) (*model.PostList, error) {
	var l *model.PostList
	err := c.call(ctx, fmt.Sprintf("get posts of channel %s (page %d)", channelID, page), func(ctx context.Context) (r *model.Response, err error) {
		l, r, err = c.api.GetPostsForChannel(ctx, channelID, page, perPage, "", false, false)
		return r, err
	})
	return l, err
}

// getChannelSince fetches the channel's posts changed after since (epoch
// ms), deleted ones included.
func (c *Client) getChannelSince(ctx context.Context, channelID string, since int64) (*model.PostList, error) {
	var l *model.PostList
	err := c.call(ctx, fmt.Sprintf("get posts of channel %s since %d", channelID, since), func(ctx context.Context) (r *model.Response, err error) {
		l, r, err = c.api.GetPostsSince(ctx, channelID, since, false)
		return r, err
	})
	return l, err
}

// getUser fetches an account: the only trustworthy answer to "is this a
// bot?".
func (c *Client) getUser(ctx context.Context, userID string) (*model.User, error) {
	var u *model.User
	err := c.call(ctx, "get user "+userID, func(ctx context.Context) (r *model.Response, err error) {
		u, r, err = c.api.GetUser(ctx, userID, "")
		return r, err
	})
	return u, err
}

// getBot fetches a bot record for its owner. Mattermost answers 404 when
// the bot account lacks read_others_bots.
func (c *Client) getBot(ctx context.Context, userID string) (*model.Bot, error) {
	var b *model.Bot
	err := c.call(ctx, "get bot "+userID, func(ctx context.Context) (r *model.Response, err error) {
		b, r, err = c.api.GetBotIncludeDeleted(ctx, userID, "")
		return r, err
	})
	return b, err
}

// getChannel fetches a channel's record (name, team).
func (c *Client) getChannel(ctx context.Context, channelID string) (*model.Channel, error) {
	var ch *model.Channel
	err := c.call(ctx, "get channel "+channelID, func(ctx context.Context) (r *model.Response, err error) {
		ch, r, err = c.api.GetChannel(ctx, channelID)
		return r, err
	})
	return ch, err
}

// getTeam fetches a team's record (name for permalinks).
func (c *Client) getTeam(ctx context.Context, teamID string) (*model.Team, error) {
	var t *model.Team
	err := c.call(ctx, "get team "+teamID, func(ctx context.Context) (r *model.Response, err error) {
		t, r, err = c.api.GetTeam(ctx, teamID, "")
		return r, err
	})
	return t, err
}

// isChannelMember reports whether userID is a member of channelID; a 404
// from Mattermost means "not a member".
func (c *Client) isChannelMember(ctx context.Context, channelID, userID string) (bool, error) {
	err := c.call(ctx, fmt.Sprintf("get membership of user %s in channel %s", userID, channelID), func(ctx context.Context) (r *model.Response, err error) {
		_, r, err = c.api.GetChannelMember(ctx, channelID, userID, "")
		return r, err
	})
	if err != nil {
		if isStatus(err, 404) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
