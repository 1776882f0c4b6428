package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// A post whose author Mattermost does not return in the batch answer
// fails the whole capture with a clear error naming the account: a post
// is never shown with an unknown author, and nothing half-resolved is
// returned.
func TestCaptureAuthorMissingFromBatch(t *testing.T) {
	e := newEnv(t, nil)
	ghost := strings.Repeat("g", 26)
	e.fake.AddPost(&model.Post{ChannelId: mmfake.ChannelID, RootId: mmfake.RootPostID, UserId: ghost, Message: "who am I"})
	capt, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
	if err == nil || capt != nil {
		t.Fatalf("capture %+v, err %v; want an error", capt, err)
	}
	if !errors.Is(err, models.ErrNotFound) || !strings.Contains(err.Error(), ghost) || !strings.Contains(err.Error(), "did not return this account") {
		t.Errorf("error %q: want ErrNotFound naming %s", err, ghost)
	}
}

// Deactivated accounts keep their posts: Mattermost returns them in the
// batch (with delete_at) and they are resolved like the others, a
// deactivated bot with its owner.
func TestCaptureDeactivatedAuthors(t *testing.T) {
	e := newEnv(t, nil)
	f := e.fake
	gone := f.AddUser(&model.User{Username: "gone", Email: "gone@example.com", DeleteAt: 1795768800000})
	f.AddMember(mmfake.ChannelID, gone.Id)
	oldBot := f.AddUser(&model.User{Username: "oldbot", IsBot: true, DeleteAt: 1795768800000})
	f.AddBotRecord(&model.Bot{UserId: oldBot.Id, Username: "oldbot", OwnerId: mmfake.CarolID, DeleteAt: 1795768800000})
	human := f.Reply(mmfake.RootPostID, gone.Id, "said before leaving")
	bot := f.Reply(mmfake.RootPostID, oldBot.Id, "retired bot speaking")
	capt, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]models.ConversationPost{}
	for _, p := range capt.Posts {
		got[p.PostID] = p
	}
	if p := got[human.Id]; p.AuthorKind != models.AuthorHuman || p.AuthorID != gone.Id || p.AuthorName != "gone" || !p.ChannelMember {
		t.Errorf("deactivated human: %+v", p)
	}
	if p := got[bot.Id]; p.AuthorKind != models.AuthorBot || p.AuthorName != "oldbot" || p.BotOwnerID != mmfake.CarolID || p.ChannelMember {
		t.Errorf("deactivated bot: %+v", p)
	}
}

// More authors than one batch call carries are split over several calls,
// and every one is resolved with its membership.
func TestCaptureManyAuthorsInChunks(t *testing.T) {
	e := newEnv(t, nil)
	f := e.fake
	n := idsPerCall + 20
	root := f.Post(mmfake.ChannelID, mmfake.AliceID, "roll call")
	members := map[string]bool{}
	for i := range n {
		u := f.AddHuman(fmt.Sprintf("user%03d", i))
		if i%3 != 0 {
			f.AddMember(mmfake.ChannelID, u.Id)
			members[u.Id] = true
		}
		f.Reply(root.Id, u.Id, "here")
	}
	f.ResetRequests()
	capt, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: root.Id})
	if err != nil {
		t.Fatal(err)
	}
	if len(capt.Posts) != n+1 {
		t.Fatalf("%d posts, want %d", len(capt.Posts), n+1)
	}
	for _, p := range capt.Posts[1:] {
		if !strings.HasPrefix(p.AuthorName, "user") || p.ChannelMember != members[p.AuthorID] || p.AuthorKind != models.AuthorHuman {
			t.Errorf("post by %s (%s): member %v, kind %s", p.AuthorName, p.AuthorID, p.ChannelMember, p.AuthorKind)
		}
	}
	if u, m := e.fake.Count("POST", "/api/v4/users/ids"), e.fake.Count("POST", "/api/v4/channels/"+mmfake.ChannelID+"/members/ids"); u != 2 || m != 2 {
		t.Errorf("%d user calls and %d membership calls, want 2 each", u, m)
	}
}

// When a batch call keeps failing, the capture fails as Mattermost being
// unavailable, after the configured retries.
func TestCaptureBatchFailures(t *testing.T) {
	for _, path := range []string{"/api/v4/users/ids", "/api/v4/channels/" + mmfake.ChannelID + "/members/ids"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.MaxAttempts = 2 })
			e.fake.Inject(mmfake.Fault{Method: "POST", PathPrefix: path, Status: http.StatusServiceUnavailable, Times: 2})
			capt, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
			if capt != nil || !errors.Is(err, ErrUnavailable) {
				t.Errorf("capture %v, error %v; want ErrUnavailable", capt, err)
			}
			if e.fake.PendingFaults() != 0 {
				t.Error("the faults were not all hit: no retry")
			}
		})
	}
	// A single failure is retried and the capture succeeds.
	e := newEnv(t, nil)
	e.fake.Inject(mmfake.Fault{Method: "POST", PathPrefix: "/api/v4/users/ids", Status: http.StatusBadGateway, Times: 1})
	if _, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID}); err != nil {
		t.Errorf("one failure should be retried: %v", err)
	}
}
