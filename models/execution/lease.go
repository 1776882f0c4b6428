package execution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// The executor webhook's state machine: the dispatcher (web/executor)
// takes a due execution with a lease, posts it, and records the outcome
// through these operations. Each is a compare-and-swap on the execution's
// row (its attempt number and lease owner), so several replicas may
// dispatch at once and an execution is posted by one of them at a time.

// Job is what the dispatcher posts to an executor for one execution.
type Job struct {
	RequestID string
	Action    string
	// Params is the approved parameters as canonical JSON text.
	Params string
	// Grant is the single-use execution grant.
	Grant string
}

// NotDispatchableError means an execution cannot be posted any more: its
// request is no longer approved, or its grant is no longer usable. The
// dispatcher records Reason as the final, failed result.
type NotDispatchableError struct{ Reason string }

// Error implements error.
func (e *NotDispatchableError) Error() string { return e.Reason }

// Due returns up to limit executions whose next attempt has come and whose
// lease (if any) has run out, oldest first.
func (s *Service) Due(ctx context.Context, limit int) ([]Execution, error) {
	now := s.clock()
	var due []Execution
	if err := s.store.DB(ctx).
		Where("state IN ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)", []State{StateQueued, StateRunning}, now, now).
		Order("next_attempt_at").Limit(limit).Find(&due).Error; err != nil {
		return nil, fmt.Errorf("execution: due executions: %w", err)
	}
	return due, nil
}

// Claim takes the lease on e for owner until lease from now, counting the
// attempt; false when another worker got it first.
func (s *Service) Claim(ctx context.Context, e *Execution, owner string, lease time.Duration) (bool, error) {
	now := s.clock()
	until := now.Add(lease)
	won := false
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Execution{}).
			Where("request_id = ? AND attempts = ? AND state IN ? AND (lease_until IS NULL OR lease_until < ?)", e.RequestID, e.Attempts, []State{StateQueued, StateRunning}, now).
			Updates(map[string]any{"state": StateRunning, "lease_owner": owner, "lease_until": until, "attempts": e.Attempts + 1, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("claim %s: %w", e.RequestID, res.Error)
		}
		won = res.RowsAffected == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("execution: %w", err)
	}
	if won {
		e.Attempts++
		e.State, e.LeaseOwner, e.LeaseUntil = StateRunning, owner, &until
	}
	return won, nil
}

// Job is what to post for e: the approved request with its grant. The
// error wraps ErrNotDispatchable when the request or the grant can no
// longer be used (*NotDispatchableError, a final failure); other errors
// may pass on a retry.
func (s *Service) Job(ctx context.Context, e *Execution) (*Job, error) {
	r, err := s.approvals.Get(ctx, e.RequestID)
	if err != nil {
		return nil, fmt.Errorf("load request: %w", err)
	}
	if r.State != models.StateApproved {
		return nil, &NotDispatchableError{Reason: fmt.Sprintf("the request is %s, no longer approved", r.State)}
	}
	tok, err := s.grants.Token(ctx, e.RequestID)
	if errors.Is(err, models.ErrConflict) {
		return nil, &NotDispatchableError{Reason: "the grant is no longer usable (expired or its key retired)"}
	}
	if err != nil {
		return nil, fmt.Errorf("derive grant: %w", err)
	}
	return &Job{RequestID: r.ID, Action: r.Action, Params: r.Params, Grant: tok}, nil
}

