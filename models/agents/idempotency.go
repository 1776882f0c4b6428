package agents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// MaxIdempotencyKey bounds the Idempotency-Key header.
const MaxIdempotencyKey = 200

// ErrKeyReused means another call already used the idempotency key; look
// the record up and compare bodies. It matches models.ErrConflict.
var ErrKeyReused = fmt.Errorf("idempotency key already used: %w", models.ErrConflict)

// Idempotency records which request an agent's call with an
// Idempotency-Key created, and a digest of that call's body.
type Idempotency struct {
	Agent     string `gorm:"primaryKey"`
	IdemKey   string `gorm:"primaryKey"`
	BodyHash  string
	RequestID string
	CreatedAt time.Time
}

// TableName pins the table name.
func (Idempotency) TableName() string { return "agent_idempotency" }

type idemCtxKey struct{}

// WithIdempotency marks ctx so that the request created under it (through
// approval.Service.Submit with IdempotencyHook configured) is recorded
// under (agent, key) with bodyHash, in the same transaction. An empty key
// leaves ctx unmarked.
func WithIdempotency(ctx context.Context, agent, key, bodyHash string) context.Context {
	if key == "" {
		return ctx
	}
	return context.WithValue(ctx, idemCtxKey{}, Idempotency{Agent: agent, IdemKey: key, BodyHash: bodyHash})
}

// IdempotencyHook is an approval.Hook: when a request is created under a
// context marked by WithIdempotency it inserts the record; if the key was
// taken meanwhile (two replays racing) it fails with ErrKeyReused and the
// whole creation rolls back, so exactly one request exists per key.
type IdempotencyHook struct{}

// RequestChanged implements approval.Hook.
func (IdempotencyHook) RequestChanged(tx *gorm.DB, ch approval.Change) error {
	if ch.Kind != approval.ChangeCreated || tx.Statement.Context == nil {
		return nil
	}
	rec, ok := tx.Statement.Context.Value(idemCtxKey{}).(Idempotency)
	if !ok {
		return nil
	}
	rec.RequestID, rec.CreatedAt = ch.Request.ID, ch.At
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rec)
	if res.Error != nil {
		return fmt.Errorf("record idempotency key: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrKeyReused
	}
	return nil
}

// FindIdempotent returns the record of (agent, key), or models.ErrNotFound.
func FindIdempotent(ctx context.Context, store *models.Store, agent, key string) (*Idempotency, error) {
	var rec Idempotency
	err := store.DB(ctx).Where("agent = ? AND idem_key = ?", agent, key).Limit(1).Find(&rec).Error
	if err != nil {
		return nil, fmt.Errorf("agents: load idempotency record: %w", err)
	}
	if rec.RequestID == "" {
		return nil, fmt.Errorf("agents: idempotency key: %w", models.ErrNotFound)
	}
	return &rec, nil
}

// ErrNotOwnPost means an agent named a proposal post it did not write.
var ErrNotOwnPost = fmt.Errorf("the proposal post was not written by the agent's own bot account: %w", models.ErrForbidden)

// CheckProposal enforces that the proposal post is the agent's own: written
// under its bot user id, by a bot account (looked up, not from props), and
// not through a webhook or a slash-command reply (whose display name
// anyone with the integration can set to the bot's).
func CheckProposal(a *Agent, post *models.ConversationPost) error {
	if post == nil {
		return fmt.Errorf("agents: proposal post: %w", models.ErrNotFound)
	}
	if post.AuthorID != a.BotUserID || post.AuthorKind != models.AuthorBot || post.FromWebhook {
		return fmt.Errorf("agents: %s proposal %s by %s (%s): %w", a.Name, post.PostID, post.AuthorID, post.AuthorKind, ErrNotOwnPost)
	}
	return nil
}

// IsKeyReused reports whether err says the idempotency key was taken.
func IsKeyReused(err error) bool { return errors.Is(err, ErrKeyReused) }
