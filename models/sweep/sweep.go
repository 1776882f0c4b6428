// Package sweep is the worker that keeps time for requests: it expires
// pending requests past their deadline and approved requests whose grant
// ran out unused, fails approved requests whose grant was redeemed but
// whose result never came within the result timeout, reminds approvers
// at the policy's offsets and escalates to further roles. Every step is a
// compare-and-swap, so several replicas may sweep at once without
// reminding, expiring or failing anything twice.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/terms"
)

// Notifier tells people about a request that waits for them. It runs
// inside the transaction that records the reminder, so what it writes (an
// outbox row) commits with it; it must not call out over the network.
// escalated is true when roles are the escalation roles.
type Notifier interface {
	Remind(tx *gorm.DB, r *models.Request, roles []string, escalated bool) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(tx *gorm.DB, r *models.Request, roles []string, escalated bool) error

// Remind calls f.
func (f NotifierFunc) Remind(tx *gorm.DB, r *models.Request, roles []string, escalated bool) error {
	return f(tx, r, roles, escalated)
}

// Config configures a Sweeper.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Notifier receives reminders and escalations; nil records them in the
	// audit log only.
	Notifier Notifier
	// ResultTimeout is how long an approved request whose grant was
	// redeemed waits for its result before it ends failed; zero means
	// execution.DefaultResultTimeout (1h).
	ResultTimeout time.Duration
	// Batch bounds the rows handled per step and run; zero means 100.
	Batch  int
	Logger *slog.Logger
}

// Sweeper is the worker.
type Sweeper struct {
	store     *models.Store
	approvals *approval.Service
	grants    *grant.Service
	cfg       Config
}

// New returns a Sweeper.
func New(store *models.Store, approvals *approval.Service, grants *grant.Service, cfg Config) *Sweeper {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{store: store, approvals: approvals, grants: grants, cfg: cfg}
}

// Report counts what one run did.
type Report struct {
	ExpiredRequests int
	ExpiredGrants   int
	Reminders       int
	Escalations     int
	// UnreportedResults counts requests ended failed because no result
	// came within the result timeout after their grant was redeemed.
	UnreportedResults int
}

// Run sweeps every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce performs every due step once.
func (s *Sweeper) RunOnce(ctx context.Context) (Report, error) {
	var rep Report
	now := s.cfg.Now().UTC()
	var err error
	if rep.ExpiredRequests, err = s.expirePending(ctx, now); err != nil {
		return rep, err
	}
	if rep.ExpiredGrants, err = s.expireGrants(ctx, now); err != nil {
		return rep, err
	}
	if rep.UnreportedResults, err = s.failUnreported(ctx, now); err != nil {
		return rep, err
	}
	if rep.Reminders, rep.Escalations, err = s.followUp(ctx, now); err != nil {
		return rep, err
	}
	return rep, nil
}

var expiry = models.SystemActor("expiry")

// move performs a system transition, treating a lost race as done.
func (s *Sweeper) move(ctx context.Context, id string, from, to models.State, reason string) (bool, error) {
	_, err := s.approvals.Move(ctx, approval.Transition{ID: id, From: from, To: to, Actor: expiry, Reason: reason})
	switch {
	case err == nil:
		return true, nil
	case isConflict(err):
		return false, nil
	default:
		return false, fmt.Errorf("sweep: %s → %s: %w", id, to, err)
	}
}

// isConflict reports a lost compare-and-swap.
func isConflict(err error) bool { return errors.Is(err, models.ErrConflict) }

