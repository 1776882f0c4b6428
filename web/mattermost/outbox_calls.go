package mattermost

import (
	"context"
	"fmt"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
)

// UserIDByUsername resolves a username (with or without a leading @) to a
// user id: approvers are configured by name, DMs need ids. An unknown name
// is models.ErrNotFound. Answers are kept like cached accounts (CacheTTL):
// a rename shows at most one TTL later, and "not found" is never kept.
func (c *Client) UserIDByUsername(ctx context.Context, username string) (string, error) {
	name := trimAt(username)
	if !model.IsValidUsername(name) {
		return "", fmt.Errorf("mattermost: user by name: %w", models.Invalid("username", fmt.Sprintf("%q is not a Mattermost username", username)))
	}
	if id, ok := c.usernames.get(name); ok {
		return id, nil
	}
	var u *model.User
	err := c.call(ctx, "get user by username "+name, func(ctx context.Context) (r *model.Response, err error) {
		u, r, err = c.api.GetUserByUsername(ctx, name, "")
		return r, err
	})
	if err != nil {
		return "", fmt.Errorf("mattermost: %w", err)
	}
	c.usernames.put(name, u.Id)
	return u.Id, nil
}

// DirectChannel returns the id of the bot's DM channel with userID,
// creating it on first use. The channel of two accounts never changes, so
// with the lookup cache on it is asked for once per TTL, not once per
// message.
func (c *Client) DirectChannel(ctx context.Context, userID string) (string, error) {
	if id, ok := c.dms.get(userID); ok {
		return id, nil
	}
	me, err := c.BotUserID(ctx)
	if err != nil {
		return "", err
	}
	var ch *model.Channel
	err = c.call(ctx, "open direct channel with "+userID, func(ctx context.Context) (r *model.Response, err error) {
		ch, r, err = c.api.CreateDirectChannel(ctx, me, userID)
		return r, err
	})
	if err != nil {
		return "", fmt.Errorf("mattermost: %w", err)
	}
	c.dms.put(userID, ch.Id)
	return ch.Id, nil
}

// FindKeyedPost looks for a live post by the bot carrying prop propKey =
// key: in the thread of rootID when set, else among the channel's posts
// changed since sinceMS. It answers "did my earlier attempt post this
// already?" after a crash or a lost answer, when Mattermost's own
// pending_post_id de-duplication may have expired. Nil, nil when there is
// none.
func (c *Client) FindKeyedPost(ctx context.Context, channelID, rootID string, sinceMS int64, propKey, key string) (*model.Post, error) {
	me, err := c.BotUserID(ctx)
	if err != nil {
		return nil, err
	}
	var list *model.PostList
	if rootID != "" {
		list, err = c.getThread(ctx, rootID)
	} else {
		list, err = c.getChannelSince(ctx, channelID, sinceMS)
	}
	if err != nil {
		return nil, fmt.Errorf("mattermost: look for an earlier post: %w", err)
	}
	for _, p := range list.Posts {
		if p.UserId != me || p.DeleteAt != 0 {
			continue
		}
		if v, ok := p.GetProp(propKey).(string); ok && v == key {
			return p, nil
		}
	}
	return nil, nil
}

func trimAt(s string) string {
	if len(s) > 0 && s[0] == '@' {
		return s[1:]
	}
	return s
}
