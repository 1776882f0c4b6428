package mattermost

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
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

	// Short-lived lookups (see cache.go); nil when CacheTTL is 0. Values
	// are never modified once stored.
	users    *ttlCache[*model.User]
	bots     *ttlCache[*model.Bot]
	channels *ttlCache[*model.Channel]
	teams    *ttlCache[*model.Team]
	// usernames maps a username to its user id, and dms a
	// user id to the bot's DM channel with that user (see
	// outbox_calls.go).
	usernames *ttlCache[string]
	dms       *ttlCache[string]
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
	return &Client{
		cfg: cfg, site: site, api: api, log: cfg.Logger,
		users:    newTTLCache[*model.User](cfg.CacheTTL, cfg.CacheSize, cfg.Now),
		bots:     newTTLCache[*model.Bot](cfg.CacheTTL, cfg.CacheSize, cfg.Now),
		channels: newTTLCache[*model.Channel](cfg.CacheTTL, cfg.CacheSize, cfg.Now),
		teams:    newTTLCache[*model.Team](cfg.CacheTTL, cfg.CacheSize, cfg.Now),

		usernames: newTTLCache[string](cfg.CacheTTL, cfg.CacheSize, cfg.Now),
		dms:       newTTLCache[string](cfg.CacheTTL, cfg.CacheSize, cfg.Now),
	}, nil
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
// bot?". The answer may come from the cache; it must not be modified.
func (c *Client) getUser(ctx context.Context, userID string) (*model.User, error) {
	return cachedGet(ctx, c, c.users, userID, "get user "+userID, func(ctx context.Context) (*model.User, *model.Response, error) {
		return c.api.GetUser(ctx, userID, "")
	})
}

// idsPerCall bounds the ids sent in one batch lookup, so a capture of
// hundreds of authors stays within what a server accepts in one body.
const idsPerCall = 100

// getUsers fetches the accounts of ids (distinct, valid ids) with as few
// calls as possible: cached ones are reused, the others come from POST
// /users/ids, idsPerCall at a time. Ids Mattermost does not return are
// absent from the map; the caller decides what that means.
func (c *Client) getUsers(ctx context.Context, ids []string) (map[string]*model.User, error) {
	out := make(map[string]*model.User, len(ids))
	var missing []string
	for _, id := range ids {
		if u, ok := c.users.get(id); ok {
			out[id] = u
		} else {
			missing = append(missing, id)
		}
	}
	err := inBatches(ctx, c, missing, func(n int) string { return fmt.Sprintf("get %d users by id", n) },
		func(ctx context.Context, chunk []string) ([]*model.User, *model.Response, error) {
			return c.api.GetUsersByIds(ctx, chunk)
		},
		func(u *model.User, asked map[string]bool) {
			if u != nil && asked[u.Id] {
				out[u.Id] = u
				c.users.put(u.Id, u)
			}
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// getBot fetches a bot record for its owner. Mattermost answers 404 when
// the bot account lacks read_others_bots. The answer may come from the
// cache; failures are never cached.
func (c *Client) getBot(ctx context.Context, userID string) (*model.Bot, error) {
	return cachedGet(ctx, c, c.bots, userID, "get bot "+userID, func(ctx context.Context) (*model.Bot, *model.Response, error) {
		return c.api.GetBotIncludeDeleted(ctx, userID, "")
	})
}

// getChannel fetches a channel's record (name, team), possibly cached.
// It is not what guards access: the posts themselves are always read
// fresh, with the bot's permissions.
func (c *Client) getChannel(ctx context.Context, channelID string) (*model.Channel, error) {
	return cachedGet(ctx, c, c.channels, channelID, "get channel "+channelID, func(ctx context.Context) (*model.Channel, *model.Response, error) {
		return c.api.GetChannel(ctx, channelID)
	})
}

// getTeam fetches a team's record (name for permalinks), possibly cached.
func (c *Client) getTeam(ctx context.Context, teamID string) (*model.Team, error) {
	return cachedGet(ctx, c, c.teams, teamID, "get team "+teamID, func(ctx context.Context) (*model.Team, *model.Response, error) {
		return c.api.GetTeam(ctx, teamID, "")
	})
}

// cachedGet answers key from cache, or fetches it through c.call (timeout,
// retries) and caches the answer; failures are never cached.
func cachedGet[V any](ctx context.Context, c *Client, cache *ttlCache[V], key, what string, fetch func(context.Context) (V, *model.Response, error)) (V, error) {
	if v, ok := cache.get(key); ok {
		return v, nil
	}
	var v V
	err := c.call(ctx, what, func(ctx context.Context) (r *model.Response, err error) {
		v, r, err = fetch(ctx)
		return r, err
	})
	if err != nil {
		var zero V
		return zero, err
	}
	cache.put(key, v)
	return v, nil
}

// channelMembers reports which of userIDs (distinct, valid ids) are
// members of channelID now, with POST /channels/{id}/members/ids,
// idsPerCall at a time. Membership is never cached.
func (c *Client) channelMembers(ctx context.Context, channelID string, userIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(userIDs))
	err := inBatches(ctx, c, userIDs, func(n int) string { return fmt.Sprintf("get membership of %d users in channel %s", n, channelID) },
		func(ctx context.Context, chunk []string) (model.ChannelMembers, *model.Response, error) {
			return c.api.GetChannelMembersByIds(ctx, channelID, chunk)
		},
		func(m model.ChannelMember, asked map[string]bool) {
			if m.ChannelId == channelID && asked[m.UserId] {
				out[m.UserId] = true
			}
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// inBatches asks Mattermost about ids, idsPerCall at a time, and hands
// every item of each answer to keep with the ids that call asked for.
// keep must take only what was asked: an answer can never put words in
// another account's mouth.
func inBatches[L ~[]T, T any](ctx context.Context, c *Client, ids []string, what func(n int) string,
	fetch func(ctx context.Context, chunk []string) (L, *model.Response, error), keep func(v T, asked map[string]bool)) error {
	for chunk := range slices.Chunk(ids, idsPerCall) {
		var items L
		err := c.call(ctx, what(len(chunk)), func(ctx context.Context) (r *model.Response, err error) {
			items, r, err = fetch(ctx, chunk)
			return r, err
		})
		if err != nil {
			return err
		}
		asked := make(map[string]bool, len(chunk))
		for _, id := range chunk {
			asked[id] = true
		}
		for _, v := range items {
			keep(v, asked)
		}
	}
	return nil
}

// BotUsername returns the bot's username (what people type to mention it).
func (c *Client) BotUsername(ctx context.Context) (string, error) {
	id, err := c.BotUserID(ctx)
	if err != nil {
		return "", err
	}
	u, err := c.getUser(ctx, id)
	if err != nil {
		return "", fmt.Errorf("mattermost: %w", err)
	}
	return u.Username, nil
}
