package main

// What the real server taught about threads, deep links and message
// text, pinned against it: a slash command typed in a thread (Mattermost
// 9.10 sends no root_id), /mm/{post_id} for Countersign's own message, and
// Markdown that renders clean.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// TestRealSlashInThreadCapturesTheChannelAndSaysSo: /countersign typed in
// a thread captures the channel's recent posts, not the thread, because
// Mattermost 9.10 sends no root_id with a slash command; the reply says so
// and how to capture the thread (thread=), and /mm/{root} leads to the
// request that captured the root. Naming the thread with thread=<post id>
// captures just the thread.
func TestRealSlashInThreadCapturesTheChannelAndSaysSo(t *testing.T) {
	e := newRealEnv(t)
	w := e.w
	alice, bob := e.person("alice"), e.person("bob")
	w.Post(bob, w.Channel.Id, "lunch at noon?")
	root := w.Post(alice, w.Channel.Id, "api is down in prod")
	w.Reply(bob, root.Id, "confirmed, restart it")

	reply := e.slash("alice", w.Channel.Id, "restart api prod -- down", root.Id)
	if !strings.Contains(reply, "Mattermost did not tell Countersign which one") || !strings.Contains(reply, "thread=") {
		t.Errorf("the reply does not say the thread could not be seen: %q", reply)
	}
	id := e.created(reply)
	v := e.signIn("bob")
	msgs := testids(v.page("/requests/"+id).Selection, "post-message")
	if len(msgs) != 3 || msgs[0] != "lunch at noon?" {
		t.Errorf("captured %q; the channel window (3 posts, the unrelated one first) is expected", msgs)
	}
	msg := e.requestMessage(w.Channel.Id, id, nil)
	if msg.RootId != "" {
		t.Errorf("request message in thread %s; a channel request's goes to the channel", msg.RootId)
	}
	if status, loc, _ := v.do(http.MethodGet, "/mm/"+root.Id, nil); status != http.StatusSeeOther || loc != "/requests/"+id {
		t.Errorf("/mm/{root} of a channel capture: %d %s, want the request that captured it", status, loc)
	}

	// thread= names the thread.
	named := e.created(e.slash("alice", w.Channel.Id, "restart api prod thread="+root.Id+" -- down", ""))
	msgs = testids(v.page("/requests/"+named).Selection, "post-message")
	if len(msgs) != 2 || msgs[0] != "api is down in prod" || msgs[1] != "confirmed, restart it" {
		t.Errorf("thread= captured %q, want the thread's two posts", msgs)
	}
	if status, loc, _ := v.do(http.MethodGet, "/mm/"+root.Id, nil); status != http.StatusSeeOther || loc != "/requests/"+named {
		t.Errorf("/mm/{root}: %d %q, want 303 to /requests/%s", status, loc, named)
	}
	inThread := e.requestMessage(w.Channel.Id, named, nil)
	if inThread.RootId != root.Id {
		t.Errorf("request message of a thread request in %q, want the thread %s", inThread.RootId, root.Id)
	}
}

// TestRealDeepLinkToRequestMessage: /mm/{post_id} of Countersign's own
// request message leads to the request, for a channel request too.
func TestRealDeepLinkToRequestMessage(t *testing.T) {
	e := newRealEnv(t)
	id := e.created(e.slash("alice", e.w.Channel.Id, "restart api prod -- OOM", ""))
	msg := e.requestMessage(e.w.Channel.Id, id, nil)
	status, loc, _ := e.signIn("bob").do(http.MethodGet, "/mm/"+msg.Id, nil)
	if status != http.StatusSeeOther || loc != "/requests/"+id {
		t.Errorf("/mm/{request message}: %d %q, want 303 to /requests/%s", status, loc, id)
	}
}

// TestRealRequestMessageRendersClean: the request message escapes only
// what Mattermost's renderer unescapes and shows values in code spans, so
// people read env=prod, not env\=prod.
func TestRealRequestMessageRendersClean(t *testing.T) {
	e := newRealEnv(t)
	id := e.created(e.slash("alice", e.w.Channel.Id, "restart api prod -- OOM: loop", ""))
	msg := e.requestMessage(e.w.Channel.Id, id, func(p *model.Post) bool { return len(p.Attachments()) > 0 })
	for _, stray := range []string{`env\=prod`, `service\=api`, `OOM\: loop`} {
		if strings.Contains(msg.Message, stray) {
			t.Errorf("request message shows a stray backslash %q:\n%s", stray, msg.Message)
		}
	}
	for _, want := range []string{"`env=prod`", "`service=api`", "OOM: loop"} {
		if !strings.Contains(msg.Message, want) {
			t.Errorf("request message lacks %q:\n%s", want, msg.Message)
		}
	}
}