// Retry gives back owner's lease on e and schedules its next attempt
// after wait, audited "execution.retry" with why this one failed. A lease
// lost meanwhile (another worker, or the result timeout ended it) is not
// an error: nothing is recorded.
func (s *Service) Retry(ctx context.Context, e *Execution, owner string, wait time.Duration, msg string) error {
	now := s.clock()
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Execution{}).Where("request_id = ? AND lease_owner = ? AND attempts = ? AND state = ?", e.RequestID, owner, e.Attempts, StateRunning).
			Updates(map[string]any{"state": StateQueued, "lease_until": nil, "next_attempt_at": now.Add(wait), "error": clipErr(msg), "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("schedule retry of %s: %w", e.RequestID, res.Error)
		}
		if res.RowsAffected != 1 {
			return nil
		}
		r := models.Request{}
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", e.RequestID).Error; err != nil {
			return fmt.Errorf("load request %s: %w", e.RequestID, err)
		}
		_, err := audit.Append(tx, now, audit.Entry{
			Type: "execution.retry", Actor: models.SystemActor("execution"), RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
			Payload: map[string]any{"executor": e.Executor, "attempt": e.Attempts, "error": clipErr(msg), "next_attempt_in_ms": wait.Milliseconds()},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("execution: %w", err)
	}
	return nil
}

func clipErr(s string) string {
	if len(s) > MaxErrorBytes {
		return s[:MaxErrorBytes]
	}
	return s
}

// Finish records the executor's final result of e under owner's lease,
// audits it and ends the request executed or failed. An answer that comes
// after the result timeout ended the request is not recorded, but audited
// "execution.refused".
func (s *Service) Finish(ctx context.Context, e *Execution, owner string, res Result) error {
	out, msg, err := res.normalize()
	if err != nil {
		out, msg, res.Succeeded = "", "executor answered with unusable output", false
	}
	now := s.clock()
	e.State, e.Output, e.Error, e.FinishedAt = stateOf(res.Succeeded), out, msg, &now
	done := false
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		upd := tx.Model(&Execution{}).Where("request_id = ? AND lease_owner = ? AND attempts = ? AND state = ?", e.RequestID, owner, e.Attempts, StateRunning).
			Updates(map[string]any{"state": e.State, "output": out, "error": msg, "lease_until": nil, "finished_at": now, "updated_at": now, "reported_by": "executor:" + e.Executor})
		if upd.Error != nil {
			return fmt.Errorf("record result of %s: %w", e.RequestID, upd.Error)
		}
		if upd.RowsAffected != 1 {
			return lateAnswer(tx, e, now)
		}
		var r models.Request
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", e.RequestID).Error; err != nil {
			return fmt.Errorf("load request %s: %w", e.RequestID, err)
		}
		done = true
		return auditResult(tx, &r, e, models.Actor{Type: models.ActorSystem, ID: "executor:" + e.Executor, Display: e.Executor}, now)
	})
	if err != nil {
		return fmt.Errorf("execution: %w", err)
	}
	if !done {
		return nil
	}
	return s.conclude(ctx, e)
}

// Reconcile concludes requests still approved although their execution
// finished (a crash between recording the result and moving the request).
func (s *Service) Reconcile(ctx context.Context) error {
	var rows []Execution
	err := s.store.DB(ctx).Model(&Execution{}).
		Joins("JOIN requests ON requests.id = executions.request_id").
		Where("executions.state IN ? AND requests.state = ?", []State{StateSucceeded, StateFailed}, models.StateApproved).
		Limit(50).Find(&rows).Error
	if err != nil {
		return fmt.Errorf("execution: reconcile: %w", err)
	}
	for i := range rows {
		if err := s.conclude(ctx, &rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// lateAnswer audits an executor's answer that came after the result
// timeout had ended the request failed: it is not recorded, but the audit
// log shows that it came and what it said.
func lateAnswer(tx *gorm.DB, e *Execution, now time.Time) error {
	var cur Execution
	if err := tx.Take(&cur, "request_id = ?", e.RequestID).Error; err != nil || cur.ReportedBy != TimedOutBy {
		return nil
	}
	var r models.Request
	if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", e.RequestID).Error; err != nil {
		return fmt.Errorf("load request %s: %w", e.RequestID, err)
	}
	_, err := audit.Append(tx, now, audit.Entry{
		Type: "execution.refused", Actor: models.Actor{Type: models.ActorSystem, ID: "executor:" + e.Executor, Display: e.Executor},
		RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
		Payload: map[string]any{"reason": string(RefusedTimedOut), "request_state": string(r.State), "answered": string(e.State), "error": e.Error},
	})
	return err
}
