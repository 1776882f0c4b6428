package mattermost

import (
	"context"
	"fmt"

	"github.com/mattermost/mattermost/server/public/model"
)

// User looks up an account by id, with the client's timeouts and retries
// (and its short-lived cache, see Config.CacheTTL).
// A slash command's user_id is trustworthy only once its token is checked;
// the name shown and stored comes from this lookup, not from the form.
func (c *Client) User(ctx context.Context, userID string) (*model.User, error) {
	if !isPostID(userID) {
		return nil, fmt.Errorf("mattermost: user %q: not a Mattermost id", userID)
	}
	u, err := c.getUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	// A copy: the caller may change it, the cache's copy must not change.
	return u.DeepCopy(), nil
}
