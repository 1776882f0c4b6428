package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
)

// resultTimeout is the configured result timeout or its default.
func (s *Sweeper) resultTimeout() time.Duration {
	if s.cfg.ResultTimeout > 0 {
		return s.cfg.ResultTimeout
	}
	return execution.DefaultResultTimeout
}

// failUnreported ends failed the approved requests whose grant was
// redeemed longer than the result timeout ago without a result on record:
// an agent that never reported, or an executor whose answer never came
// back. The move runs as execution.TimeoutActor, so the execution hook
// records the failed execution in the same transaction (or vetoes the
// move when a result came in first); the move's compare-and-swap makes a
// racing sweeper's attempt a no-op.
func (s *Sweeper) failUnreported(ctx context.Context, now time.Time) (int, error) {
	d := s.resultTimeout()
	var ids []string
	err := s.store.DB(ctx).Model(&models.Request{}).
		Joins("JOIN grants ON grants.request_id = requests.id").
		Where("requests.state = ? AND grants.redeemed_at IS NOT NULL AND grants.redeemed_at <= ?", models.StateApproved, now.Add(-d)).
		Where("NOT EXISTS (SELECT 1 FROM executions WHERE executions.request_id = requests.id AND executions.state IN ?)",
			[]execution.State{execution.StateSucceeded, execution.StateFailed}).
		Order("grants.redeemed_at").Limit(s.cfg.Batch).Pluck("requests.id", &ids).Error
	if err != nil {
		return 0, fmt.Errorf("sweep: unreported results: %w", err)
	}
	n := 0
	for _, id := range ids {
		_, err := s.approvals.Move(ctx, approval.Transition{
			ID: id, From: models.StateApproved, To: models.StateFailed,
			Actor: execution.TimeoutActor, Reason: execution.TimeoutReason(d),
		})
		switch {
		case err == nil:
			n++
		case isConflict(err):
			// Another sweeper, or the result itself, got there first.
		default:
			return n, fmt.Errorf("sweep: %s → %s: %w", id, models.StateFailed, err)
		}
	}
	return n, nil
}
