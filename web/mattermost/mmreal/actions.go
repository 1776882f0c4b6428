package mmreal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// ExecuteCommand runs a slash command as user, exactly as the web app does
// (POST /api/v4/commands/execute), and returns what the user sees. rootID
// is the thread the command is typed in ("" for the channel). The error is
// the server's answer when it refused or the integration failed; it does
// not fail the test, so load runs and tests of failures can use it. Safe
// from any goroutine.
func (w *World) ExecuteCommand(user *User, channelID, text, rootID string) (*model.CommandResponse, error) {
	ctx, cancel := w.ctx()
	defer cancel()
	args := &model.CommandArgs{ChannelId: channelID, TeamId: w.Team.Id, Command: text, RootId: rootID, ParentId: rootID}
	resp, err := user.Client.DoAPIPostJSON(ctx, "/commands/execute", args)
	if err != nil {
		return nil, fmt.Errorf("mmreal: %s runs %q: %w", user.Username, text, err)
	}
	defer resp.Body.Close()
	var out model.CommandResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("mmreal: %s runs %q: decode the answer: %w", user.Username, text, err)
	}
	return &out, nil
}

// Post posts text in channelID as user.
func (w *World) Post(user *User, channelID, text string) *model.Post {
	w.t.Helper()
	return w.create(user, &model.Post{ChannelId: channelID, Message: text})
}

// Reply answers in the thread of rootID as user.
func (w *World) Reply(user *User, rootID, text string) *model.Post {
	w.t.Helper()
	root := w.GetPost(rootID)
	return w.create(user, &model.Post{ChannelId: root.ChannelId, RootId: rootID, Message: text})
}

func (w *World) create(user *User, p *model.Post) *model.Post {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	created, _, err := user.Client.CreatePost(ctx, p)
	w.must(err, user.Username+" posts")
	return created
}

// Edit changes the message of postID as user (its author, or anyone
// allowed to edit others' posts).
func (w *World) Edit(user *User, postID, text string) *model.Post {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	p, _, err := user.Client.PatchPost(ctx, postID, &model.PostPatch{Message: &text})
	w.must(err, user.Username+" edits "+postID)
	return p
}

// Delete deletes postID as user.
func (w *World) Delete(user *User, postID string) {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	_, err := user.Client.DeletePost(ctx, postID)
	w.must(err, user.Username+" deletes "+postID)
}

// WebhookPost posts text through the world's incoming webhook, under
// username when it is not empty (override_username), and returns the
// post Mattermost made of it (top level in Channel, under the webhook
// creator's user id).
func (w *World) WebhookPost(text, username string) *model.Post {
	w.t.Helper()
	since := time.Now().Add(-time.Second).UnixMilli()
	body, err := json.Marshal(&model.IncomingWebhookRequest{Text: text, Username: username})
	w.must(err, "encode webhook request")
	ctx, cancel := w.ctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.Server.URL+"/hooks/"+w.Webhook.Id, bytes.NewReader(body))
	w.must(err, "webhook request")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	w.must(err, "post through the webhook")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("mmreal: webhook answered %s", resp.Status)
	}
	p := w.WaitForPost(w.Channel.Id, since, 10*time.Second, func(p *model.Post) bool {
		return p.GetProp(model.PostPropsFromWebhook) == "true" && p.Message == text
	})
	return p
}

// ClickButton clicks the button actionID of postID as user: Mattermost
// calls the button's integration URL with the post, the clicker and the
// button's context, applies the update the integration answers with, and
// shows its ephemeral text to the clicker alone (over the WebSocket, so it
// is not in the answer here). The error is the server's refusal or the
// integration's failure.
func (w *World) ClickButton(user *User, postID, actionID string) (*model.PostActionAPIResponse, error) {
	ctx, cancel := w.ctx()
	defer cancel()
	resp, err := user.Client.DoAPIPost(ctx, "/posts/"+postID+"/actions/"+actionID, "")
	if err != nil {
		return nil, fmt.Errorf("mmreal: %s clicks %s on %s: %w", user.Username, actionID, postID, err)
	}
	defer resp.Body.Close()
	var out model.PostActionAPIResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("mmreal: %s clicks %s: decode the answer: %w", user.Username, actionID, err)
	}
	return &out, nil
}

