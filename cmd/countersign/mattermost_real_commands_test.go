package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// TestRealSlashSubcommands runs every sub-command of /countersign through
// the real server, as people type them: help, refusals that store nothing,
// status, open, cancel, and a change window opened by request, approved,
// and closed early.
func TestRealSlashSubcommands(t *testing.T) {
	e := newRealEnv(t)
	ch := e.w.Channel.Id
	checks := []struct{ who, text, want string }{
		{"alice", "help", "`/countersign restart service=<string> env=staging|prod -- purpose` — Restart a service"},
		{"dave", "help", "There are no actions you can request."},
		{"alice", "deploy api", `"deploy" is not an action you can request. Nothing was stored.`},
		{"alice", "restart api prod", "restart needs a purpose: add `-- why` at the end. Nothing was stored."},
		{"alice", "restart api qa -- x", "Nothing was stored."},
		{"dave", "restart api prod -- x", "is not an action you can request"},
		{"alice", "status REQ-0000000000", "There is no request REQ-0000000000 that you can see."},
		{"alice", "window close prod", "There is no open change window named prod."},
	}
	for _, c := range checks {
		if got := e.slash(c.who, ch, c.text, ""); !strings.Contains(got, c.want) {
			t.Errorf("%s: /countersign %s = %q, want it to contain %q", c.who, c.text, got, c.want)
		}
	}

	id := e.created(e.slash("alice", ch, "restart api prod -- OOM loop", ""))
	if got := e.slash("alice", ch, "status "+strings.ToLower(strings.TrimPrefix(id, "REQ-")), ""); !strings.Contains(got, "is **pending**: 0 of 1 approvals") {
		t.Errorf("status: %q", got)
	}
	// carol (dev) may only request: someone else's request is not there
	// for her, by status or cancel.
	for _, verb := range []string{"status", "cancel"} {
		if got := e.slash("carol", ch, verb+" "+id, ""); !strings.Contains(got, "There is no request "+id+" that you can see.") {
			t.Errorf("carol %s: %q", verb, got)
		}
	}
	resp, err := e.w.ExecuteCommand(e.person("alice"), ch, "/countersign open "+id, "")
	if err != nil || resp.GotoLocation != e.base+"/requests/"+id {
		t.Errorf("open: %+v %v", resp, err)
	}
	msg := e.requestMessage(ch, id, nil)
	if got := e.slash("alice", ch, "cancel "+id, ""); got != id+" is cancelled. "+e.base+"/requests/"+id {
		t.Errorf("cancel: %q", got)
	}
	if got := e.slash("alice", ch, "cancel "+id, ""); !strings.Contains(got, "was already cancelled by "+strings.ReplaceAll(e.w.Name("alice"), "-", `\-`)) {
		// The name is escaped for Markdown; "\-" shows as "-".
		t.Errorf("second cancel: %q", got)
	}
	cancelled := e.requestMessage(ch, id, func(p *model.Post) bool { return strings.Contains(p.Message, "CANCELLED") })
	if cancelled.Id != msg.Id || len(cancelled.Attachments()) != 0 {
		t.Errorf("cancelled message %s (request message %s) keeps %d attachments", cancelled.Id, msg.Id, len(cancelled.Attachments()))
	}

	// A change window: requested, approved by bob in the portal, closed.
	win := e.created(e.slash("alice", ch, "window open prod 2h -- release 4.2", ""))
	if status, loc, body := e.signIn("bob").decide(win, "approve", "ok"); status != http.StatusSeeOther {
		t.Fatalf("approve window: %d %s %s", status, loc, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.slash("alice", ch, "window close prod", "")
		if got == "Change window prod is closed." {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("window close after approval: %q", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRealCancelButton: the request message's button, clicked in the real
// Mattermost. Mattermost calls Countersign with the clicker and the signed
// context; someone other than the requester changes nothing, the requester
// cancels and the message loses its button.
func TestRealCancelButton(t *testing.T) {
	e := newRealEnv(t)
	w := e.w
	id := e.created(e.slash("alice", w.Channel.Id, "restart api staging -- stuck", ""))
	msg := e.requestMessage(w.Channel.Id, id, func(p *model.Post) bool { return len(p.Attachments()) > 0 })
	if integ := msg.Attachments()[0].Actions[0].Integration; integ != nil && (integ.URL != "" || len(integ.Context) > 0) {
		t.Errorf("Mattermost shows the button's integration to clients: %+v", integ)
	}

	if _, err := w.ClickButton(e.person("carol"), msg.Id, "cancelrequest"); err != nil {
		t.Fatalf("carol's click: %v", err)
	}
	if got := w.GetPost(msg.Id); !strings.Contains(got.Message, "PENDING") || len(got.Attachments()) != 1 {
		t.Fatalf("carol's click changed the message: %q", got.Message)
	}
	if !strings.Contains(e.log.String(), `"reason":"clicker is not the requester"`) {
		t.Errorf("no refusal logged for carol's click")
	}

	if _, err := w.ClickButton(e.person("alice"), msg.Id, "cancelrequest"); err != nil {
		t.Fatalf("alice's click: %v", err)
	}
	got := w.GetPost(msg.Id)
	if !strings.Contains(got.Message, "CANCELLED") || len(got.Attachments()) != 0 {
		t.Fatalf("after alice's click: %q with %d attachments", got.Message, len(got.Attachments()))
	}
	if s := e.slash("alice", w.Channel.Id, "status "+id, ""); !strings.Contains(s, "is **cancelled**") {
		t.Errorf("status after the click: %q", s)
	}
	// The button is gone; a click on the old action is refused by Mattermost.
	if _, err := w.ClickButton(e.person("alice"), msg.Id, "cancelrequest"); err == nil {
		t.Errorf("a click on the removed button was accepted")
	}
}