// expirePending ends pending requests whose time ran out.
func (s *Sweeper) expirePending(ctx context.Context, now time.Time) (int, error) {
	var ids []string
	if err := s.store.DB(ctx).Model(&models.Request{}).Where("state = ? AND expires_at <= ?", models.StatePending, now).
		Order("expires_at").Limit(s.cfg.Batch).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("sweep: expired requests: %w", err)
	}
	n := 0
	for _, id := range ids {
		ok, err := s.move(ctx, id, models.StatePending, models.StateExpired, "no decision before the deadline")
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// expireGrants ends approved requests whose grant expired unused; the
// grant hook marks the grant expired in the same transaction (and vetoes
// the move if it was redeemed meanwhile).
func (s *Sweeper) expireGrants(ctx context.Context, now time.Time) (int, error) {
	ids, err := s.grants.Overdue(ctx, now, s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		ok, err := s.move(ctx, id, models.StateApproved, models.StateExpired, "the grant expired unused")
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// followUp sends due reminders and escalations of pending requests.
func (s *Sweeper) followUp(ctx context.Context, now time.Time) (int, int, error) {
	var rows []terms.Row
	err := s.store.DB(ctx).Model(&terms.Row{}).
		Joins("JOIN requests ON requests.id = request_terms.request_id").
		Where("requests.state = ? AND requests.expires_at > ? AND (request_terms.remind_ms <> '[]' OR (request_terms.escalate_after_ms > 0 AND request_terms.escalated_at IS NULL))", models.StatePending, now).
		Order("requests.created_at").Limit(s.cfg.Batch).Find(&rows).Error
	if err != nil {
		return 0, 0, fmt.Errorf("sweep: follow-ups: %w", err)
	}
	reminders, escalations := 0, 0
	for i := range rows {
		rem, esc, err := s.followUpOne(ctx, &rows[i], now)
		if err != nil {
			return reminders, escalations, err
		}
		reminders += rem
		escalations += esc
	}
	return reminders, escalations, nil
}

// followUpOne handles one request in one transaction: the reminder
// counter and escalation time are compare-and-swapped, so a reminder is
// sent once even with several sweepers.
func (s *Sweeper) followUpOne(ctx context.Context, row *terms.Row, now time.Time) (int, int, error) {
	t, err := row.Terms()
	if err != nil {
		return 0, 0, err
	}
	rem, esc := 0, 0
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		rem, esc = 0, 0
		var r models.Request
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ? AND state = ?", row.RequestID, models.StatePending).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil
			}
			return fmt.Errorf("load request %s: %w", row.RequestID, err)
		}
		due := row.RemindersSent
		for due < len(t.Remind) && !r.CreatedAt.Add(t.Remind[due]).After(now) {
			due++
		}
		if due > row.RemindersSent {
			res := tx.Model(&terms.Row{}).Where("request_id = ? AND reminders_sent = ?", r.ID, row.RemindersSent).Update("reminders_sent", due)
			if res.Error != nil {
				return fmt.Errorf("count reminder of %s: %w", r.ID, res.Error)
			}
			if res.RowsAffected == 1 {
				if err := s.notify(tx, &r, t.Roles, false, now, map[string]any{"reminder": due, "of": len(t.Remind)}); err != nil {
					return err
				}
				rem = 1
			}
		}
		if t.EscalateAfter > 0 && row.EscalatedAt == nil && len(t.EscalateTo) > 0 && !r.CreatedAt.Add(t.EscalateAfter).After(now) {
			res := tx.Model(&terms.Row{}).Where("request_id = ? AND escalated_at IS NULL", r.ID).Update("escalated_at", now)
			if res.Error != nil {
				return fmt.Errorf("escalate %s: %w", r.ID, res.Error)
			}
			if res.RowsAffected == 1 {
				if err := s.notify(tx, &r, t.EscalateTo, true, now, map[string]any{"escalate_to": t.EscalateTo}); err != nil {
					return err
				}
				esc = 1
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sweep: follow up %s: %w", row.RequestID, err)
	}
	return rem, esc, nil
}

// notify audits the reminder or escalation and hands it to the notifier,
// in tx.
func (s *Sweeper) notify(tx *gorm.DB, r *models.Request, roles []string, escalated bool, now time.Time, payload map[string]any) error {
	typ := "request.reminded"
	if escalated {
		typ = "request.escalated"
	}
	payload["roles"] = roles
	if _, err := audit.Append(tx, now, audit.Entry{
		Type: typ, Actor: models.SystemActor("follow-up"), RequestID: r.ID, Purpose: r.Purpose,
		Action: r.Action, PolicyRef: r.PolicyRef, Payload: payload,
	}); err != nil {
		return err
	}
	if s.cfg.Notifier == nil {
		return nil
	}
	return s.cfg.Notifier.Remind(tx, r, roles, escalated)
}
