package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
)

// deliverFollowUp performs the rows of reminders, escalations and thread
// notes (see models/outbox/followup.go).
func (w *Worker) deliverFollowUp(ctx context.Context, m *outbox.Message, r *models.Request) (string, []outbox.Message, error) {
	p, err := m.DecodePayload()
	if err != nil {
		return "", nil, fmt.Errorf("%v: %w", err, errPermanent)
	}
	switch m.Kind {
	case outbox.KindRemindApprovers:
		children, err := w.expandFollowUp(ctx, r, outbox.KindReminderDM, nil)
		return "", children, err
	case outbox.KindEscalate:
		children, err := w.expandFollowUp(ctx, r, outbox.KindEscalationDM, p.Roles)
		return "", children, err
	case outbox.KindReminderDM, outbox.KindEscalationDM:
		if r.State != models.StatePending {
			return "", nil, nil // decided or ended meanwhile: nothing to ask for
		}
		uid, err := w.cfg.Chat.UserIDByUsername(ctx, m.Recipient)
		if err != nil {
			return "", nil, err
		}
		if r.MadeBy(uid, "") || r.SponsoredBy(uid, "") || hasDecided(r, m.Recipient, uid) {
			return "", nil, nil
		}
		text := w.cfg.Render.ReminderDM(r)
		if m.Kind == outbox.KindEscalationDM {
			text = w.cfg.Render.EscalationDM(r, p.Roles)
		}
		id, err := w.directMessage(ctx, m, uid, text)
		return id, nil, err
	case outbox.KindThreadNote:
		id, err := w.threadReply(ctx, m, r, w.cfg.Render.ThreadNote(r, p))
		return id, nil, err
	}
	return "", nil, fmt.Errorf("unknown follow-up kind %q: %w", m.Kind, errPermanent)
}

// expandFollowUp turns a reminder (roles nil: everyone the directory names
// for the request) or an escalation (the people of roles) into one DM row
// of kind per person who has not decided yet, each in that person's lane.
// Nothing is sent once the request no longer waits.
func (w *Worker) expandFollowUp(ctx context.Context, r *models.Request, kind outbox.Kind, roles []string) ([]outbox.Message, error) {
	if w.cfg.Directory == nil || r.State != models.StatePending {
		return nil, nil
	}
	var names []string
	var err error
	if kind == outbox.KindEscalationDM {
		rd, ok := w.cfg.Directory.(RoleDirectory)
		if !ok {
			return nil, nil // a directory without roles cannot tell who the escalation roles are
		}
		names, err = rd.RoleUsernames(ctx, r, roles)
	} else {
		names, err = w.cfg.Directory.ApproverUsernames(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(outbox.Payload{Roles: roles})
	if err != nil {
		return nil, err
	}
	var out []outbox.Message
	for _, n := range eligible(r, names) {
		if hasDecided(r, n, "") {
			continue
		}
		out = append(out, outbox.Message{Lane: r.ID + "/dm/" + strings.ToLower(n), Kind: kind, Recipient: n, Payload: string(payload)})
	}
	return out, nil
}

// hasDecided reports whether the person (a Mattermost username, and their
// user id when known) has a decision that still counts: an approval of the
// current content, or a denial. Someone whose approval was of content that
// changed since is asked again.
func hasDecided(r *models.Request, username, userID string) bool {
	name := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(username), "@"))
	for i := range r.Decisions {
		d := &r.Decisions[i]
		if d.Verdict == models.VerdictApprove && !r.Counts(d) {
			continue
		}
		switch {
		case name != "" && (d.ApproverUsername == name || (d.ApproverUsername == "" && strings.EqualFold(d.ApproverName, name))):
			return true
		case userID != "" && d.ApproverID == userID:
			return true
		}
	}
	return false
}
