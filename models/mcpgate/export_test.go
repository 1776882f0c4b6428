package mcpgate

import (
	"context"

	"github.com/countersign/countersign/models"
)

// OpenKey exposes openKey to the tests.
func (s *Service) OpenKey(ctx context.Context, agent models.Actor, action, canon string) (string, error) {
	key, _, err := s.openKey(ctx, Call{Agent: agent}, action, canon)
	return key, err
}
