// Package window keeps change windows: named periods (e.g. "prod") during
// which policy rules may require or allow what they otherwise would not. A
// window is itself a request (kind window, action window.open) decided by
// the policy like any other; when that request reaches approved, a hook
// opens the window in the same transaction. Windows close on time by
// themselves, or earlier by Close.
package window

import (
	"time"
)

// Window is one opening of a change window.
type Window struct {
	ID        int64 `gorm:"primaryKey"`
	Name      string
	RequestID string
	// OpenedBy and OpenedByName are the requester who asked for the window.
	OpenedBy     string
	OpenedByName string
	Purpose      string
	OpenedAt     time.Time
	ClosesAt     time.Time
	// ClosedAt is set when the window was closed before ClosesAt.
	ClosedAt *time.Time
	ClosedBy string
}

// TableName pins the table name.
func (Window) TableName() string { return "windows" }

// OpenAt reports whether the window is open at t.
func (w *Window) OpenAt(t time.Time) bool {
	return w.ClosedAt == nil && !w.OpenedAt.After(t) && w.ClosesAt.After(t)
}
