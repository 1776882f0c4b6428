package mmfake

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

func TestAuthentication(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	path := "/users/" + AliceID
	if status, _ := getRaw(t, s, "", path); status != 401 {
		t.Errorf("no token: %d, want 401", status)
	}
	if status, _ := getRaw(t, s, "wrong", path); status != 401 {
		t.Errorf("unknown token: %d, want 401", status)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/api/v4"+path, nil)
	req.Header.Set("Authorization", "Token "+bot)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("Token scheme on the API: %d, want 401", resp.StatusCode)
	}
	me, _, err := s.Client(bot).GetMe(context.Background(), "")
	if err != nil || me.Id != TestbotID {
		t.Errorf("me: %+v %v", me, err)
	}
	for _, r := range s.Requests() {
		if strings.Contains(string(r.Body), bot) || strings.Contains(r.Query.Encode(), bot) {
			t.Error("a token reached the request record")
		}
	}
	if got := s.Requests()[len(s.Requests())-1].UserID; got != TestbotID {
		t.Errorf("recorded caller %q", got)
	}
	if status, _ := getRaw(t, s, bot, "/nothing/here"); status != 404 {
		t.Errorf("unknown route: %d", status)
	}
}

func TestChannelMembership(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	ctx := context.Background()
	c := s.Client(bot)
	if _, _, err := c.GetChannelMember(ctx, ChannelID, BobID, ""); err != nil {
		t.Errorf("bob is a member: %v", err)
	}
	s.RemoveMember(ChannelID, BobID)
	if _, resp, err := c.GetChannelMember(ctx, ChannelID, BobID, ""); err == nil || appStatus(resp) != 404 {
		t.Errorf("bob removed: %v status %d, want 404", err, appStatus(resp))
	}
	private := s.NewChannel(TeamID, "secret", model.ChannelTypePrivate, AliceID)
	if _, resp, err := c.GetChannel(ctx, private.Id); err == nil || appStatus(resp) != 403 {
		t.Errorf("private channel the bot is not in: %v status %d, want 403", err, appStatus(resp))
	}
	root := s.Post(private.Id, AliceID, "secret root")
	if _, resp, err := c.GetPostThread(ctx, root.Id, "", false); err == nil || appStatus(resp) != 403 {
		t.Errorf("thread in a private channel the bot is not in: %v status %d, want 403", err, appStatus(resp))
	}
}

func TestChannelPostsPaging(t *testing.T) {
	s := New(t)
	alice := s.AddHuman("alice")
	team := s.NewTeam("t")
	ch := s.NewChannel(team.Id, "c", model.ChannelTypeOpen, alice.Id)
	token := s.NewToken(alice.Id)
	base := time.UnixMilli(1_000_000)
	var ids []string
	for i := range 5 {
		s.SetClock(func() time.Time { return base.Add(time.Duration(i) * time.Second) })
		ids = append(ids, s.Post(ch.Id, alice.Id, "m").Id)
	}
	ctx := context.Background()
	c := s.Client(token)
	page0, _, err := c.GetPostsForChannel(ctx, ch.Id, 0, 2, "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(page0.Order) != 2 || page0.Order[0] != ids[4] || page0.HasNext == nil || !*page0.HasNext {
		t.Errorf("page 0: %v has_next %v", page0.Order, page0.HasNext)
	}
	page2, _, err := c.GetPostsForChannel(ctx, ch.Id, 2, 2, "", false, false)
	if err != nil || len(page2.Order) != 1 || page2.Order[0] != ids[0] || *page2.HasNext {
		t.Errorf("page 2: %+v %v", page2, err)
	}
	if err := s.Delete(ids[1], alice.Id); err != nil {
		t.Fatal(err)
	}
	since, _, err := c.GetPostsSince(ctx, ch.Id, base.Add(2*time.Second).UnixMilli()-1, false)
	if err != nil {
		t.Fatal(err)
	}
	// Posts 2, 3, 4 by create time, and post 1 because its deletion
	// updated it.
	if len(since.Order) != 4 || since.Posts[ids[1]].DeleteAt == 0 {
		t.Errorf("since: %v", since.Order)
	}
	if _, resp, _ := c.GetPostsForChannel(ctx, ch.Id, 0, 60, "", false, true); appStatus(resp) != 403 {
		t.Errorf("include_deleted as a plain user: %d, want 403", appStatus(resp))
	}
}

