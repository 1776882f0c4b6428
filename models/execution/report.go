package execution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/models/grant"
)

// ErrNotRedeemed: an agent reported a result without having redeemed the
// grant, so it had no authority to act.
var ErrNotRedeemed = fmt.Errorf("the grant was not redeemed, so nothing may have run: %w", models.ErrConflict)

// ErrAlreadyReported: the request's result is on record already.
var ErrAlreadyReported = fmt.Errorf("the result was already reported: %w", models.ErrConflict)

// ErrNotRequester: only the agent that made a request reports its result.
var ErrNotRequester = fmt.Errorf("only the requesting agent reports this result: %w", models.ErrForbidden)

// RefusalReason says why a reported result was refused. The values are
// stable: they are the "reason" of "execution.refused" audit events.
type RefusalReason string

// The reasons a report is refused.
const (
	RefusedNotRequester    RefusalReason = "not_requester"
	RefusedNotApproved     RefusalReason = "request_not_approved"
	RefusedNotRedeemed     RefusalReason = "not_redeemed"
	RefusedAlreadyReported RefusalReason = "already_reported"
)

// reportRefusal is a refusal that is audited once the transaction that
// found it has been rolled back.
type reportRefusal struct {
	reason  RefusalReason
	request *models.Request
	err     error
}

func (r *reportRefusal) Error() string { return r.err.Error() }
func (r *reportRefusal) Unwrap() error { return r.err }

// RecordResult records the result an agent reports for its own approved
// request, whose grant it redeemed, and ends the request executed or
// failed. Only the requesting agent may report (models.ErrForbidden), only
// after redeeming (ErrNotRedeemed), only once (ErrAlreadyReported) and
// only before the result timeout ended the request (ErrResultTimedOut);
// each such refusal is audited "execution.refused" with its reason, in a
// transaction of its own. Bad input (models.ErrInvalid) and unknown
// requests (models.ErrNotFound) change nothing and are not audited.
func (s *Service) RecordResult(ctx context.Context, requestID string, res Result, actor models.Actor) (*Execution, error) {
	now := s.clock()
	out, msg, err := res.normalize()
	if err != nil {
		return nil, err
	}
	if err := res.checkReport(now); err != nil {
		return nil, err
	}
	if err := actor.Validate("actor"); err != nil {
		return nil, err
	}
	var e Execution
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		var r models.Request
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", requestID).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("request %s: %w", requestID, models.ErrNotFound)
			}
			return fmt.Errorf("load request %s: %w", requestID, err)
		}
		refuse := func(reason RefusalReason, err error) error {
			return &reportRefusal{reason: reason, request: &r, err: err}
		}
		if actor.Type != models.ActorAgent || !r.RequestedBy(actor) {
			return refuse(RefusedNotRequester, ErrNotRequester)
		}
		var prev []Execution
		if err := tx.Where("request_id = ?", r.ID).Limit(1).Find(&prev).Error; err != nil {
			return fmt.Errorf("look up execution of %s: %w", r.ID, err)
		}
		if len(prev) > 0 {
			if prev[0].ReportedBy == TimedOutBy {
				return refuse(RefusedTimedOut, ErrResultTimedOut)
			}
			return refuse(RefusedAlreadyReported, ErrAlreadyReported)
		}
		if r.State != models.StateApproved {
			return refuse(RefusedNotApproved, fmt.Errorf("request %s is %s: %w", r.ID, r.State, models.ErrConflict))
		}
		var g grant.Grant
		if err := tx.Take(&g, "request_id = ?", r.ID).Error; err != nil || g.RedeemedAt == nil {
			return refuse(RefusedNotRedeemed, ErrNotRedeemed)
		}
		started, ended := res.StartedAt.UTC(), res.EndedAt.UTC()
		mode := ModeAgent
		if res.Mode == ModeGateway {
			mode = ModeGateway
		}
		e = Execution{
			RequestID: r.ID, Executor: g.Audience, Mode: mode, State: stateOf(res.Succeeded), Attempts: 1,
			NextAttemptAt: now, Output: out, OutputDigest: res.OutputDigest, Error: msg, ReportedBy: actor.ID,
			StartedAt: &started, EndedAt: &ended, CreatedAt: now, UpdatedAt: now, FinishedAt: &now,
		}
		if err := tx.Create(&e).Error; err != nil {
			// Another replica recorded it between the count and here.
			return refuse(RefusedAlreadyReported, ErrAlreadyReported)
		}
		return auditResult(tx, &r, &e, actor, now)
	})
	var rr *reportRefusal
	if errors.As(err, &rr) {
		if rr.reason == RefusedAlreadyReported {
			// A concurrent insert beat ours (the transaction is gone, so
			// look again): it may be the result timeout's, which a late
			// report must hear about in its own words.
			if prev, gerr := s.Get(ctx, requestID); gerr == nil && prev.ReportedBy == TimedOutBy {
				rr.reason, rr.err = RefusedTimedOut, ErrResultTimedOut
			}
		}
		return nil, s.refuseReport(ctx, now, rr, actor)
	}
	if err != nil {
		return nil, fmt.Errorf("execution: record result: %w", err)
	}
	if err := s.conclude(ctx, &e); err != nil {
		return &e, err
	}
	return &e, nil
}

// refuseReport audits a refused report and returns its error.
func (s *Service) refuseReport(ctx context.Context, now time.Time, rr *reportRefusal, actor models.Actor) error {
	r := rr.request
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		_, err := audit.Append(tx, now, audit.Entry{
			Type: "execution.refused", Actor: actor, RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
			Payload: map[string]any{"reason": string(rr.reason), "request_state": string(r.State)},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("execution: record result: %w (the refusal could not be audited: %v)", rr.err, err)
	}
	return fmt.Errorf("execution: record result: %w", rr.err)
}

// auditResult appends "execution.succeeded" or "execution.failed".
func auditResult(tx *gorm.DB, r *models.Request, e *Execution, actor models.Actor, now time.Time) error {
	payload := map[string]any{
		"executor": e.Executor, "mode": e.Mode, "attempts": e.Attempts, "error": e.Error,
		"output_sha256": contenthash.Sum([]byte(e.Output)),
	}
	if e.OutputDigest != "" {
		payload["output_digest"] = e.OutputDigest
	}
	if e.StartedAt != nil && e.EndedAt != nil {
		payload["started_at"] = contenthash.TimeString(*e.StartedAt)
		payload["ended_at"] = contenthash.TimeString(*e.EndedAt)
	}
	_, err := audit.Append(tx, now, audit.Entry{
		Type: "execution." + string(e.State), Actor: actor, RequestID: r.ID, Purpose: r.Purpose,
		Action: r.Action, PolicyRef: r.PolicyRef, Payload: payload,
	})
	return err
}
