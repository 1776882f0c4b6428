package outbox

import (
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// Hook writes the chat work of every request change into the outbox, in
// the change's own transaction (it implements approval.Hook):
//
//   - created: the request message (posted into the request's thread or
//     channel) and DMs to the eligible approvers when it waits for them;
//   - decided: the request message re-rendered, and a thread reply with
//     the decision;
//   - any move, and a changed content: the request message re-rendered;
//   - a changed content: a note in the thread naming the approvals that
//     no longer count, and a DM to each of those approvers;
//   - cancelled or expired: a note in the thread (who cancelled; that it
//     expired without enough approvals, or with its grant unused);
//   - a final state (approved, denied, expired, cancelled, executed,
//     failed): the requester is told the outcome by DM (an agent's sponsor
//     for an agent).
type Hook struct{}

// RequestChanged implements approval.Hook.
func (Hook) RequestChanged(tx *gorm.DB, ch approval.Change) error {
	r := ch.Request
	if r.ChatQuiet {
		return nil
	}
	now := ch.At
	if now.IsZero() {
		now = time.Now().UTC()
	}
	var rows []Message
	add := func(lane string, kind Kind, recipient string, p Payload) error {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		rows = append(rows, Message{
			RequestID: r.ID, Lane: lane, Kind: kind, Recipient: recipient, Payload: string(b), IdemKey: newKey(),
			State: StatePending, NextAttemptUS: us(now), CreatedAt: now, UpdatedAt: now,
		})
		return nil
	}
	thread := r.ID
	switch ch.Kind {
	case approval.ChangeCreated:
		cp := ChatPost{RequestID: r.ID, IdemKey: newKey(), CreatedAt: now, UpdatedAt: now}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&cp).Error; err != nil {
			return fmt.Errorf("outbox: request chat post: %w", err)
		}
		if err := add(thread, KindRequestPost, "", Payload{}); err != nil {
			return err
		}
		if ch.To == models.StatePending {
			if err := add(thread, KindNotifyApprovers, "", Payload{}); err != nil {
				return err
			}
		}
	case approval.ChangeDecided:
		if err := add(thread, KindRequestPost, "", Payload{}); err != nil {
			return err
		}
		if ch.Decision != nil {
			if err := add(thread, KindDecisionReply, "", Payload{DecisionID: ch.Decision.ID}); err != nil {
				return err
			}
		}
	case approval.ChangeContentChanged:
		if err := add(thread, KindRequestPost, "", Payload{}); err != nil {
			return err
		}
		var names []string
		for _, d := range ch.Voided {
			names = append(names, voidedName(d))
		}
		if err := add(thread, KindThreadNote, "", Payload{Note: NoteContentChanged, Voided: names}); err != nil {
			return err
		}
		for _, d := range ch.Voided {
			if d.ApproverUsername == "" {
				continue // not known in chat: the thread note names them
			}
			if err := add(r.ID+"/dm/"+d.ApproverUsername, KindVoidedDM, d.ApproverUsername, Payload{}); err != nil {
				return err
			}
		}
	default:
		if err := add(thread, KindRequestPost, "", Payload{}); err != nil {
			return err
		}
	}
	if note, ok := threadNotes[ch.To]; ok && ch.Moved() {
		if err := add(thread, KindThreadNote, "", Payload{Note: note, From: string(ch.From), Actor: ch.Actor.Display, Reason: ch.Reason}); err != nil {
			return err
		}
	}
	if ch.Moved() && (ch.To.Terminal() || ch.To == models.StateApproved) {
		to := r.RequesterID
		if r.RequesterType == models.ActorAgent {
			to = r.SponsorID
		}
		if to != "" {
			if err := add(r.ID+"/dm/"+to, KindOutcomeDM, to, Payload{State: string(ch.To), Actor: ch.Actor.Display, Reason: ch.Reason}); err != nil {
				return err
			}
		}
	}
	if err := tx.Create(&rows).Error; err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	return nil
}

// voidedName is how a voided approver is named in chat: their @username
// when the portal knew it, else their display name.
func voidedName(d models.Decision) string {
	if d.ApproverUsername != "" {
		return "@" + d.ApproverUsername
	}
	return d.ApproverName
}

// threadNotes are the states whose arrival is told in the request's
// thread besides the updated message (decisions have their own replies).
var threadNotes = map[models.State]Note{
	models.StateCancelled: NoteCancelled,
	models.StateExpired:   NoteExpired,
	models.StateExecuted:  NoteExecuted,
	models.StateFailed:    NoteFailed,
}

var _ approval.Hook = Hook{}
