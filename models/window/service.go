package window

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/policy"
)

// Submitter opens requests under policy; *approval.Service is one.
type Submitter interface {
	Submit(ctx context.Context, in approval.NewRequest, roles []string) (*approval.Submitted, error)
}

// Service opens, lists and closes change windows.
type Service struct {
	store *models.Store
	now   func() time.Time
}

// New returns a Service on store; now is the clock (nil means time.Now).
func New(store *models.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// OpenRequest builds the request that asks to open window name for
// duration (Go syntax, e.g. "2h"), for Submit. The policy checks the name
// and the duration when it is submitted.
func OpenRequest(name, duration, purpose string, requester models.Actor, src models.Source) approval.NewRequest {
	return approval.NewRequest{
		Kind: models.KindWindow, Action: policy.ActionWindowOpen,
		Params:  map[string]any{"window": name, "duration": duration},
		Purpose: purpose, Requester: requester, Source: src,
	}
}

// RequestOpen submits a request to open window name for duration under
// the policy (via sub, normally the approval service) with the
// requester's policy roles. Depending on the matching rule the window
// request is denied, approved at once (and the window opens in the same
// transaction, see Hook) or waits for approvers. This is what the chat
// command "/countersign window open NAME DURATION -- purpose" calls.
func RequestOpen(ctx context.Context, sub Submitter, name, duration, purpose string, requester models.Actor, src models.Source, roles []string) (*approval.Submitted, error) {
	return sub.Submit(ctx, OpenRequest(name, duration, purpose, requester, src), roles)
}

// OpenWindowNames returns the names of the windows open at at, sorted
// (approval.WindowSource).
func (s *Service) OpenWindowNames(ctx context.Context, at time.Time) ([]string, error) {
	ws, err := s.openAt(s.store.DB(ctx), at)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, w := range ws {
		if !slices.Contains(out, w.Name) {
			out = append(out, w.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Open returns the windows open now, soonest to close first.
func (s *Service) Open(ctx context.Context) ([]Window, error) {
	return s.openAt(s.store.DB(ctx), s.clock())
}

func (s *Service) openAt(db *gorm.DB, at time.Time) ([]Window, error) {
	var ws []Window
	err := db.Where("closed_at IS NULL AND opened_at <= ? AND closes_at > ?", at.UTC(), at.UTC()).
		Order("closes_at, id").Find(&ws).Error
	if err != nil {
		return nil, fmt.Errorf("window: list open: %w", err)
	}
	return ws, nil
}

// ErrNotOpen: Close was asked for a window that is not open.
var ErrNotOpen = fmt.Errorf("the change window is not open: %w", models.ErrNotFound)

// Close ends every open window named name now, before its time, and
// records "window.closed" for each in the same transaction.
func (s *Service) Close(ctx context.Context, name string, actor models.Actor) ([]Window, error) {
	if err := actor.Validate("actor"); err != nil {
		return nil, err
	}
	var closed []Window
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		closed = nil
		now := s.clock()
		ws, err := s.openAt(tx.Where("name = ?", name), now)
		if err != nil {
			return err
		}
		if len(ws) == 0 {
			return fmt.Errorf("window %s: %w", name, ErrNotOpen)
		}
		for i := range ws {
			w := &ws[i]
			res := tx.Model(&Window{}).Where("id = ? AND closed_at IS NULL", w.ID).
				Updates(map[string]any{"closed_at": now, "closed_by": actor.ID})
			if res.Error != nil {
				return fmt.Errorf("close window %s: %w", name, res.Error)
			}
			if res.RowsAffected != 1 {
				return fmt.Errorf("window %s changed meanwhile: %w", name, models.ErrConflict)
			}
			w.ClosedAt, w.ClosedBy = &now, actor.ID
			if _, err := audit.Append(tx, now, audit.Entry{
				Type: "window.closed", Actor: actor, RequestID: w.RequestID, Purpose: w.Purpose, Action: policy.ActionWindowOpen,
				Payload: map[string]any{"window": w.Name, "opened_at": w.OpenedAt.Format(time.RFC3339), "closes_at": w.ClosesAt.Format(time.RFC3339), "early": true},
			}); err != nil {
				return err
			}
			closed = append(closed, *w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("window: close %s: %w", name, err)
	}
	return closed, nil
}

// Hook opens the window of a window request when it reaches approved, in
// the transaction that approves it (approval.Effects.Window).
func (s *Service) Hook() approval.Hook {
	return approval.HookFunc(func(tx *gorm.DB, ch approval.Change) error {
		r := ch.Request
		if r.Kind != models.KindWindow || ch.To != models.StateApproved || ch.From == models.StateApproved {
			return nil
		}
		var params struct {
			Window   string `json:"window"`
			Duration string `json:"duration"`
		}
		if err := json.Unmarshal([]byte(r.Params), &params); err != nil {
			return fmt.Errorf("window: request %s params: %w", r.ID, err)
		}
		d, err := time.ParseDuration(params.Duration)
		if err != nil || d <= 0 || params.Window == "" {
			return models.Invalid("params", fmt.Sprintf("window request %s has no valid window and duration", r.ID))
		}
		at := ch.At.UTC()
		w := &Window{
			Name: params.Window, RequestID: r.ID, OpenedBy: r.RequesterID, OpenedByName: r.RequesterName,
			Purpose: r.Purpose, OpenedAt: at, ClosesAt: at.Add(d),
		}
		if err := tx.Create(w).Error; err != nil {
			return fmt.Errorf("window: open %s: %w", w.Name, err)
		}
		_, err = audit.Append(tx, at, audit.Entry{
			Type: "window.opened", Actor: ch.Actor, RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
			Payload: map[string]any{"window": w.Name, "duration": params.Duration, "opened_at": at.Format(time.RFC3339), "closes_at": w.ClosesAt.Format(time.RFC3339), "opened_by": r.RequesterID},
		})
		return err
	})
}
