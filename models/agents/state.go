package agents

import (
	"context"
	"fmt"

	"github.com/countersign/countersign/models"
)

// Store gives the agent API its reads: idempotency records and a request's
// bare state for long polls.
type Store struct {
	S *models.Store
}

// FindIdempotent returns the record of (agent, key), or models.ErrNotFound.
func (s Store) FindIdempotent(ctx context.Context, agent, key string) (*Idempotency, error) {
	return FindIdempotent(ctx, s.S, agent, key)
}

// State reads only the state column of request id.
func (s Store) State(ctx context.Context, id string) (models.State, error) {
	var st []string
	if err := s.S.DB(ctx).Model(&models.Request{}).Where("id = ?", id).Limit(1).Pluck("state", &st).Error; err != nil {
		return "", fmt.Errorf("agents: state of %s: %w", id, err)
	}
	if len(st) == 0 {
		return "", fmt.Errorf("agents: request %s: %w", id, models.ErrNotFound)
	}
	return models.State(st[0]), nil
}
