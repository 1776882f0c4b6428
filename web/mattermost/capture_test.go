package mattermost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// want is the expected provenance of one captured post.
type want struct {
	postID, authorID, authorName string
	kind                         models.AuthorKind
	owner, override              string
	edited                       bool
}

// The captured thread, in create_at order, with who really wrote what.
var fixtureThread = []want{
	{mmfake.RootPostID, mmfake.AliceID, "alice", models.AuthorHuman, "", "", false},
	{mmfake.BotReplyPostID, mmfake.TestbotID, "testbot", models.AuthorBot, mmfake.AdminID, "", false},
	{mmfake.EditedPostID, mmfake.BobID, "bob", models.AuthorHuman, "", "", true},
	{"e9zq13z86fre8djnyz8p6aspph", mmfake.AliceID, "alice", models.AuthorWebhook, "", "", false},
	{mmfake.ImpersonatingReplyID, mmfake.AliceID, "alice", models.AuthorWebhook, "", "bob", false},
	{mmfake.ButtonPostID, mmfake.TestbotID, "testbot", models.AuthorBot, mmfake.AdminID, "", true},
	{mmfake.CommandReplyPostID, mmfake.AliceID, "alice", models.AuthorWebhook, "", "", false},
}

func checkPosts(t *testing.T, got []models.ConversationPost, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		ids := make([]string, len(got))
		for i := range got {
			ids[i] = got[i].PostID
		}
		t.Fatalf("captured %d posts %v, want %d", len(got), ids, len(wants))
	}
	for i, w := range wants {
		p := got[i]
		if p.PostID != w.postID || p.AuthorID != w.authorID || p.AuthorName != w.authorName || p.AuthorKind != w.kind ||
			p.BotOwnerID != w.owner || p.OverrideUsername != w.override || (p.EditAt != 0) != w.edited ||
			p.FromWebhook != (w.kind == models.AuthorWebhook) || !p.ChannelMember {
			t.Errorf("post %d: got %+v\nwant %+v", i, p, w)
		}
		if h, _ := contenthash.PostHash(&p); p.Hash == "" || h != p.Hash {
			t.Errorf("post %d: hash %q, want %q", i, p.Hash, h)
		}
	}
}

// The real thread captured from a real server: webhook-style command
// replies are webhook posts under alice's id, the one shown as "bob" keeps
// "bob" only as a label, bots carry their owner, bob's edit shows, carol's
// deleted reply is absent.
func TestCaptureFixtureThread(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, ref := range []string{
		mmfake.RootPostID,
		mmfake.EditedPostID,
		Permalink(e.fake.URL(), "testteam", mmfake.EditedPostID),
	} {
		t.Run(ref, func(t *testing.T) {
			c, err := e.client.Capture(ctx, CaptureRequest{PostRef: ref, ChannelID: mmfake.ChannelID})
			if err != nil {
				t.Fatal(err)
			}
			checkPosts(t, c.Posts, fixtureThread)
			for _, p := range c.Posts {
				if p.PostID == mmfake.DeletedPostID {
					t.Error("carol's deleted reply was captured")
				}
			}
			src := c.Source
			if src.TeamID != mmfake.TeamID || src.TeamName != "testteam" || src.ChannelID != mmfake.ChannelID ||
				src.ChannelName != "fixture-chan" || src.RootPostID != mmfake.RootPostID {
				t.Errorf("source %+v", src)
			}
			wantTrigger := mmfake.RootPostID
			if ref != mmfake.RootPostID {
				wantTrigger = mmfake.EditedPostID
			}
			if src.TriggerPostID != wantTrigger || c.Trigger == nil || c.Trigger.PostID != wantTrigger {
				t.Errorf("trigger %q / %+v, want %s", src.TriggerPostID, c.Trigger, wantTrigger)
			}
			if c.Truncated || c.Note() != "" || len(c.Warnings) != 0 || !c.CapturedAt.Equal(captureEnd) {
				t.Errorf("truncated %v note %q warnings %v at %v", c.Truncated, c.Note(), c.Warnings, c.CapturedAt)
			}
		})
	}
}

// The incoming-webhook post that calls itself "alice" is recorded as a
// webhook post by its creator (admin), never as alice.
func TestCaptureWebhookImpersonatingApprover(t *testing.T) {
	e := newEnv(t, nil)
	c, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.WebhookPostID})
	if err != nil {
		t.Fatal(err)
	}
	checkPosts(t, c.Posts, []want{{mmfake.WebhookPostID, mmfake.AdminID, "admin", models.AuthorWebhook, "", "alice", false}})
	if c.Trigger.AuthorID == mmfake.AliceID || c.Trigger.AuthorName == "alice" {
		t.Error("the webhook post was attributed to the person it names")
	}
}

