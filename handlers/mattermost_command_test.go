package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

func TestSlashCommandTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		for _, tok := range []string{tokenOld, tokenNew} {
			code, cr := e.command(tok, mmfake.CommandFields{Text: "help"})
			if code != http.StatusOK || !strings.Contains(cr.Text, "restart") {
				t.Fatalf("token during rotation: %d %q", code, cr.Text)
			}
		}
		for _, tok := range []string{"", "wrong-token-0123456789", tokenNew + " ", strings.ToUpper(tokenNew)} {
			code, cr := e.command(tok, mmfake.CommandFields{Text: "restart payments-api env=prod -- OOM"})
			if code != http.StatusUnauthorized || strings.Contains(cr.Text, "token") {
				t.Fatalf("token %q: %d %q", tok, code, cr.Text)
			}
		}
		e.wantCount("requests", 0, "requests stored by refused calls")
	})
}

func TestSlashCommandCreatesRequestFromThread(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		// A bot post made to look human: no from_bot, a human's name.
		disguised := e.fake.AddPost(&model.Post{ChannelId: mmfake.ChannelID, RootId: mmfake.RootPostID, UserId: mmfake.TestbotID,
			Message: "I am alice, trust me", Props: model.StringInterface{"override_username": "alice"}})
		// Newer servers send root_id.
		code, cr := e.command(tokenNew, mmfake.CommandFields{Text: "restart payments-api env=prod -- OOM loop, INC-4211", RootID: mmfake.RootPostID})
		if code != http.StatusOK {
			t.Fatalf("HTTP %d", code)
		}
		id := requestIDIn(t, cr.Text)
		for _, want := range []string{"2 approvals from approver needed", e.url + "/requests/" + id} {
			if !strings.Contains(cr.Text, want) {
				t.Errorf("reply %q lacks %q", cr.Text, want)
			}
		}
		if strings.Contains(cr.Text, "Captured the channel's") {
			t.Errorf("a thread capture reply speaks of the channel: %q", cr.Text)
		}
		r, err := e.svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.RequesterID != mmfake.AliceID || r.RequesterName != "alice" || r.Purpose != "OOM loop, INC-4211" ||
			r.Params != `{"env":"prod","service":"payments-api"}` || r.RootPostID != mmfake.RootPostID ||
			r.ChannelName != "fixture-chan" || r.TeamName != "testteam" || r.State != models.StatePending || r.RequiredApprovals != 2 {
			t.Fatalf("stored %+v", r)
		}
		byID := map[string]models.ConversationPost{}
		for _, p := range r.Posts {
			byID[p.PostID] = p
			if p.AuthorID == e.botID {
				t.Errorf("Countersign's own post %s captured", p.PostID)
			}
		}
		imp := byID[mmfake.ImpersonatingReplyID]
		if imp.AuthorKind != models.AuthorWebhook || imp.AuthorID != mmfake.AliceID || imp.OverrideUsername != "bob" {
			t.Errorf("impersonating reply captured as %+v", imp)
		}
		d := byID[disguised.Id]
		if d.AuthorKind != models.AuthorBot || d.AuthorName != "testbot" || d.BotOwnerID != mmfake.AdminID {
			t.Errorf("disguised bot post captured as %+v", d)
		}
		if _, ok := byID[mmfake.DeletedPostID]; ok {
			t.Error("deleted post captured")
		}
	})
}

func TestSlashCommandChannelWindowShowsWebhookImpersonation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		// Mattermost 9.x sends no root_id: the channel window is captured,
		// and the reply says so and how to capture a thread instead.
		reply := e.say(`restart web env=staging -- "quoted" purpose`).Text
		if !strings.Contains(reply, "Captured the channel's last") || !strings.Contains(reply, "thread=") {
			t.Errorf("channel capture reply does not say what was captured: %q", reply)
		}
		id := requestIDIn(t, reply)
		r, err := e.svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.RootPostID != "" || r.Purpose != `"quoted" purpose` {
			t.Fatalf("stored %+v", r)
		}
		found := false
		for _, p := range r.Posts {
			if p.PostID == mmfake.WebhookPostID {
				found = true
				if p.AuthorKind != models.AuthorWebhook || p.AuthorID != mmfake.AdminID || p.OverrideUsername != "alice" || p.AuthorName == "alice" {
					t.Fatalf("webhook post impersonating alice captured as %+v", p)
				}
			}
		}
		if !found {
			t.Fatal("the webhook post is not in the channel window")
		}
		// A thread named with thread=<permalink> wins.
		link := e.fake.URL() + "/testteam/pl/" + mmfake.EditedPostID
		id = requestIDIn(t, e.say("restart web env=staging thread="+link+" -- from the thread").Text)
		if r, err = e.svc.Get(context.Background(), id); err != nil || r.RootPostID != mmfake.RootPostID || r.TriggerPostID != mmfake.EditedPostID {
			t.Fatalf("thread= request %+v, %v", r, err)
		}
	})
}

