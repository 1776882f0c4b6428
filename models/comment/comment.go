// Package comment holds the comments people write on a request in the
// portal: a question to the requester or a remark for the other
// approvers, which is never a decision. Anyone who may see a request may
// comment on it; each comment is stored with its audit event
// (request.comment) in one transaction, and told to the request's chat
// thread through the outbox.
package comment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
)

// MaxBytes is the longest comment accepted, in bytes of UTF-8: room for a
// few paragraphs, short enough for a chat reply and the audit event.
const MaxBytes = 2000

// Comment is one row of request_comments.
type Comment struct {
	ID         int64 `gorm:"primaryKey"`
	RequestID  string
	AuthorType models.ActorType
	AuthorID   string
	AuthorName string
	Body       string
	CreatedAt  time.Time
}

// TableName pins the table name.
func (Comment) TableName() string { return "request_comments" }

// Notifier queues what a new comment tells the chat, in the comment's
// transaction (outbox.CommentNotes implements it); nil in Config when no
// chat is configured, since nothing would deliver it.
type Notifier interface {
	Commented(tx *gorm.DB, r *models.Request, c *Comment) error
}

// Viewer says who may see a request (*approval.Service implements it):
// the same rule as the request page, so whoever can read a request can
// comment on it and nobody else learns it exists.
type Viewer interface {
	MayView(r *models.Request, a approval.Approver) bool
}

// Service adds and lists comments.
type Service struct {
	store  *models.Store
	viewer Viewer
	notes  Notifier
	now    func() time.Time
}

// Config configures a Service.
type Config struct {
	// Notes queues the chat note of a comment; nil queues none.
	Notes Notifier
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns the comment service.
func New(store *models.Store, viewer Viewer, cfg Config) *Service {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, viewer: viewer, notes: cfg.Notes, now: now}
}

// Validate checks a comment's text, as typed: it must hold something
// besides white space, be valid UTF-8 without control characters other
// than line breaks and tabs, and be at most MaxBytes long. It returns the
// text trimmed of surrounding white space.
func Validate(body string) (string, error) {
	if !utf8.ValidString(body) {
		return "", models.Invalid("comment", "is not valid UTF-8 text")
	}
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return "", models.Invalid("comment", "is empty: write something to comment")
	case len(body) > MaxBytes:
		return "", models.Invalid("comment", fmt.Sprintf("is %d bytes long; at most %d are allowed", len(body), MaxBytes))
	}
	for _, r := range body {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return "", models.Invalid("comment", "contains control characters")
		}
	}
	return body, nil
}

// Add stores who's comment on request id, with its audit event and its
// chat note, in one transaction. A request who may not see is
// models.ErrNotFound, as for the page; bad text is a models.ErrInvalid
// naming the field "comment". Nothing is stored on any error.
func (s *Service) Add(ctx context.Context, id string, who approval.Approver, body string) (*Comment, error) {
	body, err := Validate(body)
	if err != nil {
		return nil, err
	}
	if err := who.Actor.Validate("author"); err != nil {
		return nil, err
	}
	var c Comment
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		var r models.Request
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("request %s: %w", id, models.ErrNotFound)
			}
			return fmt.Errorf("load request %s: %w", id, err)
		}
		if !s.viewer.MayView(&r, who) {
			return fmt.Errorf("request %s hidden from %s: %w", id, who.Actor.ID, models.ErrNotFound)
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		c = Comment{
			RequestID: r.ID, AuthorType: who.Actor.Type, AuthorID: who.Actor.ID, AuthorName: who.Actor.Display,
			Body: body, CreatedAt: now,
		}
		if err := tx.Create(&c).Error; err != nil {
			return fmt.Errorf("insert comment on %s: %w", r.ID, err)
		}
		if _, err := audit.Append(tx, now, audit.Entry{
			Type: "request.comment", Actor: who.Actor, RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
			Payload: map[string]any{"comment_id": c.ID, "comment": body},
		}); err != nil {
			return err
		}
		if s.notes != nil {
			return s.notes.Commented(tx, &r, &c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	return &c, nil
}

// List returns the comments on request id, oldest first. It does not
// check who asks: callers show it only with the request itself.
func (s *Service) List(ctx context.Context, id string) ([]Comment, error) {
	var out []Comment
	if err := s.store.DB(ctx).Where("request_id = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("comment: list %s: %w", id, err)
	}
	return out, nil
}