// props are user-settable: a human who sets from_bot is still human, a bot
// that leaves it out is still a bot, and a bot's override_username is a
// label.
func TestCaptureIgnoresUserSettableProps(t *testing.T) {
	e := newEnv(t, nil)
	f := e.fake
	human := f.AddPost(&model.Post{ChannelId: mmfake.ChannelID, RootId: mmfake.RootPostID, UserId: mmfake.BobID,
		Message: "I am a bot, trust me", Props: model.StringInterface{model.PostPropsFromBot: "true"}})
	bot := f.AddPost(&model.Post{ChannelId: mmfake.ChannelID, RootId: mmfake.RootPostID, UserId: mmfake.TestbotID,
		Message: "approved — alice", Props: model.StringInterface{model.PostPropsOverrideUsername: "alice"}})
	c, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]models.ConversationPost{}
	for _, p := range c.Posts {
		got[p.PostID] = p
	}
	if p := got[human.Id]; p.AuthorKind != models.AuthorHuman || p.AuthorID != mmfake.BobID || p.BotOwnerID != "" {
		t.Errorf("human with from_bot: %+v", p)
	}
	if p := got[bot.Id]; p.AuthorKind != models.AuthorBot || p.AuthorID != mmfake.TestbotID || p.BotOwnerID != mmfake.AdminID || p.OverrideUsername != "alice" {
		t.Errorf("bot posing as alice: %+v", p)
	}
}

// A slash command's reply carries the invoker's id and may display any
// name: alice's id shown as "bob" is a webhook post by alice.
func TestCaptureSlashReplyImpersonation(t *testing.T) {
	e := newEnv(t, nil)
	reply := e.fake.CommandReply(mmfake.ChannelID, mmfake.RootPostID, mmfake.CarolID, "bob", "bob approves")
	c, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: reply.Id})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Trigger
	if p.AuthorKind != models.AuthorWebhook || p.AuthorID != mmfake.CarolID || p.AuthorName != "carol" || p.OverrideUsername != "bob" {
		t.Errorf("command reply: %+v", p)
	}
}

// Each author is looked up once per capture, however many posts they
// wrote, and all of them together: one POST /users/ids and one POST
// /channels/{id}/members/ids for the whole capture, GetBot only for the
// bot author, no lookup one account at a time.
func TestCaptureResolvesEachAuthorOnce(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 10 {
		e.fake.Reply(mmfake.RootPostID, mmfake.AliceID, fmt.Sprintf("more %d", i))
	}
	e.fake.ResetRequests()
	if _, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID}); err != nil {
		t.Fatal(err)
	}
	authors := []string{mmfake.AliceID, mmfake.BobID, mmfake.TestbotID}
	slices.Sort(authors)
	for _, path := range []string{"/api/v4/users/ids", "/api/v4/channels/" + mmfake.ChannelID + "/members/ids"} {
		var bodies []string
		for _, r := range e.fake.Requests() {
			if r.Method == "POST" && r.Path == path {
				bodies = append(bodies, string(r.Body))
			}
		}
		// Accounts: the authors in one batch, then the bot author's owner
		// (who wrote no captured post) in a second, for the username.
		want := 1
		if path == "/api/v4/users/ids" {
			want = 2
		}
		var ids []string
		if len(bodies) == want {
			_ = json.Unmarshal([]byte(bodies[0]), &ids)
			slices.Sort(ids)
		}
		if !slices.Equal(ids, authors) || want == 2 && bodies[1] != fmt.Sprintf("[%q]", mmfake.AdminID) {
			t.Errorf("POST %s: bodies %q, want one with each of %v once (and the owner's)", path, bodies, authors)
		}
	}
	for _, id := range authors {
		if n := e.fake.Count("GET", "/api/v4/users/"+id) + e.fake.Count("GET", "/api/v4/channels/"+mmfake.ChannelID+"/members/"+id); n != 0 {
			t.Errorf("%s looked up one by one %d times", id, n)
		}
	}
	if n := e.fake.Count("GET", "/api/v4/bots/"+mmfake.TestbotID); n != 1 {
		t.Errorf("bot looked up %d times", n)
	}
	for _, id := range []string{mmfake.AliceID, mmfake.BobID} {
		if n := e.fake.Count("GET", "/api/v4/bots/"+id); n != 0 {
			t.Errorf("GetBot for human %s", id)
		}
	}
}

