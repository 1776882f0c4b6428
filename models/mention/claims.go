// Package mention keeps the record of the bot's mentions that Countersign
// answers, so each is answered once however many replicas see it and
// however often a reconnect reads it back.
package mention

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/models"
)

// Row is one row of chat_mentions.
type Row struct {
	PostID       string `gorm:"primaryKey"`
	Owner        string
	LeaseUntilUS int64 `gorm:"column:lease_until_us"`
	Done         bool
	RequestID    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName pins the table name.
func (Row) TableName() string { return "chat_mentions" }

// Claims hands out mentions to answer.
type Claims struct {
	store *models.Store
	now   func() time.Time
}

// NewClaims returns Claims on store; now stamps rows (nil: time.Now).
func NewClaims(store *models.Store, now func() time.Time) *Claims {
	if now == nil {
		now = time.Now
	}
	return &Claims{store: store, now: now}
}

// Claim reports whether owner may answer the mention postID now: it is
// the first to see it, or the replica that saw it first held its lease
// past lease without finishing (it crashed or lost Mattermost), so the
// mention is not lost. A finished mention is never claimed again.
func (c *Claims) Claim(ctx context.Context, postID, owner string, lease time.Duration) (bool, error) {
	if postID == "" || owner == "" {
		return false, models.Invalid("mention", "post id and owner are required")
	}
	now := c.now().UTC()
	until := now.Add(lease).UnixMicro()
	db := c.store.DB(ctx)
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&Row{
		PostID: postID, Owner: owner, LeaseUntilUS: until, CreatedAt: now, UpdatedAt: now,
	})
	if res.Error != nil {
		return false, fmt.Errorf("mention: claim %s: %w", postID, res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	res = db.Model(&Row{}).Where("post_id = ? AND done = ? AND lease_until_us < ?", postID, false, now.UnixMicro()).
		Updates(map[string]any{"owner": owner, "lease_until_us": until, "updated_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("mention: take over %s: %w", postID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Finish marks the mention answered by owner (requestID: the request it
// created, if any). A replica whose lease was taken over meanwhile
// finishes nothing and gets models.ErrConflict.
func (c *Claims) Finish(ctx context.Context, postID, owner, requestID string) error {
	now := c.now().UTC()
	res := c.store.DB(ctx).Model(&Row{}).Where("post_id = ? AND owner = ? AND done = ?", postID, owner, false).
		Updates(map[string]any{"done": true, "request_id": requestID, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("mention: finish %s: %w", postID, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("mention: %s is no longer held by %s: %w", postID, owner, models.ErrConflict)
	}
	return nil
}

// Get returns the row of postID (models.ErrNotFound when none).
func (c *Claims) Get(ctx context.Context, postID string) (*Row, error) {
	var r Row
	err := c.store.DB(ctx).Where("post_id = ?", postID).Limit(1).Find(&r).Error
	if err != nil {
		return nil, fmt.Errorf("mention: load %s: %w", postID, err)
	}
	if r.PostID == "" {
		return nil, fmt.Errorf("mention %s: %w", postID, models.ErrNotFound)
	}
	return &r, nil
}
