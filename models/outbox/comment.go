package outbox

import (
	"encoding/json"
	"fmt"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/comment"
)

// CommentNotes queues a note in the request's thread for each comment
// written in the portal (it implements comment.Notifier), in the comment's
// transaction: the comment, its audit event and its note commit together.
// The request's own lane keeps the note after the request message it
// replies to.
type CommentNotes struct{}

// Commented implements comment.Notifier.
func (CommentNotes) Commented(tx *gorm.DB, r *models.Request, c *comment.Comment) error {
	if r.ChatQuiet {
		return nil
	}
	b, err := json.Marshal(Payload{Note: NoteComment, Actor: c.AuthorName, Text: c.Body})
	if err != nil {
		return err
	}
	m := Message{
		RequestID: r.ID, Lane: r.ID, Kind: KindThreadNote, Payload: string(b), IdemKey: newKey(),
		State: StatePending, NextAttemptUS: us(c.CreatedAt), CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt,
	}
	if err := tx.Create(&m).Error; err != nil {
		return fmt.Errorf("outbox: queue comment note of %s: %w", r.ID, err)
	}
	return nil
}