// An author who is not in the channel is shown as such.
func TestCaptureChannelMembership(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.RemoveMember(mmfake.ChannelID, mmfake.BobID)
	c, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Posts {
		if p.ChannelMember != (p.AuthorID != mmfake.BobID) {
			t.Errorf("%s by %s: member %v", p.PostID, p.AuthorName, p.ChannelMember)
		}
	}
}

// Without read_others_bots Mattermost hides bot records; the bot is still
// a bot, its owner unknown, and the capture says so.
func TestCaptureBotOwnerNotReadable(t *testing.T) {
	e := newEnv(t, nil)
	other := e.fake.AddBot("plainbot", mmfake.AliceID)
	token := e.fake.NewToken(other.Id)
	e.fake.AddMember(mmfake.ChannelID, other.Id)
	c, err := New(Config{SiteURL: e.fake.URL(), BotToken: token})
	if err != nil {
		t.Fatal(err)
	}
	capt, err := c.Capture(context.Background(), CaptureRequest{PostRef: mmfake.BotReplyPostID})
	if err != nil {
		t.Fatal(err)
	}
	if p := capt.Trigger; p.AuthorKind != models.AuthorBot || p.BotOwnerID != "" {
		t.Errorf("bot reply: %+v", p)
	}
	if len(capt.Warnings) != 1 || !strings.Contains(capt.Warnings[0], "read_others_bots") {
		t.Errorf("warnings %v", capt.Warnings)
	}
}

// A thread of thousands is capped: the root and the newest posts, with a
// note saying how many were left out.
func TestCaptureThreadCap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxPosts = 5 })
	f := e.fake
	alice := f.AddHuman("alice2")
	f.AddMember(mmfake.ChannelID, alice.Id)
	root := f.Post(mmfake.ChannelID, alice.Id, "root")
	var replies []string
	for i := range 20 {
		replies = append(replies, f.Reply(root.Id, alice.Id, fmt.Sprintf("reply %d", i)).Id)
	}
	c, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: replies[3]})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{root.Id, replies[16], replies[17], replies[18], replies[19]}
	for i, p := range c.Posts {
		if p.PostID != ids[i] {
			t.Errorf("post %d is %s (%q), want %s", i, p.PostID, p.Message, ids[i])
		}
	}
	if !c.Truncated || c.Omitted != 16 || c.OmittedAtLeast || !strings.Contains(c.Note(), "16 older posts") {
		t.Errorf("truncated %v omitted %d note %q", c.Truncated, c.Omitted, c.Note())
	}
	if c.Trigger == nil || c.Trigger.PostID != replies[3] {
		t.Errorf("the named post must be resolved even when capped out: %+v", c.Trigger)
	}
}

