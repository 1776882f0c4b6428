package mattermost

import (
	"context"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

func changes(d *Diff) map[string]Change {
	m := map[string]Change{}
	for _, p := range d.Posts {
		m[p.PostID] = p.Change
	}
	return m
}

func TestRecaptureUnchanged(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.client.Recapture(ctx, c.Posts, RecaptureRequest{RootPostID: c.Source.RootPostID, ChannelID: c.Source.ChannelID})
	if err != nil {
		t.Fatal(err)
	}
	if d.ContentChanged() || d.Count(Unchanged) != len(c.Posts) || len(d.Added) != 0 {
		t.Errorf("nothing happened, yet: %+v", d)
	}
	for _, p := range d.Posts {
		if p.Current == nil || p.Current.Hash != p.Captured.Hash {
			t.Errorf("%s: current %+v", p.PostID, p.Current)
		}
	}
}

// Edited after capture, deleted after capture, and later discussion
// (Countersign's own message and system messages excluded).
func TestRecaptureThreadChanges(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.RootPostID, ExcludeUserIDs: []string{e.botID}})
	if err != nil {
		t.Fatal(err)
	}
	f := e.fake
	if err := f.Edit(mmfake.EditedPostID, "Bob reply (quietly changed after capture)"); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(mmfake.BotReplyPostID, mmfake.AdminID); err != nil {
		t.Fatal(err)
	}
	later := f.Reply(mmfake.RootPostID, mmfake.CarolID, "wait, is this safe?")
	f.Reply(mmfake.RootPostID, e.botID, "REQ-1: approved by 1 of 2")
	f.AddPost(&model.Post{ChannelId: mmfake.ChannelID, RootId: mmfake.RootPostID, UserId: mmfake.AdminID, Type: "system_generic", Message: "x"})

	d, err := e.client.Recapture(ctx, c.Posts, RecaptureRequest{RootPostID: c.Source.RootPostID, ChannelID: c.Source.ChannelID, ExcludeUserIDs: []string{e.botID}})
	if err != nil {
		t.Fatal(err)
	}
	got := changes(d)
	if got[mmfake.EditedPostID] != Edited || got[mmfake.BotReplyPostID] != Deleted || d.Count(Unchanged) != len(c.Posts)-2 {
		t.Errorf("changes %v", got)
	}
	if !d.ContentChanged() {
		t.Error("an edit and a deletion must count as changed content")
	}
	for _, p := range d.Posts {
		switch p.PostID {
		case mmfake.EditedPostID:
			if p.Current.Message != "Bob reply (quietly changed after capture)" || p.Current.EditAt <= p.Captured.EditAt || p.Current.Hash == p.Captured.Hash {
				t.Errorf("edited: captured %+v current %+v", p.Captured, p.Current)
			}
		case mmfake.BotReplyPostID:
			if p.Current != nil {
				t.Errorf("deleted post has a current version: %+v", p.Current)
			}
		}
	}
	if len(d.Added) != 1 || d.Added[0].PostID != later.Id || d.Added[0].AuthorKind != models.AuthorHuman || d.Added[0].AuthorName != "carol" {
		t.Errorf("added %+v", d.Added)
	}
}

// Changing the name a webhook post displays is a change too.
func TestRecaptureWebhookLabelChange(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.WebhookPostID})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.fake.NewToken(mmfake.AdminID)
	props := model.StringInterface{model.PostPropsFromWebhook: "true", model.PostPropsOverrideUsername: "security-lead"}
	if _, _, err := e.fake.Client(admin).PatchPost(ctx, mmfake.WebhookPostID, &model.PostPatch{Props: &props}); err != nil {
		t.Fatal(err)
	}
	d, err := e.client.Recapture(ctx, c.Posts, RecaptureRequest{RootPostID: c.Source.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	if changes(d)[mmfake.WebhookPostID] != Edited || d.Posts[0].Current.OverrideUsername != "security-lead" {
		t.Errorf("relabelled webhook post: %+v", d.Posts[0])
	}
}

// A deleted root takes the thread with it: every captured post is gone.
func TestRecaptureThreadDeleted(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Delete(mmfake.RootPostID, mmfake.AliceID); err != nil {
		t.Fatal(err)
	}
	d, err := e.client.Recapture(ctx, c.Posts, RecaptureRequest{RootPostID: mmfake.RootPostID, ChannelID: mmfake.ChannelID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Count(Deleted) != len(c.Posts) || !d.ContentChanged() {
		t.Errorf("changes %v", changes(d))
	}
}

// A channel-window capture is checked against the channel's posts since.
func TestRecaptureChannelWindow(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c, err := e.client.Capture(ctx, CaptureRequest{ChannelID: mmfake.ChannelID, ExcludeUserIDs: []string{e.botID}})
	if err != nil {
		t.Fatal(err)
	}
	f := e.fake
	if err := f.Edit(mmfake.RootPostID, "Root post by alice: never mind, deploy to prod now"); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(mmfake.WebhookPostID, mmfake.AdminID); err != nil {
		t.Fatal(err)
	}
	later := f.Post(mmfake.ChannelID, mmfake.BobID, "late top-level post")
	f.Post(mmfake.ChannelID, e.botID, "Countersign: REQ-1 pending")

	d, err := e.client.Recapture(ctx, c.Posts, RecaptureRequest{ChannelID: mmfake.ChannelID, ExcludeUserIDs: []string{e.botID}})
	if err != nil {
		t.Fatal(err)
	}
	got := changes(d)
	if got[mmfake.RootPostID] != Edited || got[mmfake.WebhookPostID] != Deleted || d.Count(Unchanged) != len(c.Posts)-2 {
		t.Errorf("changes %v", got)
	}
	if len(d.Added) != 1 || d.Added[0].PostID != later.Id {
		t.Errorf("added %+v", d.Added)
	}
}

// A post missing from the listing is looked up before it is called
// deleted.
func TestRecaptureConfirmsMissingPosts(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	// Pretend the capture came from a window that also held the webhook
	// post, which is not in the thread listing.
	webhook, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.WebhookPostID})
	if err != nil {
		t.Fatal(err)
	}
	posts := append(c.Posts, webhook.Posts...)
	e.fake.ResetRequests()
	d, err := e.client.Recapture(ctx, posts, RecaptureRequest{RootPostID: mmfake.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	if changes(d)[mmfake.WebhookPostID] != Unchanged || e.fake.Count("GET", "/api/v4/posts/"+mmfake.WebhookPostID) != 1 {
		t.Errorf("changes %v", changes(d))
	}
}
