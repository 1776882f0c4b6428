package main

// The bot on Mattermost's WebSocket, against the real server: a mention
// in a thread starts a request with exactly that thread (the slash command
// cannot see it on 9.10), and an edit of a captured post is acted on at
// once, telling the approver whose approval stopped counting.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// mention posts "@bot text" as name in the thread of rootID (or the
// channel when rootID is empty) and returns the post and the bot's answer
// to it, posted in the same thread.
func (e *realEnv) mention(name, rootID, text string) (*model.Post, *model.Post) {
	e.t.Helper()
	w := e.w
	msg := "@" + w.Bot.User.Username + " " + text
	var p *model.Post
	if rootID == "" {
		p = w.Post(e.person(name), w.Channel.Id, msg)
	} else {
		p = w.Reply(e.person(name), rootID, msg)
	}
	thread := rootID
	if thread == "" {
		thread = p.Id
	}
	answer := w.WaitForPost(w.Channel.Id, p.CreateAt, 15*time.Second, func(a *model.Post) bool {
		return a.UserId == w.Bot.User.Id && a.RootId == thread && a.CreateAt >= p.CreateAt && a.GetProp("countersign_request") == nil &&
			!strings.Contains(a.Message, "Countersign request ")
	})
	return p, answer
}

// TestRealMentionInThreadCapturesTheThread: "@bot restart …" typed in a
// thread makes the request from exactly that thread (not the unrelated
// channel post before it), answers in the thread with the request's link,
// puts Countersign's request message in the thread, and /mm/{mention}
// leads to the request. Help and refusals answer in the thread too, and a
// refused mention stores nothing.
func TestRealMentionInThreadCapturesTheThread(t *testing.T) {
	e := newRealEnv(t)
	w := e.w
	alice, bob := e.person("alice"), e.person("bob")
	w.Post(bob, w.Channel.Id, "lunch at noon?")
	root := w.Post(alice, w.Channel.Id, "api is down in prod")
	w.Reply(bob, root.Id, "confirmed, restart it")

	m, answer := e.mention("alice", root.Id, "restart api prod -- down since 09:12")
	id := e.created(answer.Message)
	if strings.Contains(answer.Message, "Captured the channel's") {
		t.Errorf("a mention in a thread speaks of the channel: %q", answer.Message)
	}
	v := e.signIn("bob")
	msgs := testids(v.page("/requests/"+id).Selection, "post-message")
	if len(msgs) != 3 || msgs[0] != "api is down in prod" || msgs[1] != "confirmed, restart it" || !strings.HasSuffix(msgs[2], "restart api prod -- down since 09:12") {
		t.Errorf("captured %q, want the thread: its two posts and the mention", msgs)
	}
	if msg := e.requestMessage(w.Channel.Id, id, nil); msg.RootId != root.Id {
		t.Errorf("request message in %q, want the thread %s", msg.RootId, root.Id)
	}
	if status, loc, _ := v.do(http.MethodGet, "/mm/"+m.Id, nil); status != http.StatusSeeOther || loc != "/requests/"+id {
		t.Errorf("/mm/{mention}: %d %q, want 303 to /requests/%s", status, loc, id)
	}

	if _, help := e.mention("alice", root.Id, "help"); !strings.Contains(help.Message, "Actions you can request") {
		t.Errorf("help by mention: %q", help.Message)
	}
	if _, no := e.mention("dave", root.Id, "restart api prod -- x"); !strings.Contains(no.Message, "is not an action you can request") {
		t.Errorf("dave's mention: %q", no.Message)
	}
	if _, bad := e.mention("alice", root.Id, "restart api qa -- x"); !strings.Contains(bad.Message, "Nothing was stored") {
		t.Errorf("a bad value: %q", bad.Message)
	}
	// A top-level mention captures the channel and says how to capture a
	// thread instead.
	_, top := e.mention("alice", "", "restart api prod -- from the channel")
	e.created(top.Message)
	if !strings.Contains(top.Message, "the mention was not in a thread") {
		t.Errorf("top-level mention: %q", top.Message)
	}
	if n := strings.Count(e.log.String(), `"msg":"mattermost websocket: connected"`); n != 1 {
		t.Errorf("%d WebSocket connections logged, want 1", n)
	}
}

// TestRealEditVoidsApprovalAndTellsApprover: bob approved a migration
// that needs two SRE approvals; alice then edits the thread's first post.
// Without anyone opening the request, Countersign sees the edit on the
// WebSocket, the content hash moves, bob is told by DM that his approval
// no longer counts and the thread gets a note naming him; bob can approve
// the new content. The time from the edit to bob's DM is logged (both
// timestamps are the server's).
func TestRealEditVoidsApprovalAndTellsApprover(t *testing.T) {
	e := newRealEnv(t)
	w := e.w
	alice := e.person("alice")
	root := w.Post(alice, w.Channel.Id, "orders db needs migration 42 before the release")
	_, answer := e.mention("alice", root.Id, "migrate orders -- release 7.2")
	id := e.created(answer.Message)
	bob := e.signIn("bob")
	if status, loc, body := bob.decide(id, "approve", "schema diff reviewed"); status != http.StatusSeeOther || !strings.Contains(loc, "decided=approve") {
		t.Fatalf("bob approves: %d %s %s", status, loc, snippetOf(body))
	}
	e.requestMessage(w.Channel.Id, id, func(p *model.Post) bool { return strings.Contains(p.Message, "1 of 2") })

	edited := w.Edit(alice, root.Id, "orders db needs migration 43 before the release")
	dm := w.WaitForDirectPost(e.person("bob"), 15*time.Second, func(p *model.Post) bool {
		return strings.Contains(p.Message, "Your approval of "+id) && strings.Contains(p.Message, "no longer counts")
	})
	t.Logf("edit to approver told: %d ms (Mattermost's timestamps: edit_at %d, DM create_at %d)", dm.CreateAt-edited.EditAt, edited.EditAt, dm.CreateAt)
	note := w.WaitForPost(w.Channel.Id, edited.EditAt, 15*time.Second, func(p *model.Post) bool {
		return p.UserId == w.Bot.User.Id && p.RootId == root.Id && strings.Contains(p.Message, "was edited or deleted")
	})
	// Mattermost's renderer drops the backslashes of escaped characters.
	if shown := strings.ReplaceAll(note.Message, `\`, ""); !strings.Contains(shown, "@\u200b"+w.Name("bob")+"'s approval no longer counts") || !strings.Contains(shown, "needs 2 more approvals") {
		t.Errorf("thread note %q", note.Message)
	}
	if n := len(w.ThreadPosts(root.Id)); n > 12 {
		t.Errorf("%d posts in the thread: the edit was announced more than once?", n)
	}
	page := bob.page("/requests/" + id)
	if !strings.Contains(page.Text(), "migration 43") {
		t.Error("the request page does not show the edited text")
	}
	if status, loc, body := bob.decide(id, "approve", "re-read, still fine"); status != http.StatusSeeOther || !strings.Contains(loc, "decided=approve") {
		t.Fatalf("bob approves the new content: %d %s %s", status, loc, snippetOf(body))
	}
}