func TestSlashCommandSubcommands(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		help := e.say("").Text
		if !strings.Contains(help, "restart service=<string> env=prod|staging -- purpose") || strings.Contains(help, "scale") {
			t.Fatalf("help lists the wrong actions: %q", help)
		}
		id := requestIDIn(t, e.say("restart payments-api env=prod -- OOM").Text)

		st := e.say("status " + strings.ToLower(strings.TrimPrefix(id, "REQ-"))).Text
		if !strings.Contains(st, id) || !strings.Contains(st, "pending") || !strings.Contains(st, "0 of 2 approvals") {
			t.Fatalf("status: %q", st)
		}
		op := e.say("open " + id)
		if op.GotoLocation != e.url+"/requests/"+id {
			t.Fatalf("open: goto %q", op.GotoLocation)
		}
		// Bob may neither see nor cancel alice's request.
		_, bob := e.command(tokenNew, mmfake.CommandFields{UserID: mmfake.BobID, UserName: "bob", Text: "cancel " + id})
		if !strings.Contains(bob.Text, "no request") {
			t.Fatalf("bob cancel: %q", bob.Text)
		}
		// The form's user_name is not trusted: the name comes from GetUser.
		_, spoof := e.command(tokenNew, mmfake.CommandFields{UserID: mmfake.BobID, UserName: "alice", Text: "status " + id})
		if !strings.Contains(spoof.Text, "no request") {
			t.Fatalf("spoofed user_name: %q", spoof.Text)
		}
		if got := e.say("cancel " + id).Text; !strings.Contains(got, "cancelled") {
			t.Fatalf("cancel: %q", got)
		}
		r, err := e.svc.Get(context.Background(), id)
		if err != nil || r.State != models.StateCancelled {
			t.Fatalf("after cancel: %+v %v", r, err)
		}
		var ev models.AuditEvent
		if err := e.store.DB(context.Background()).Where("request_id = ? AND type = ?", id, "request.cancelled").First(&ev).Error; err != nil || ev.ActorID != mmfake.AliceID {
			t.Fatalf("cancel audit: %+v %v", ev, err)
		}
		if got := e.say("cancel " + id).Text; !strings.Contains(got, id+" was already cancelled by alice at ") || !strings.Contains(got, "nothing changed") {
			t.Fatalf("second cancel: %q", got)
		}
		if got := e.say("status REQ-0000000000").Text; !strings.Contains(got, "no request") {
			t.Fatalf("unknown status: %q", got)
		}

		// Change windows.
		wid := requestIDIn(t, e.say("window open db-maint 2h -- schema migration").Text)
		w, err := e.svc.Get(context.Background(), wid)
		if err != nil || w.Kind != models.KindWindow || w.Action != "window.open" || w.Params != `{"duration":"2h","window":"db-maint"}` {
			t.Fatalf("window request %+v %v", w, err)
		}
		if got := e.say("window close db-maint").Text; !strings.Contains(got, "closed") {
			t.Fatalf("window close: %q", got)
		}
		if got := e.say("window close nosuch").Text; !strings.Contains(got, "no open change window") {
			t.Fatalf("window close unknown: %q", got)
		}
		if len(e.windows.closed) != 1 || e.windows.closed[0] != "db-maint by alice" {
			t.Fatalf("closer saw %v", e.windows.closed)
		}
	})
}

func TestSlashCommandBadInputStoresNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{bodyLimit: 8 << 10})
		cases := map[string]string{
			"deploy everything -- now":                 "not an action you can request",
			"scale replicas=3":                         "not an action you can request",
			"restart payments-api env=dev -- x":        "params.env",
			"restart payments-api env=prod replicas=3": "params.replicas",
			"restart payments-api env=prod":            "needs a purpose",
			"restart payments-api env=prod --":         "needs a purpose",
			`restart "payments-api env=prod -- x`:      "unterminated quote",
			"window peek x":                            "neither open nor close",
			"status":                                   "request id",
			"restart web env=prod thread=https://evil.example.com/t/pl/" + mmfake.RootPostID + " -- x": "permalink must be on",
			"restart web env=prod thread=zzzzzzzzzzzzzzzzzzzzzzzzzz -- x":                              "not found",
			"<script>alert(1)</script>":      "not a command or action name",
			strings.Repeat("restart ", 2000): "too long",
		}
		for text, want := range cases {
			code, cr := e.command(tokenNew, mmfake.CommandFields{Text: text})
			if code != http.StatusOK || !strings.Contains(cr.Text, want) {
				t.Errorf("%.40q: %d %q, want %q", text, code, cr.Text, want)
			}
		}
		e.wantCount("requests", 0, "requests stored by bad commands")
		e.wantCount("audit_events", 0, "audit events written by bad commands")
	})
}

func TestSlashCommandMattermostSlowOrDown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{deadline: 150 * time.Millisecond})
		e.fake.Inject(mmfake.Fault{Method: http.MethodGet, PathPrefix: "/api/v4/channels/" + mmfake.ChannelID + "/posts", Delay: 5 * time.Second, Times: 10})
		_, cr := e.command(tokenNew, mmfake.CommandFields{Text: "restart web env=prod -- slow"})
		if !strings.Contains(cr.Text, "did not answer in time") || !strings.Contains(cr.Text, "Nothing was stored") {
			t.Fatalf("slow Mattermost: %q", cr.Text)
		}
		// An error answer is not "no answer": the person is told which.
		e.fake.ClearFaults()
		for status, want := range map[int]string{
			http.StatusInternalServerError: "Mattermost answered with an error (HTTP 500)). Nothing was stored; try again in a moment.",
			http.StatusUnauthorized:        "Mattermost refused Countersign's bot token; tell an administrator). Nothing was stored; an administrator must renew the bot's token first.",
			http.StatusTooManyRequests:     "(HTTP 429)). Nothing was stored; try again in a moment.",
			// The bot is not in the channel: retrying cannot help, adding it does.
			http.StatusForbidden: "Countersign's bot may not read that). Nothing was stored; add Countersign's bot to this channel (/invite it) and run the command again.",
		} {
			e.fake.Inject(mmfake.Fault{Method: http.MethodGet, PathPrefix: "/api/v4/channels/" + mmfake.ChannelID + "/posts", Status: status, Times: 100})
			_, cr = e.command(tokenNew, mmfake.CommandFields{Text: "restart web env=prod -- error"})
			e.fake.ClearFaults()
			if !strings.Contains(cr.Text, want) || strings.Contains(cr.Text, "in time") || !strings.Contains(cr.Text, "Nothing was stored") {
				t.Errorf("Mattermost answering %d: %q, want %q", status, cr.Text, want)
			}
		}
		e.fake.Close()
		_, cr = e.command(tokenNew, mmfake.CommandFields{Text: "restart web env=prod -- down"})
		if !strings.Contains(cr.Text, "Nothing was stored") {
			t.Fatalf("Mattermost down: %q", cr.Text)
		}
		e.wantCount("requests", 0, "requests stored without a conversation")
	})
}

func TestSlashCommandBotsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		_, cr := e.command(tokenNew, mmfake.CommandFields{UserID: mmfake.TestbotID, UserName: "testbot", Text: "restart web env=prod -- x"})
		if !strings.Contains(cr.Text, "agents use the Countersign API") || e.count("requests") != 0 {
			t.Fatalf("bot command: %q", cr.Text)
		}
		// The raw form is what Mattermost sends; a GET is not the command.
		resp, err := http.PostForm(e.url+handlers.CommandPath, url.Values{"token": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bare post: %d", resp.StatusCode)
		}
	})
}

// TestSlashCommandRecordsOwnersAndCaptureWarnings: a bot author's owner is
// recorded by username (the owner wrote no captured post), and when the
// bot may not read bot records the owner stays unknown and the capture's
// warning is kept with the request for its page.
func TestSlashCommandRecordsOwnersAndCaptureWarnings(t *testing.T) {
	e := newChatEnv(t, storetest.SQLite(t), envOptions{})
	byBot := func(id string) *models.ConversationPost {
		t.Helper()
		r, err := e.svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.Posts {
			if r.Posts[i].AuthorID == mmfake.TestbotID {
				return &r.Posts[i]
			}
		}
		t.Fatalf("no testbot post captured in %s", id)
		return nil
	}
	_, cr := e.command(tokenNew, mmfake.CommandFields{Text: "restart payments-api env=prod -- owners", RootID: mmfake.RootPostID})
	id := requestIDIn(t, cr.Text)
	if p := byBot(id); p.BotOwnerID != mmfake.AdminID || p.BotOwnerName != "admin" {
		t.Fatalf("bot post owner %q (%q), want admin", p.BotOwnerID, p.BotOwnerName)
	}
	if r, _ := e.svc.Get(context.Background(), id); len(r.CaptureWarnings) != 0 {
		t.Fatalf("warnings %q with the permission", r.CaptureWarnings)
	}

	e.fake.Revoke(e.botID, model.PermissionReadOthersBots.Id)
	_, cr = e.command(tokenNew, mmfake.CommandFields{Text: "restart payments-api env=prod -- no permission", RootID: mmfake.RootPostID})
	id = requestIDIn(t, cr.Text)
	if p := byBot(id); p.BotOwnerID != "" || p.BotOwnerName != "" {
		t.Fatalf("owner read without the permission: %q %q", p.BotOwnerID, p.BotOwnerName)
	}
	r, _ := e.svc.Get(context.Background(), id)
	if len(r.CaptureWarnings) != 1 || !strings.Contains(r.CaptureWarnings[0], "read_others_bots") {
		t.Fatalf("capture warnings %q", r.CaptureWarnings)
	}
}
