package outbox

import (
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// The kinds of follow-up work: reminders and escalations written by the
// sweeper (through Reminders), and notes in the request's thread.
const (
	// KindRemindApprovers expands into one KindReminderDM per eligible
	// approver who has not decided yet, looked up when it is handled.
	KindRemindApprovers Kind = "remind_approvers"
	// KindReminderDM reminds one approver (recipient: a username) that a
	// request still waits for approvals.
	KindReminderDM Kind = "reminder_dm"
	// KindEscalate expands into one KindEscalationDM per person of the
	// escalation roles (payload: roles) who has not decided yet.
	KindEscalate Kind = "escalate"
	// KindEscalationDM tells one person of an escalation role (recipient:
	// a username) that a request was escalated to them (payload: roles).
	KindEscalationDM Kind = "escalation_dm"
	// KindThreadNote replies in the request's thread with a note that is
	// not a decision (payload: note, actor, reason, from, roles, voided).
	KindThreadNote Kind = "thread_note"
	// KindVoidedDM tells one approver (recipient: a username) that their
	// approval stopped counting because the conversation changed.
	KindVoidedDM Kind = "voided_dm"
)

// Expands reports whether rows of kind k turn into other rows when handled
// (instead of sending something themselves).
func (k Kind) Expands() bool {
	return k == KindNotifyApprovers || k == KindRemindApprovers || k == KindEscalate
}

// Note says what a thread note is about.
type Note string

// The thread notes.
const (
	// NoteCancelled: someone cancelled the request (actor, reason).
	NoteCancelled Note = "cancelled"
	// NoteExpired: the request expired (from: the state it expired in —
	// pending without enough approvals, or approved with its grant unused).
	NoteExpired Note = "expired"
	// NoteEscalated: the request was escalated to further roles (roles).
	NoteEscalated Note = "escalated"
	// NoteExecuted: the approved action ran (actor: who reported it).
	NoteExecuted Note = "executed"
	// NoteFailed: the approved action failed or no result came in time
	// (reason).
	NoteFailed Note = "failed"
	// NoteContentChanged: a captured post was edited or deleted after the
	// capture; the content hash moved and the approvals named in voided
	// no longer count.
	NoteContentChanged Note = "content_changed"
	// NoteComment: someone commented on the request in the portal
	// (actor, text).
	NoteComment Note = "comment"
)

// Reminders queues the chat work of the sweeper's reminders and
// escalations (it implements sweep.Notifier). It writes outbox rows in the
// sweeper's transaction, so a reminder is recorded, audited and queued
// together, and never twice when several sweepers race.
type Reminders struct {
	// Now stamps the rows; nil means time.Now.
	Now func() time.Time
}

// Remind implements sweep.Notifier: a reminder queues a DM to each
// approver who has not decided; an escalation queues a DM to each person
// of the escalation roles and a note in the request's thread.
func (n Reminders) Remind(tx *gorm.DB, r *models.Request, roles []string, escalated bool) error {
	if r.ChatQuiet {
		return nil
	}
	now := time.Now()
	if n.Now != nil {
		now = n.Now()
	}
	now = now.UTC()
	roles = append([]string(nil), roles...)
	var rows []Message
	add := func(kind Kind, p Payload) error {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		rows = append(rows, Message{
			RequestID: r.ID, Lane: r.ID, Kind: kind, Payload: string(b), IdemKey: newKey(),
			State: StatePending, NextAttemptUS: us(now), CreatedAt: now, UpdatedAt: now,
		})
		return nil
	}
	if !escalated {
		if err := add(KindRemindApprovers, Payload{Roles: roles}); err != nil {
			return err
		}
	} else {
		if err := add(KindEscalate, Payload{Roles: roles}); err != nil {
			return err
		}
		if err := add(KindThreadNote, Payload{Note: NoteEscalated, Roles: roles}); err != nil {
			return err
		}
	}
	if err := tx.Create(&rows).Error; err != nil {
		return fmt.Errorf("outbox: queue follow-up of %s: %w", r.ID, err)
	}
	return nil
}
