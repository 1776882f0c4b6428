package models

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every layer wraps them with context; the web layer maps
// them to status codes in exactly one place.
var (
	// ErrNotFound means the thing asked for does not exist (or the caller
	// may not know that it exists).
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change lost a race or no longer applies to the
	// current state (a stale update).
	ErrConflict = errors.New("conflict")
	// ErrForbidden means the actor is known but not allowed to do this.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid means the input is malformed or incomplete.
	ErrInvalid = errors.New("invalid input")
	// ErrIllegalTransition means the state machine refuses the move.
	ErrIllegalTransition = errors.New("illegal state transition")
	// ErrAudit means the audit record could not be written; the change it
	// would have recorded did not happen (fail closed).
	ErrAudit = errors.New("audit log unavailable")
)

// TransitionError describes a refused state change. It matches
// ErrIllegalTransition with errors.Is.
type TransitionError struct {
	From State
	To   State
}

// Error implements error.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("illegal state transition %s → %s", e.From, e.To)
}

// Is lets errors.Is(err, ErrIllegalTransition) match.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// ValidationError names the field that is wrong and why. It matches ErrInvalid.
type ValidationError struct {
	Field  string
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is lets errors.Is(err, ErrInvalid) match.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid is a short constructor for a ValidationError.
func Invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }
