// Package terms keeps what the policy decided about a request that matters
// after it was opened: which executor runs it, how long its grant lives,
// when approvers are reminded and to whom it escalates. The terms are
// frozen when the request is created, so a policy reload never changes
// requests already in flight.
package terms

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// DefaultGrantTTL is a grant's lifetime when the policy names none.
const DefaultGrantTTL = 5 * time.Minute

// Terms are the parts of a policy outcome (and of the action catalogue)
// that grants, executors, reminders and escalation need.
type Terms struct {
	// Executor names the executor that runs the action (the grant's
	// audience).
	Executor string
	// GrantTTL is the grant's lifetime; zero means DefaultGrantTTL.
	GrantTTL time.Duration
	// Roles are the roles asked to approve (reminders go to them).
	Roles []string
	// Remind lists offsets from the request's creation at which pending
	// approvers are reminded.
	Remind []time.Duration
	// EscalateTo are roles that may also approve, and are told, once
	// EscalateAfter has passed without a final decision.
	EscalateTo    []string
	EscalateAfter time.Duration
}

// Source gives the terms of a request being created. It runs inside the
// creating transaction and must not call out over the network.
type Source func(r *models.Request) Terms

// Row is the stored form of a request's terms and its follow-up progress.
type Row struct {
	RequestID       string `gorm:"primaryKey"`
	Executor        string
	GrantTTLMS      int64  `gorm:"column:grant_ttl_ms"`
	Roles           string // JSON list
	RemindMS        string `gorm:"column:remind_ms"` // JSON list of milliseconds
	EscalateTo      string // JSON list
	EscalateAfterMS int64  `gorm:"column:escalate_after_ms"`
	RemindersSent   int
	EscalatedAt     *time.Time
}

// TableName pins the table name.
func (Row) TableName() string { return "request_terms" }

// Terms decodes the row.
func (r *Row) Terms() (Terms, error) {
	t := Terms{Executor: r.Executor, GrantTTL: time.Duration(r.GrantTTLMS) * time.Millisecond, EscalateAfter: time.Duration(r.EscalateAfterMS) * time.Millisecond}
	var ms []int64
	for _, f := range []struct {
		src string
		dst any
	}{{r.Roles, &t.Roles}, {r.RemindMS, &ms}, {r.EscalateTo, &t.EscalateTo}} {
		if f.src == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return t, fmt.Errorf("terms: decode %s: %w", r.RequestID, err)
		}
	}
	for _, m := range ms {
		t.Remind = append(t.Remind, time.Duration(m)*time.Millisecond)
	}
	return t, nil
}

// GrantLifetime is the grant's lifetime, the default when unset.
func (t Terms) GrantLifetime() time.Duration {
	if t.GrantTTL <= 0 {
		return DefaultGrantTTL
	}
	return t.GrantTTL
}

func list(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Record stores t for request id in tx. Negative durations are refused.
func Record(tx *gorm.DB, id string, t Terms) error {
	if t.GrantTTL < 0 || t.EscalateAfter < 0 {
		return models.Invalid("terms", "durations must not be negative")
	}
	ms := make([]int64, 0, len(t.Remind))
	for _, d := range t.Remind {
		if d <= 0 {
			return models.Invalid("terms.remind", "offsets must be positive")
		}
		ms = append(ms, d.Milliseconds())
	}
	rb, _ := json.Marshal(ms)
	row := Row{
		RequestID: id, Executor: t.Executor, GrantTTLMS: t.GrantTTL.Milliseconds(), Roles: list(t.Roles),
		RemindMS: string(rb), EscalateTo: list(t.EscalateTo), EscalateAfterMS: t.EscalateAfter.Milliseconds(),
	}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("terms: record %s: %w", id, err)
	}
	return nil
}

// Load returns the stored terms of request id; found is false when none
// were recorded (requests opened before terms existed, or without a hook).
func Load(db *gorm.DB, id string) (Terms, bool, error) {
	var row Row
	err := db.Take(&row, "request_id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Terms{}, false, nil
	}
	if err != nil {
		return Terms{}, false, fmt.Errorf("terms: load %s: %w", id, err)
	}
	t, err := row.Terms()
	return t, err == nil, err
}

// Hook records the terms of every request as it is created, in the
// creating transaction. src nil records empty terms (defaults).
func Hook(src Source) approval.Hook {
	return approval.HookFunc(func(tx *gorm.DB, ch approval.Change) error {
		if ch.Kind != approval.ChangeCreated {
			return nil
		}
		var t Terms
		if src != nil {
			t = src(ch.Request)
		}
		return Record(tx, ch.Request.ID, t)
	})
}
