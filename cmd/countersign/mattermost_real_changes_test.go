package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestRealWebhookImpersonationFlagged: a post through an incoming webhook
// shown under bob's name is captured as a webhook post made with its
// creator's account, not as bob's.
func TestRealWebhookImpersonationFlagged(t *testing.T) {
	e := newRealEnv(t)
	w := e.w
	w.WebhookPost("I approve the restart", w.Name("bob"))
	id := e.created(e.slash("alice", w.Channel.Id, "restart api prod -- as bob said", ""))
	doc := e.signIn("bob").page("/requests/" + id)
	if n := doc.Find(`[data-testid="prov-webhook"]`).Length(); n != 1 {
		t.Fatalf("%d posts marked webhook, want 1", n)
	}
	if n := doc.Find(`[data-testid="prov-human"]`).Length(); n != 0 {
		t.Errorf("%d posts marked human, want 0", n)
	}
	if got := testids(doc.Selection, "shown-as-name"); len(got) != 1 || got[0] != w.Name("bob") {
		t.Errorf("shown as %q, want %s", got, w.Name("bob"))
	}
	if got := testids(doc.Selection, "shown-as"); len(got) != 1 || !strings.Contains(got[0], "sysadmin") {
		t.Errorf("the note does not name the webhook's creator (sysadmin): %q", got)
	}
}

// TestRealEditAndDeleteAfterCapture: a captured post edited in Mattermost
// after the capture, and another deleted, are found by the re-read at
// decision time: the decision made on the old content is refused (409, the
// request changed), the page then shows the edit and the deletion, and a
// decision on the new content is recorded.
func TestRealEditAndDeleteAfterCapture(t *testing.T) {
	e := newRealEnv(t)
	w := e.w
	bob, carol := e.person("bob"), e.person("carol")
	edited := w.Post(bob, w.Channel.Id, "restart api in prod, it is stuck")
	deleted := w.Post(carol, w.Channel.Id, "+1 from the on-call")
	id := e.created(e.slash("alice", w.Channel.Id, "restart api prod -- stuck", ""))
	v := e.signIn("bob")
	before := v.page("/requests/" + id)
	oldHash := before.Find(`[data-testid="approve-form"] input[name="content_hash"]`).AttrOr("value", "")

	w.Edit(bob, edited.Id, "restart api in STAGING only")
	w.Delete(carol, deleted.Id)

	status, _, body := v.do(http.MethodPost, "/requests/"+id+"/decision", formWith(before, "approve-form", "ok"))
	if status != http.StatusConflict {
		t.Fatalf("decision on the captured content: %d, want 409 (changed): %s", status, snippetOf(body))
	}
	after := v.page("/requests/" + id)
	if n := after.Find(`[data-testid="prov-edited"][data-after-capture="true"]`).Length(); n != 1 {
		t.Errorf("%d posts marked edited after capture, want 1", n)
	}
	if n := after.Find(`[data-testid="prov-deleted"]`).Length(); n != 1 {
		t.Errorf("%d posts marked deleted, want 1", n)
	}
	if !strings.Contains(after.Text(), "restart api in STAGING only") {
		t.Errorf("the page does not show the edited text")
	}
	newHash := after.Find(`[data-testid="approve-form"] input[name="content_hash"]`).AttrOr("value", "")
	if newHash == "" || newHash == oldHash {
		t.Fatalf("content hash %q after the change (was %q)", newHash, oldHash)
	}
	if status, loc, body := v.decide(id, "approve", "read the edit"); status != http.StatusSeeOther || !strings.Contains(loc, "decided=approve") {
		t.Fatalf("decision on the new content: %d %s %s", status, loc, snippetOf(body))
	}
}
