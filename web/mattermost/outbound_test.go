package mattermost

import (
	"context"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// A create whose answer was lost is retried without posting twice.
func TestCreatePostRetryDoesNotDuplicate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.fake.Inject(mmfake.Fault{Method: "POST", PathPrefix: "/api/v4/posts", AfterHandling: true, Status: 502})
	p, err := e.client.CreatePost(ctx, &model.Post{ChannelId: mmfake.ChannelID, RootId: mmfake.RootPostID, Message: "REQ-1 pending"})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Count("POST", "/api/v4/posts"); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	mine := 0
	for _, q := range e.fake.ChannelPosts(mmfake.ChannelID) {
		if q.UserId == e.botID {
			mine++
		}
	}
	if mine != 1 || p.UserId != e.botID || p.RootId != mmfake.RootPostID {
		t.Errorf("%d posts by the bot; created %+v", mine, p)
	}
}

func TestUpdatePostInPlace(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	p, err := e.client.CreatePost(ctx, &model.Post{ChannelId: mmfake.ChannelID, Message: "⌛ REQ-1 pending"})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext(1, 503)
	u, err := e.client.UpdatePost(ctx, p.Id, "✅ REQ-1 approved", model.StringInterface{"countersign_request": "REQ-1"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Id != p.Id || u.Message != "✅ REQ-1 approved" || u.EditAt == 0 || u.GetProp("countersign_request") != "REQ-1" {
		t.Errorf("updated %+v", u)
	}
}

func TestDirectMessage(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var channels []string
	for range 2 {
		p, err := e.client.DirectMessage(ctx, mmfake.BobID, &model.Post{Message: "REQ-1 needs your approval"})
		if err != nil {
			t.Fatal(err)
		}
		channels = append(channels, p.ChannelId)
		if p.UserId != e.botID || p.Message != "REQ-1 needs your approval" {
			t.Errorf("dm %+v", p)
		}
	}
	if channels[0] != channels[1] || len(e.fake.ChannelPosts(channels[0])) != 2 {
		t.Errorf("dm channels %v", channels)
	}
	dm, _, err := e.fake.Client(e.token).GetChannel(ctx, channels[0])
	if err != nil || dm.Type != model.ChannelTypeDirect || dm.Name != model.GetDMNameFromIds(e.botID, mmfake.BobID) {
		t.Errorf("dm channel %+v %v", dm, err)
	}
	if n := e.fake.Count("GET", mePath); n != 1 {
		t.Errorf("bot user looked up %d times, want once", n)
	}
	p, err := e.client.GetPost(ctx, mmfake.RootPostID)
	if err != nil || p.Id != mmfake.RootPostID {
		t.Errorf("get post: %v", err)
	}
}