func TestWritePosts(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	ctx := context.Background()
	c := s.Client(bot)
	p, resp, err := c.CreatePost(ctx, &model.Post{ChannelId: ChannelID, RootId: RootPostID, Message: "hello", PendingPostId: "pending-1"})
	if err != nil || appStatus(resp) != 201 {
		t.Fatalf("create: %v %d", err, appStatus(resp))
	}
	if p.UserId != TestbotID || p.GetProp(model.PostPropsFromBot) != "true" || p.RemoteId == nil || p.ReplyCount != 7 {
		t.Errorf("created post: %+v", p)
	}
	again, _, err := c.CreatePost(ctx, &model.Post{ChannelId: ChannelID, RootId: RootPostID, Message: "hello", PendingPostId: "pending-1"})
	if err != nil || again.Id != p.Id {
		t.Errorf("same pending_post_id made a second post: %v %v", again.Id, err)
	}
	if _, resp, _ := c.CreatePost(ctx, &model.Post{ChannelId: ChannelID, RootId: EditedPostID, Message: "x"}); appStatus(resp) != 400 {
		t.Errorf("reply to a reply: %d, want 400", appStatus(resp))
	}
	msg := "updated"
	patched, _, err := c.PatchPost(ctx, p.Id, &model.PostPatch{Message: &msg})
	if err != nil || patched.Message != msg || patched.EditAt == 0 {
		t.Errorf("patch: %+v %v", patched, err)
	}
	if _, resp, _ := c.PatchPost(ctx, RootPostID, &model.PostPatch{Message: &msg}); appStatus(resp) != 403 {
		t.Errorf("patching alice's post: %d, want 403", appStatus(resp))
	}
	dm, resp, err := c.CreateDirectChannel(ctx, TestbotID, AliceID)
	if err != nil || dm.Type != model.ChannelTypeDirect || appStatus(resp) != 201 {
		t.Fatalf("dm: %+v %v", dm, err)
	}
	dm2, _, _ := c.CreateDirectChannel(ctx, AliceID, TestbotID)
	if dm2.Id != dm.Id {
		t.Error("second DM channel for the same pair")
	}
	if _, _, err := c.CreatePost(ctx, &model.Post{ChannelId: dm.Id, Message: "psst"}); err != nil {
		t.Errorf("post into dm: %v", err)
	}
	if _, resp, _ := c.CreateDirectChannel(ctx, AliceID, BobID); appStatus(resp) != 403 {
		t.Errorf("dm between two others: %d, want 403", appStatus(resp))
	}
	if n := len(s.ChannelPosts(dm.Id)); n != 1 {
		t.Errorf("dm has %d posts", n)
	}
}

func TestDeletedRootTakesThread(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	if err := s.Delete(RootPostID, AliceID); err != nil {
		t.Fatal(err)
	}
	_, resp, err := s.Client(bot).GetPostThread(context.Background(), EditedPostID, "", false)
	if err == nil || appStatus(resp) != 404 {
		t.Errorf("thread of a deleted root: %v %d", err, appStatus(resp))
	}
}

func TestFaultsAndLatency(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	ctx := context.Background()
	c := s.Client(bot)
	s.FailNext(2, 503)
	for i := range 2 {
		if _, resp, err := c.GetUser(ctx, AliceID, ""); err == nil || appStatus(resp) != 503 {
			t.Errorf("call %d: %v %d, want 503", i, err, appStatus(resp))
		}
	}
	if _, _, err := c.GetUser(ctx, AliceID, ""); err != nil {
		t.Errorf("after the faults: %v", err)
	}
	s.Inject(Fault{Method: "GET", PathPrefix: "/api/v4/teams/", Status: 500})
	if _, _, err := c.GetUser(ctx, AliceID, ""); err != nil {
		t.Errorf("fault for teams hit users: %v", err)
	}
	if _, resp, _ := c.GetTeam(ctx, TeamID, ""); appStatus(resp) != 500 {
		t.Errorf("team: %d, want 500", appStatus(resp))
	}
	if s.PendingFaults() != 0 {
		t.Errorf("%d faults left", s.PendingFaults())
	}
	if n := s.Count("GET", "/api/v4/users/"+AliceID); n != 4 {
		t.Errorf("recorded %d user reads, want 4", n)
	}
	s.SetLatency(time.Second)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, _, err := c.GetUser(short, AliceID, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow server: %v, want deadline exceeded", err)
	}
}
