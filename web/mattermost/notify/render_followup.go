package notify

import (
	"fmt"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
)

// missing is how many more approvals the request needs.
func missing(r *models.Request) int {
	return max(r.RequiredApprovals-r.Tally().Approved(), 0)
}

// approvalsWord is "1 more approval" or "N more approvals".
func approvalsWord(n int) string {
	if n == 1 {
		return "1 more approval"
	}
	return fmt.Sprintf("%d more approvals", n)
}

// rolesText lists roles for a message.
func rolesText(roles []string) string {
	parts := make([]string, 0, len(roles))
	for _, r := range roles {
		parts = append(parts, Escape(r, 64))
	}
	return strings.Join(parts, ", ")
}

// ReminderDM reminds an approver who has not decided that the request
// still waits.
func (rn Renderer) ReminderDM(r *models.Request) string {
	return fmt.Sprintf("⏰ Reminder: %s (%s by %s) is still waiting for %s — %s",
		r.ID, Escape(r.Action, 64), requesterText(r), approvalsWord(missing(r)), rn.RequestURL(r.ID))
}

// EscalationDM tells a person of an escalation role that the request was
// escalated to them.
func (rn Renderer) EscalationDM(r *models.Request, roles []string) string {
	return fmt.Sprintf("⏫ %s (%s by %s) was escalated to %s: it is still waiting for %s.\n**Purpose:** %s\nReview it and decide in the portal: %s",
		r.ID, Escape(r.Action, 64), requesterText(r), rolesText(roles), approvalsWord(missing(r)), Escape(r.Purpose, 300), rn.RequestURL(r.ID))
}

// ThreadNote is a note in the request's thread that is not a decision:
// an escalation, a cancellation (by whom), an expiry, or how the approved
// action ended.
func (rn Renderer) ThreadNote(r *models.Request, p outbox.Payload) string {
	link := rn.RequestURL(r.ID)
	switch p.Note {
	case outbox.NoteEscalated:
		return fmt.Sprintf("⏫ %s escalated to %s: still waiting for %s · %s", r.ID, rolesText(p.Roles), approvalsWord(missing(r)), link)
	case outbox.NoteCancelled:
		who := Escape(p.Actor, 64)
		if who == "" {
			who = "someone"
		}
		return fmt.Sprintf("❌ %s was cancelled by **%s** · %s", r.ID, who, link)
	case outbox.NoteExpired:
		if models.State(p.From) == models.StateApproved {
			return fmt.Sprintf("⌛ %s expired: its execution grant was not used in time · %s", r.ID, link)
		}
		return fmt.Sprintf("⌛ %s expired without enough approvals (%d of %d) · %s", r.ID, r.Tally().Approved(), r.RequiredApprovals, link)
	case outbox.NoteExecuted:
		return fmt.Sprintf("✅ %s was executed · %s", r.ID, link)
	case outbox.NoteFailed:
		why := Escape(p.Reason, 300)
		if why == "" {
			why = "the executor reported a failure"
		}
		return fmt.Sprintf("❌ %s failed: %s · %s", r.ID, why, link)
	}
	return fmt.Sprintf("%s %s is now **%s** · %s", StateEmoji(r.State), r.ID, Escape(string(r.State), 20), link)
}
