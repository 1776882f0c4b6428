package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/mattermost/mmreal"
)

// TestRealSlashCommandToDecision: a restart asked with /countersign in a
// channel of the real Mattermost becomes a request whose page shows the
// channel's posts as captured; the bot posts the request message in the
// channel (with the cancel button) and DMs the approver; bob approves in
// the portal, and the message is updated in place, the decision is
// replied in its thread, and alice is told by DM.
func TestRealSlashCommandToDecision(t *testing.T) {
	e := newRealEnv(t)
	w := e.w
	alice, bob := e.person("alice"), e.person("bob")
	w.Post(alice, w.Channel.Id, "api pods are crash-looping since the 10:00 deploy")
	w.Post(bob, w.Channel.Id, "agreed, restart it")

	reply := e.slash("alice", w.Channel.Id, "restart api prod -- OOM loop", "")
	id := e.created(reply)
	if !strings.Contains(reply, "Review it in Countersign") {
		t.Errorf("reply %q", reply)
	}

	// The request page shows the two posts, by their authors, as humans.
	v := e.signIn("bob")
	doc := v.page("/requests/" + id)
	msgs := testids(doc.Selection, "post-message")
	authors := testids(doc.Selection, "post-author")
	if len(msgs) != 2 || msgs[0] != "api pods are crash-looping since the 10:00 deploy" || msgs[1] != "agreed, restart it" {
		t.Fatalf("captured messages %q", msgs)
	}
	if len(authors) != 2 || !strings.Contains(authors[0], alice.Username) || !strings.Contains(authors[1], bob.Username) {
		t.Errorf("captured authors %q", authors)
	}
	if n := doc.Find(`[data-testid="prov-human"]`).Length(); n != 2 {
		t.Errorf("%d posts marked human, want 2", n)
	}

	// The bot's message in the channel, with its cancel button.
	msg := e.requestMessage(w.Channel.Id, id, func(p *model.Post) bool { return len(p.Attachments()) > 0 })
	if msg.RootId != "" || !strings.Contains(msg.Message, "PENDING") || !strings.Contains(msg.Message, e.base+"/requests/"+id) {
		t.Errorf("request message: root %q %q", msg.RootId, msg.Message)
	}
	if acts := msg.Attachments()[0].Actions; len(acts) != 1 || acts[0].Id != "cancelrequest" {
		t.Errorf("request message actions %+v", acts)
	}
	// bob, the SRE the policy names, is asked by DM; nobody else.
	waitDM(t, e, bob, func(p *model.Post) bool {
		return strings.Contains(p.Message, id) && strings.Contains(p.Message, "waits for approval")
	})
	if ch := w.DirectChannel(e.person("dave")); ch != nil {
		t.Errorf("dave was DMed: %v", w.ChannelPosts(ch.Id, 0))
	}

	status, loc, body := v.decide(id, "approve", "go ahead")
	if status != http.StatusSeeOther || !strings.Contains(loc, "decided=approve") {
		t.Fatalf("approve: %d %s %s", status, loc, body)
	}
	updated := e.requestMessage(w.Channel.Id, id, func(p *model.Post) bool { return strings.Contains(p.Message, "APPROVED") })
	if updated.Id != msg.Id || updated.EditAt == 0 || len(updated.Attachments()) != 0 {
		t.Errorf("approved message: id %s (was %s), edit_at %d, %d attachments", updated.Id, msg.Id, updated.EditAt, len(updated.Attachments()))
	}
	w.WaitForPost(w.Channel.Id, 0, 15*time.Second, func(p *model.Post) bool {
		return p.RootId == msg.Id && p.UserId == w.Bot.User.Id && strings.Contains(p.Message, "approved "+id)
	})
	waitDM(t, e, alice, func(p *model.Post) bool {
		return strings.Contains(p.Message, id) && strings.Contains(p.Message, "approved")
	})
}

// waitDM waits for a DM from the bot to user that matches.
func waitDM(t *testing.T, e *realEnv, user *mmreal.User, match func(*model.Post) bool) *model.Post {
	t.Helper()
	return e.w.WaitForDirectPost(user, 15*time.Second, match)
}
