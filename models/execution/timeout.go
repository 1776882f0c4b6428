package execution

import (
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/grant"
)

// DefaultResultTimeout is how long a request whose grant was redeemed
// waits for its result when nothing else is configured.
const DefaultResultTimeout = time.Hour

// TimeoutActor is the actor that ends a request whose result never came:
// the sweeper moves approved → failed as this actor, and Hook records the
// execution that says so in the same transaction.
var TimeoutActor = models.SystemActor("result timeout")

// TimedOutBy is the ReportedBy of an execution recorded because no result
// came in time. A result reported later is refused as RefusedTimedOut.
const TimedOutBy = "countersign:result-timeout"

// ErrResultTimedOut: the result came after the result timeout had ended
// the request failed.
var ErrResultTimedOut = fmt.Errorf("no result was reported in time after the grant was redeemed, so the request failed and this result is not recorded: %w", models.ErrConflict)

// RefusedTimedOut is the refusal reason of a result reported after the
// result timeout ended the request.
const RefusedTimedOut RefusalReason = "result_timed_out"

// TimeoutReason is the reason given when a request ends because no result
// was reported within d after its grant was redeemed.
func TimeoutReason(d time.Duration) string {
	return "no result reported within " + ShortDuration(d) + " after the grant was redeemed"
}

// ShortDuration writes d without zero units: 1h, 1h30m, 45m, 90s → 1m30s.
func ShortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// isTimeout reports whether ch is the sweeper ending a request whose
// result never came.
func isTimeout(ch approval.Change) bool {
	return ch.Moved() && ch.From == models.StateApproved && ch.To == models.StateFailed && ch.Actor == TimeoutActor
}

// recordTimeout writes, in the sweeper's transaction, the failed execution
// of a request whose result never came: a webhook execution still queued
// or running is failed (compare-and-swap on its state, so a dispatcher
// finishing at the same moment loses or wins cleanly); an agent's request
// gets a new row (insert-if-absent). When a result is on record already
// the move is vetoed with models.ErrConflict: the result won the race.
func recordTimeout(tx *gorm.DB, ch approval.Change) error {
	r := ch.Request
	msg := clipErr(ch.Reason)
	now := ch.At
	upd := tx.Model(&Execution{}).Where("request_id = ? AND state IN ?", r.ID, []State{StateQueued, StateRunning}).
		Updates(map[string]any{"state": StateFailed, "error": msg, "lease_until": nil, "finished_at": now, "updated_at": now, "reported_by": TimedOutBy})
	if upd.Error != nil {
		return fmt.Errorf("execution: time out %s: %w", r.ID, upd.Error)
	}
	var e Execution
	if upd.RowsAffected == 0 {
		var g grant.Grant
		if err := tx.Take(&g, "request_id = ?", r.ID).Error; err != nil {
			return fmt.Errorf("execution: grant of %s: %w", r.ID, err)
		}
		mode := ModeAgent
		if r.RequesterType != models.ActorAgent {
			mode = ModeWebhook
		}
		e = Execution{
			RequestID: r.ID, Executor: g.Audience, Mode: mode, State: StateFailed, NextAttemptAt: now,
			Error: msg, ReportedBy: TimedOutBy, CreatedAt: now, UpdatedAt: now, FinishedAt: &now,
		}
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&e)
		if ins.Error != nil {
			return fmt.Errorf("execution: record time-out of %s: %w", r.ID, ins.Error)
		}
		if ins.RowsAffected == 0 {
			return fmt.Errorf("execution: the result of %s came in first: %w", r.ID, models.ErrConflict)
		}
	} else if err := tx.Take(&e, "request_id = ?", r.ID).Error; err != nil {
		return fmt.Errorf("execution: load %s: %w", r.ID, err)
	}
	return auditResult(tx, r, &e, TimeoutActor, now)
}
