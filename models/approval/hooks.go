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
	// Voided are, for ChangeContentChanged, the approvals of the old
	// content that stopped counting (their approvers are told).
	Voided []models.Decision
	Actor  models.Actor
	Reason string
	At     time.Time
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

// Effects are what a change to a request sets off inside its transaction,
// after its audit event. They run in the order of the fields below, always,
// each relying only on what the ones before it wrote; a nil field is
// skipped. An error from any of them rolls the whole change back.
type Effects struct {
	// Idempotency records an agent's Idempotency-Key with the request it
	// created (agents.IdempotencyHook). First: a key taken meanwhile fails
	// the creation before anything else is written.
	Idempotency Hook
	// Terms freezes a created request's grant lifetime, executor and
	// reminder schedule (terms.Hook).
	Terms Hook
	// Window opens the change window a window request asked for, once it
	// is approved (window.Service.Hook).
	Window Hook
	// Grant mints the single-use execution grant when a request is
	// approved, and expires it with the request (grant.Service.Hook). It
	// reads the executor and lifetime Terms froze.
	Grant Hook
	// Execution queues the executor's call for an approved person's
	// request, and records the failure of one whose result never came
	// (execution.Hook). It reads the grant Grant minted.
	Execution Hook
	// Chat queues the chat messages that show the change (outbox.Hook).
	// Last, so that what it renders is the request as everything above
	// left it.
	Chat Hook
}

// ordered lists the effects in the order they run.
func (e Effects) ordered() []Hook {
	var out []Hook
	for _, h := range []Hook{e.Idempotency, e.Terms, e.Window, e.Grant, e.Execution, e.Chat} {
		if h != nil {
			out = append(out, h)
		}
	}
	return out
}

// runHooks runs the configured effects in their order and stops at the
// first error.
func (s *Service) runHooks(tx *gorm.DB, ch Change) error {
	for _, h := range s.effects {
		if err := h.RequestChanged(tx, ch); err != nil {
			return err
		}
	}
	return nil
}
