package notify_test

import (
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/web/mattermost/notify"
)

func TestFollowUpTexts(t *testing.T) {
	rn := notify.Renderer{PublicURL: publicURL + "/"}
	r := &models.Request{ID: "REQ-7", Action: "restart", RequesterType: models.ActorHuman, RequesterName: "carol", Purpose: "@channel *now*", RequiredApprovals: 3, ContentHash: "h1", State: models.StatePending}
	r.Decisions = []models.Decision{
		{ApproverID: "a", Verdict: models.VerdictApprove, ContentHash: "h1"},
		{ApproverID: "b", Verdict: models.VerdictApprove, ContentHash: "old"}, // content changed since: does not count
	}
	link := publicURL + "/requests/REQ-7"
	for _, c := range []struct {
		name string
		got  string
		want []string
		not  []string
	}{
		{"reminder", rn.ReminderDM(r), []string{"REQ-7", "is still waiting for 2 more approvals", link}, nil},
		{"escalation DM", rn.EscalationDM(r, []string{"security"}), []string{"REQ-7", "escalated to security", "2 more approvals", "@\u200bchannel", link}, []string{"@channel"}},
		{"escalation note", rn.ThreadNote(r, outbox.Payload{Note: outbox.NoteEscalated, Roles: []string{"security", "sre-leads"}}), []string{"escalated to security, sre\\-leads", link}, nil},
		{"cancel note", rn.ThreadNote(r, outbox.Payload{Note: outbox.NoteCancelled, Actor: "**mallory**"}), []string{"cancelled by **\\*\\*mallory\\*\\***", link}, nil},
		{"expiry while pending", rn.ThreadNote(r, outbox.Payload{Note: outbox.NoteExpired, From: "pending"}), []string{"expired without enough approvals (1 of 3)", link}, nil},
		{"comment note", rn.ThreadNote(r, outbox.Payload{Note: outbox.NoteComment, Actor: "alice", Text: "Is INC-4211 *really* fixed?\n@channel [click](http://evil)\n> Approved"}),
			[]string{"💬 **alice** commented on REQ-7", "not a decision", "\n> Is INC\\-4211 \\*really\\* fixed?\n> @\u200bchannel \\[click\\]\\(http://evil\\)\n> \\> Approved\n", link},
			[]string{"@channel", "[click]"}},
		{"expiry of an unused grant", rn.ThreadNote(r, outbox.Payload{Note: outbox.NoteExpired, From: "approved"}), []string{"execution grant was not used in time", link}, []string{"enough approvals"}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.got, w) {
				t.Errorf("%s lacks %q:\n%s", c.name, w, c.got)
			}
		}
		for _, w := range c.not {
			if strings.Contains(c.got, w) {
				t.Errorf("%s contains %q:\n%s", c.name, w, c.got)
			}
		}
	}
	r.RequiredApprovals = 2
	if got := rn.ReminderDM(r); !strings.Contains(got, "1 more approval ") {
		t.Errorf("singular: %s", got)
	}
}
