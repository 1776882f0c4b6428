package mmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// sharedFixtures finds ../shared/fixtures/mattermost next to the repository
// by walking up from the package directory; "" when this checkout has none.
func sharedFixtures(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		candidate := filepath.Join(dir, "shared", "fixtures", "mattermost")
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// The repository keeps its own copy of the captured payloads; it must not
// drift from the shared originals.
func TestTestdataMatchesSharedFixtures(t *testing.T) {
	shared := sharedFixtures(t)
	if shared == "" {
		t.Skip("no shared/fixtures/mattermost above this checkout; testdata/ is the only copy")
	}
	originals, err := filepath.Glob(filepath.Join(shared, "*.json"))
	if err != nil || len(originals) == 0 {
		t.Fatalf("no fixtures in %s: %v", shared, err)
	}
	if len(originals) != len(FixtureNames()) {
		t.Errorf("shared has %d fixtures, testdata %d", len(originals), len(FixtureNames()))
	}
	for _, path := range originals {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Fixture(filepath.Base(path))
		if err != nil {
			t.Errorf("%s missing from testdata: %v", filepath.Base(path), err)
			continue
		}
		if !bytes.Equal(want, got) {
			t.Errorf("testdata/%s differs from %s", filepath.Base(path), path)
		}
	}
}

// capturedRequest is the shape of slash-command-request.json and
// post-action-request.json.
type capturedRequest struct {
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Headers    [][2]string       `json:"headers"`
	RawBody    string            `json:"raw_body"`
	ParsedForm map[string]string `json:"parsed_form"`
	ParsedBody json.RawMessage   `json:"parsed_body"`
}

// Every captured file decodes into the model type it was captured as.
func TestEveryFixtureParses(t *testing.T) {
	types := map[string]func() any{
		"bot.json":                                func() any { return &model.Bot{} },
		"channel-postlist.json":                   func() any { return &model.PostList{} },
		"channel.json":                            func() any { return &model.Channel{} },
		"command-response-in-thread.json":         func() any { return &model.Post{} },
		"command-response-username-override.json": func() any { return &model.Post{} },
		"deleted-post-admin.json":                 func() any { return &model.Post{} },
		"post-action-request.json":                func() any { return &capturedRequest{} },
		"post-action-updated-post.json":           func() any { return &model.Post{} },
		"slash-command-request.json":              func() any { return &capturedRequest{} },
		"team.json":                               func() any { return &model.Team{} },
		"thread-postlist-final.json":              func() any { return &model.PostList{} },
		"thread-postlist.json":                    func() any { return &model.PostList{} },
		"user-bot.json":                           func() any { return &model.User{} },
		"user-human.json":                         func() any { return &model.User{} },
	}
	names := FixtureNames()
	if len(names) != len(types) {
		t.Errorf("testdata has %d fixtures, the test knows %d: teach it the new ones", len(names), len(types))
	}
	for _, name := range names {
		newV, ok := types[name]
		if !ok {
			t.Errorf("%s: no model type known", name)
			continue
		}
		v := newV()
		if err := DecodeFixture(name, v); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		switch x := v.(type) {
		case *model.PostList:
			for _, id := range x.Order {
				if x.Posts[id] == nil {
					t.Errorf("%s: order names %s, which is not in posts", name, id)
				}
			}
		case *capturedRequest:
			checkCapturedRequest(t, name, x)
		}
	}
	var human, bot model.User
	_ = DecodeFixture("user-human.json", &human)
	_ = DecodeFixture("user-bot.json", &bot)
	if human.IsBot || !bot.IsBot {
		t.Errorf("is_bot: human %v, bot %v", human.IsBot, bot.IsBot)
	}
}

func checkCapturedRequest(t *testing.T, name string, c *capturedRequest) {
	t.Helper()
	if c.Method != "POST" || len(c.Headers) == 0 || c.RawBody == "" {
		t.Errorf("%s: incomplete capture %+v", name, c)
	}
	if c.ParsedForm != nil {
		form, err := url.ParseQuery(c.RawBody)
		if err != nil {
			t.Fatalf("%s: raw body is not a form: %v", name, err)
		}
		if len(form) != len(c.ParsedForm) {
			t.Errorf("%s: raw body has %d fields, parsed_form %d", name, len(form), len(c.ParsedForm))
		}
		for k, v := range c.ParsedForm {
			if form.Get(k) != v {
				t.Errorf("%s: field %s: raw %q, parsed %q", name, k, form.Get(k), v)
			}
		}
		if form.Has("root_id") {
			t.Errorf("%s: a 9.10 slash command request carries no root_id", name)
		}
	}
	if c.ParsedBody != nil {
		var req model.PostActionIntegrationRequest
		if err := json.Unmarshal([]byte(c.RawBody), &req); err != nil {
			t.Fatalf("%s: raw body: %v", name, err)
		}
		if req.UserId != AliceID || req.PostId != ButtonPostID || req.Context["token"] != "x" {
			t.Errorf("%s: decoded %+v", name, req)
		}
	}
}

// The fake serves the captured world exactly as the server did, through
// the real client and on the wire.
func TestServedLikeCaptured(t *testing.T) {
	s, bot, admin := fixtureWorld(t)
	cases := []struct {
		fixture, token, path string
		ignore               []string
	}{
		{"thread-postlist-final.json", bot, "/posts/" + RootPostID + "/thread", nil},
		{"thread-postlist-final.json", bot, "/posts/" + EditedPostID + "/thread", nil},
		{"channel-postlist.json", bot, "/channels/" + ChannelID + "/posts?page=0&per_page=60", nil},
		{"user-human.json", bot, "/users/" + AliceID, nil},
		{"user-bot.json", bot, "/users/" + TestbotID, nil},
		{"bot.json", admin, "/bots/" + TestbotID, nil},
		{"channel.json", bot, "/channels/" + ChannelID, nil},
		{"team.json", bot, "/teams/" + TeamID, nil},
		{"command-response-in-thread.json", bot, "/posts/" + CommandReplyPostID, nil},
		// Fetched when the thread had 5 replies; it has 6 at the end.
		{"command-response-username-override.json", bot, "/posts/" + ImpersonatingReplyID, []string{"reply_count"}},
		{"post-action-updated-post.json", bot, "/posts/" + ButtonPostID, nil},
		// Fetched right after the delete, when the thread had 2 replies.
		{"deleted-post-admin.json", admin, "/posts/" + DeletedPostID + "?include_deleted=true", []string{"reply_count"}},
	}
	for _, c := range cases {
		t.Run(c.fixture+" "+c.path, func(t *testing.T) {
			status, body := getRaw(t, s, c.token, c.path)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			assertServedAs(t, c.fixture, body, c.ignore...)
		})
	}
}

// At the first capture the thread held the root, testbot's reply and bob's
// edited reply; carol's reply was already deleted. A fake built from those
// posts serves thread-postlist.json and deleted-post-admin.json exactly,
// reply counts included.
func TestServedLikeCapturedBeforeCommands(t *testing.T) {
	s := New(t)
	var channel model.Channel
	var list model.PostList
	var deleted model.Post
	for name, v := range map[string]any{"channel.json": &channel, "thread-postlist.json": &list, "deleted-post-admin.json": &deleted} {
		if err := DecodeFixture(name, v); err != nil {
			t.Fatal(err)
		}
	}
	s.AddAdmin("admin")
	bot := s.AddBot("testbot", AdminID)
	s.AddChannel(&channel, bot.Id)
	for _, p := range list.Posts {
		s.AddPost(p)
	}
	s.AddPost(&deleted)
	admin := s.NewToken(s.mustUserByName(t, "admin"))
	token := s.NewToken(bot.Id)

	status, body := getRaw(t, s, token, "/posts/"+RootPostID+"/thread")
	if status != 200 {
		t.Fatalf("thread: %d %s", status, body)
	}
	assertServedAs(t, "thread-postlist.json", body)

	status, body = getRaw(t, s, admin, "/posts/"+DeletedPostID+"?include_deleted=true")
	if status != 200 {
		t.Fatalf("deleted post as admin: %d %s", status, body)
	}
	assertServedAs(t, "deleted-post-admin.json", body)

	if status, _ := getRaw(t, s, token, "/posts/"+DeletedPostID); status != 404 {
		t.Errorf("deleted post as bot: status %d, want 404", status)
	}
	if status, _ := getRaw(t, s, token, "/posts/"+DeletedPostID+"?include_deleted=true"); status != 403 {
		t.Errorf("include_deleted as bot: status %d, want 403", status)
	}
}

// The typed client reads the served world with the provenance facts intact.
func TestClientReadsCapturedWorld(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	ctx := context.Background()
	c := s.Client(bot)

	list, _, err := c.GetPostThread(ctx, RootPostID, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Order) != 7 || list.Posts[DeletedPostID] != nil {
		t.Errorf("thread: %d posts, deleted present %v", len(list.Order), list.Posts[DeletedPostID] != nil)
	}
	if p := list.Posts[ImpersonatingReplyID]; p.UserId != AliceID || p.GetProp(model.PostPropsOverrideUsername) != "bob" || p.GetProp(model.PostPropsFromWebhook) != "true" {
		t.Errorf("impersonating reply: %+v", p)
	}
	if p := list.Posts[EditedPostID]; p.EditAt == 0 {
		t.Error("bob's edited reply has no edit_at")
	}
	if p := list.Posts[RootPostID]; p.RemoteId == nil || list.Posts[CommandReplyPostID].RemoteId != nil {
		t.Error("remote_id must be present on API posts and absent on server-made ones")
	}

	u, _, err := c.GetUser(ctx, TestbotID, "")
	if err != nil || !u.IsBot {
		t.Errorf("testbot: %+v %v", u, err)
	}
	if _, resp, err := c.GetBot(ctx, TestbotID, ""); err == nil || appStatus(resp) != 404 {
		t.Errorf("testbot reading a bot it does not own without read_others_bots: %v (status %d), want 404", err, appStatus(resp))
	}
	s.Grant(TestbotID, model.PermissionReadOthersBots.Id)
	b, _, err := c.GetBot(ctx, TestbotID, "")
	if err != nil || b.OwnerId != AdminID {
		t.Errorf("bot with read_others_bots: %+v %v", b, err)
	}
}

func (s *Server) mustUserByName(t *testing.T, name string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, u := range s.users {
		if u.Username == name {
			return id
		}
	}
	t.Fatalf("no user %s", name)
	return ""
}
