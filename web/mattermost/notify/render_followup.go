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
	case outbox.NoteContentChanged:
		return rn.contentChangedNote(r, p.Voided)
	case outbox.NoteComment:
		return rn.commentNote(r, p)
	case outbox.NoteFailed:
		why := Escape(p.Reason, 300)
		if why == "" {
			why = "the executor reported a failure"
		}
		return fmt.Sprintf("❌ %s failed: %s · %s", r.ID, why, link)
	}
	return fmt.Sprintf("%s %s is now **%s** · %s", StateEmoji(r.State), r.ID, Escape(string(r.State), 20), link)
}

// maxCommentLines bounds a comment's lines in chat; the portal shows all.
const maxCommentLines = 20

// commentNote repeats a comment written in the portal in the request's
// thread, quoted and escaped: the text is the commenter's, not
// Countersign's, and it is never an approval.
func (rn Renderer) commentNote(r *models.Request, p outbox.Payload) string {
	who := Escape(p.Actor, 64)
	if who == "" {
		who = "someone"
	}
	// Escape makes one line of its input; the comment's own line breaks
	// are kept by escaping line by line, each quoted.
	lines := strings.Split(strings.ReplaceAll(p.Text, "\r\n", "\n"), "\n")
	if len(lines) > maxCommentLines {
		lines = append(lines[:maxCommentLines], "…")
	}
	for i, l := range lines {
		lines[i] = Escape(l, 2000)
	}
	return fmt.Sprintf("💬 **%s** commented on %s in the portal (a comment, not a decision):\n> %s\n%s",
		who, r.ID, strings.Join(lines, "\n> "), rn.RequestURL(r.ID))
}

// contentChangedNote tells the thread that a captured message was edited
// or deleted after the capture: what approvers review changed, which
// approvals no longer count, and what the request needs now.
func (rn Renderer) contentChangedNote(r *models.Request, voided []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "✏️ A message captured in %s was edited or deleted, so the content approvers review changed.", r.ID)
	if len(voided) > 0 {
		names := make([]string, len(voided))
		for i, n := range voided {
			names[i] = personText(n)
		}
		verb := "approval no longer counts"
		if len(voided) > 1 {
			verb = "approvals no longer count"
		}
		fmt.Fprintf(&b, " %s's %s: they approved the earlier content.", strings.Join(names, ", "), verb)
	}
	if r.State == models.StatePending {
		fmt.Fprintf(&b, " It now needs %s", approvalsWord(missing(r)))
	}
	fmt.Fprintf(&b, " · %s", rn.RequestURL(r.ID))
	return b.String()
}

// VoidedDM tells an approver that their approval stopped counting because
// the conversation it was based on changed.
func (rn Renderer) VoidedDM(r *models.Request) string {
	return fmt.Sprintf("✏️ Your approval of %s (%s by %s) no longer counts: a message in the conversation you approved was edited or deleted afterwards.\n**Purpose:** %s\nIf you still agree, review what changed and approve again: %s",
		r.ID, Escape(r.Action, 64), requesterText(r), Escape(r.Purpose, 300), rn.RequestURL(r.ID))
}

// personText names a person given as "@username" (the mention broken, so
// they are not notified by the thread: they get their own DM) or as a
// display name.
func personText(name string) string {
	if u, ok := strings.CutPrefix(name, "@"); ok {
		return mentionText(u)
	}
	return Escape(name, 64)
}