// GetPost reads postID as the administrator.
func (w *World) GetPost(postID string) *model.Post {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	p, _, err := w.Server.Admin.Client.GetPost(ctx, postID, "")
	w.must(err, "read post "+postID)
	return p
}

// ThreadPosts is the thread of rootID (root and replies), oldest first,
// as the administrator sees it.
func (w *World) ThreadPosts(rootID string) []*model.Post {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	list, _, err := w.Server.Admin.Client.GetPostThread(ctx, rootID, "", false)
	w.must(err, "read thread "+rootID)
	return ordered(list)
}

// ChannelPosts are the posts of channelID since the Unix millisecond
// since (0: the latest 200), oldest first, as the administrator sees them.
func (w *World) ChannelPosts(channelID string, since int64) []*model.Post {
	w.t.Helper()
	posts, err := w.channelPosts(channelID, since)
	w.must(err, "read channel "+channelID)
	return posts
}

func (w *World) channelPosts(channelID string, since int64) ([]*model.Post, error) {
	ctx, cancel := w.ctx()
	defer cancel()
	admin := w.Server.Admin.Client
	var list *model.PostList
	var err error
	if since > 0 {
		list, _, err = admin.GetPostsSince(ctx, channelID, since, false)
	} else {
		list, _, err = admin.GetPostsForChannel(ctx, channelID, 0, 200, "", false, false)
	}
	if err != nil {
		return nil, err
	}
	return ordered(list), nil
}

// DirectChannel is the direct channel between the bot and user, as user
// finds it among their channels without opening one: nil until somebody
// wrote. (A test that opened the channel itself would not see what the
// bot does on its own.)
func (w *World) DirectChannel(user *User) *model.Channel {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	chans, _, err := user.Client.GetChannelsForTeamForUser(ctx, w.Team.Id, user.Id, false, "")
	w.must(err, "list the channels of "+user.Username)
	name := model.GetDMNameFromIds(user.Id, w.Bot.User.Id)
	for _, ch := range chans {
		if ch.Type == model.ChannelTypeDirect && ch.Name == name {
			return ch
		}
	}
	return nil
}

// WaitForDirectPost waits until the bot has written to user, directly,
// a post that satisfies match, and fails the test after timeout.
func (w *World) WaitForDirectPost(user *User, timeout time.Duration, match func(*model.Post) bool) *model.Post {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ch := w.DirectChannel(user); ch != nil {
			return w.WaitForPost(ch.Id, 0, time.Until(deadline), func(p *model.Post) bool { return p.UserId == w.Bot.User.Id && match(p) })
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("mmreal: the bot never wrote to %s directly (after %s)", user.Username, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitForPost polls channelID (posts created or changed since the Unix
// millisecond since) until one satisfies match, and fails the test after
// timeout. Countersign posts after commit, from its outbox, so its
// messages come a moment after the action that causes them.
func (w *World) WaitForPost(channelID string, since int64, timeout time.Duration, match func(*model.Post) bool) *model.Post {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []*model.Post
	for {
		posts, err := w.channelPosts(channelID, since)
		if err == nil {
			last = posts
			for _, p := range posts {
				if p.DeleteAt == 0 && match(p) {
					return p
				}
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("mmreal: no matching post in %s after %s; posts: %s", channelID, timeout, describe(last))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe lists posts for a failure message.
func describe(posts []*model.Post) string {
	s := ""
	for _, p := range posts {
		s += fmt.Sprintf("\n  %s root=%q user=%s edit_at=%d: %q", p.Id, p.RootId, p.UserId, p.EditAt, p.Message)
	}
	if s == "" {
		return "none"
	}
	return s
}

// ordered returns the posts of list oldest first.
func ordered(list *model.PostList) []*model.Post {
	out := make([]*model.Post, 0, len(list.Posts))
	for _, p := range list.Posts {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateAt < out[j].CreateAt })
	return out
}
