package mattermost

import (
	"context"

	"github.com/mattermost/mattermost/server/public/model"
)

// Paging of the channel window. maxWindowPages bounds the reading of a
// channel full of system messages or excluded posts.
const (
	windowPerPage  = 200
	maxWindowPages = 10
)

// channelWindow reads the channel newest first, page by page, until a post
// is older than w.MaxAge, the channel ends, more than w.MaxPosts eligible
// posts were seen, or maxWindowPages were read. It keeps the newest
// w.MaxPosts eligible posts (oldest first) and counts the eligible posts
// seen within the age that it left out. It does not read further pages
// only to count: when more may exist, the count is a lower bound
// (atLeast). One page is usually enough, so a capture stays fast.
func (c *Client) channelWindow(ctx context.Context, channelID string, w Window, exclude map[string]bool) (kept []*model.Post, omitted int, atLeast bool, err error) {
	cutoff := c.cfg.Now().Add(-w.MaxAge).UnixMilli()
	var newestFirst []*model.Post
	// Posts arriving while we read shift the pages; never count one twice.
	seen := map[string]bool{}
	for page := 0; page < maxWindowPages; page++ {
		list, err := c.getChannelPage(ctx, channelID, page, windowPerPage)
		if err != nil {
			return nil, 0, false, err
		}
		ended := len(list.Order) < windowPerPage
		for _, id := range list.Order {
			p := list.Posts[id]
			if p == nil || seen[id] {
				continue
			}
			seen[id] = true
			if p.CreateAt < cutoff {
				ended = true
				break
			}
			if p.DeleteAt == 0 && !isSystem(p) && !exclude[p.UserId] {
				newestFirst = append(newestFirst, p)
			}
		}
		if ended {
			break
		}
		if len(newestFirst) > w.MaxPosts {
			atLeast = true
			break
		}
	}
	if len(newestFirst) > w.MaxPosts {
		omitted = len(newestFirst) - w.MaxPosts
		newestFirst = newestFirst[:w.MaxPosts]
	} else {
		atLeast = false
	}
	kept = append(kept, newestFirst...)
	sortPosts(kept)
	return kept, omitted, atLeast, nil
}