// Without a thread, the channel's recent posts: newest N within the age,
// no system messages, no Countersign posts.
func TestCaptureChannelWindow(t *testing.T) {
	e := newEnv(t, nil)
	own := e.fake.Post(mmfake.ChannelID, e.botID, "REQ-1 needs approval")
	ctx := context.Background()
	req := CaptureRequest{ChannelID: mmfake.ChannelID, ExcludeUserIDs: []string{e.botID}}

	all, err := e.client.Capture(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// 13 captured posts − 5 system messages, plus nothing of our own.
	if len(all.Posts) != 8 || all.Truncated {
		t.Fatalf("window: %d posts, truncated %v", len(all.Posts), all.Truncated)
	}
	for i, p := range all.Posts {
		if p.PostID == own.Id || strings.Contains(p.Message, "joined the channel") || strings.Contains(p.Message, "added to the channel") {
			t.Errorf("captured %q", p.Message)
		}
		if i > 0 && p.CreateAt < all.Posts[i-1].CreateAt {
			t.Error("posts out of order")
		}
	}
	if all.Source.RootPostID != "" || all.Trigger != nil || all.Source.ChannelName != "fixture-chan" || all.Source.TeamName != "testteam" {
		t.Errorf("source %+v trigger %+v", all.Source, all.Trigger)
	}
	var webhook *models.ConversationPost
	for i := range all.Posts {
		if all.Posts[i].PostID == mmfake.WebhookPostID {
			webhook = &all.Posts[i]
		}
	}
	if webhook == nil || webhook.AuthorKind != models.AuthorWebhook || webhook.AuthorID != mmfake.AdminID || webhook.OverrideUsername != "alice" {
		t.Errorf("webhook post in window: %+v", webhook)
	}

	req.Window = Window{MaxPosts: 3}
	newest, err := e.client.Capture(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range newest.Posts {
		got = append(got, p.PostID)
	}
	if strings.Join(got, ",") != strings.Join([]string{mmfake.ImpersonatingReplyID, mmfake.ButtonPostID, mmfake.CommandReplyPostID}, ",") {
		t.Errorf("newest 3: %v", got)
	}
	if !newest.Truncated || newest.Omitted != 5 || newest.OmittedAtLeast {
		t.Errorf("truncated %v omitted %d at least %v", newest.Truncated, newest.Omitted, newest.OmittedAtLeast)
	}

	req.Window = Window{MaxAge: captureEnd.Sub(time.UnixMilli(1795768813850))}
	recent, err := e.client.Capture(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent.Posts) != 4 || recent.Truncated {
		t.Errorf("max age: %d posts, truncated %v", len(recent.Posts), recent.Truncated)
	}
}

// A window over more than one page counts what it left out as a lower
// bound, and skips pages of system noise.
func TestCaptureChannelWindowPaging(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Now = time.Now })
	f := e.fake
	ch := f.NewChannel(mmfake.TeamID, "busy", model.ChannelTypeOpen, mmfake.AliceID, e.botID)
	for i := range 10 {
		f.Post(ch.Id, mmfake.AliceID, fmt.Sprintf("early %d", i))
	}
	for range 2 * windowPerPage {
		f.SystemPost(ch.Id, mmfake.AliceID, model.PostTypeJoinChannel, "alice joined")
	}
	c, err := e.client.Capture(context.Background(), CaptureRequest{ChannelID: ch.Id, Window: Window{MaxPosts: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Posts) != 4 || c.Posts[3].Message != "early 9" || !c.Truncated || c.Omitted != 6 || c.OmittedAtLeast {
		t.Errorf("%d posts, last %q, truncated %v omitted %d at least %v", len(c.Posts), c.Posts[len(c.Posts)-1].Message, c.Truncated, c.Omitted, c.OmittedAtLeast)
	}
	for range windowPerPage {
		f.Post(ch.Id, mmfake.AliceID, "late")
	}
	c, err = e.client.Capture(context.Background(), CaptureRequest{ChannelID: ch.Id, Window: Window{MaxPosts: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Posts) != 4 || !c.OmittedAtLeast || c.Omitted != windowPerPage-4 || !strings.Contains(c.Note(), "at least") {
		t.Errorf("%d posts omitted %d at least %v note %q", len(c.Posts), c.Omitted, c.OmittedAtLeast, c.Note())
	}
}

func TestCaptureRefusals(t *testing.T) {
	e := newEnv(t, nil)
	f := e.fake
	other := f.NewChannel(mmfake.TeamID, "elsewhere", model.ChannelTypeOpen, mmfake.AliceID, e.botID)
	elsewhere := f.Post(other.Id, mmfake.AliceID, "over here")
	private := f.NewChannel(mmfake.TeamID, "secret", model.ChannelTypePrivate, mmfake.AliceID)
	secret := f.Post(private.Id, mmfake.AliceID, "secret")
	ctx := context.Background()
	cases := []struct {
		name string
		req  CaptureRequest
		is   error
	}{
		{"thread in another channel", CaptureRequest{PostRef: elsewhere.Id, ChannelID: mmfake.ChannelID}, models.ErrForbidden},
		{"unknown post", CaptureRequest{PostRef: strings.Repeat("a", 26)}, models.ErrNotFound},
		{"deleted post", CaptureRequest{PostRef: mmfake.DeletedPostID}, models.ErrNotFound},
		{"channel the bot cannot read", CaptureRequest{PostRef: secret.Id}, models.ErrForbidden},
		{"foreign permalink", CaptureRequest{PostRef: "https://evil.example/testteam/pl/" + mmfake.RootPostID}, models.ErrInvalid},
		{"no thread, no channel", CaptureRequest{}, models.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client.Capture(ctx, c.req)
			if !errors.Is(err, c.is) {
				t.Errorf("error %v, want %v", err, c.is)
			}
		})
	}
}

// Very long messages are clipped with a visible note, on a rune boundary,
// so the request stays storable.
func TestClipMessage(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := clipMessage(long, 64)
	if len(got) > 64 || !strings.Contains(got, "clipped by Countersign: 200 bytes") || !strings.HasPrefix(got, "é") {
		t.Errorf("clipped %q (%d bytes)", got, len(got))
	}
	if clipMessage("short", 64) != "short" {
		t.Error("short message changed")
	}
	if got := clipMessage("bad \xff byte", 64); got != "bad \uFFFD byte" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}
