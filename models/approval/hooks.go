package approval

import (
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// ChangeKind says what happened to a request.
type ChangeKind string

// The change kinds.
const (
	// ChangeCreated: the request was opened.
	ChangeCreated ChangeKind = "created"
	// ChangeDecided: a decision was recorded (the request may also have
	// moved; see Change.From and To).
	ChangeDecided ChangeKind = "decided"
	// ChangeMoved: the request moved state without a decision (cancel,
	// expiry, execution result).
	ChangeMoved ChangeKind = "moved"
)

// Change describes one committed-together change to a request. Hooks see it
// inside the transaction that makes it.
type Change struct {
	Kind    ChangeKind
	Request *models.Request
	// From and To are the states before and after; equal when the request
	// did not move.
	From, To models.State
	// Decision is set for ChangeDecided.
	Decision *models.Decision
	Actor    models.Actor
	Reason   string
	At       time.Time
}

// Moved reports whether the change moved the request to another state.
func (c Change) Moved() bool { return c.From != c.To }

// Hook reacts to a change inside its transaction, so that what it writes
// (an outbox message, a grant) commits or rolls back with the change and
// its audit event. A hook's error rolls the whole change back. Hooks must
// not call out over the network: that happens after commit, from what they
// wrote.
type Hook interface {
	RequestChanged(tx *gorm.DB, ch Change) error
}

// HookFunc adapts a function to Hook.
type HookFunc func(tx *gorm.DB, ch Change) error

// RequestChanged calls f.
func (f HookFunc) RequestChanged(tx *gorm.DB, ch Change) error { return f(tx, ch) }

// runHooks calls every configured hook in order and stops at the first error.
func (s *Service) runHooks(tx *gorm.DB, ch Change) error {
	for _, h := range s.cfg.Hooks {
		if err := h.RequestChanged(tx, ch); err != nil {
			return err
		}
	}
	return nil
}
