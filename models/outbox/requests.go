package outbox

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// Requests loads requests the way chat messages need them: the request
// row and its decisions (in order), which is everything a message, reply,
// DM or note is rendered from. It leaves out the captured conversation
// and tool chain that approval.Service.Get also loads: no chat message
// shows them, and a conversation may hold hundreds of posts, read again
// for every row delivered. It implements notify.Requests.
type Requests struct {
	store *models.Store
}

// Requests returns the loader on the queue's store.
func (q *Queue) Requests() Requests { return Requests{store: q.store} }

// Get returns the request with its decisions; models.ErrNotFound when
// there is none.
func (l Requests) Get(ctx context.Context, id string) (*models.Request, error) {
	var r models.Request
	err := l.store.DB(ctx).
		Preload("Decisions", func(db *gorm.DB) *gorm.DB { return db.Order("id") }).
		First(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("outbox: request %s: %w", id, models.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: load request %s: %w", id, err)
	}
	return &r, nil
}

// GetWithoutDecisions returns the request row alone, for the messages
// that show no decisions (see Kind.ShowsDecisions): one query instead of
// two for every such message.
func (l Requests) GetWithoutDecisions(ctx context.Context, id string) (*models.Request, error) {
	var r models.Request
	err := l.store.DB(ctx).First(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("outbox: request %s: %w", id, models.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: load request %s: %w", id, err)
	}
	return &r, nil
}
