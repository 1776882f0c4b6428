package models

// State is where a request stands in its lifecycle. The legal moves between
// states are defined once, in package lifecycle.
type State string

// The request states.
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateDenied    State = "denied"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
	StateExecuted  State = "executed"
	StateFailed    State = "failed"
)

// AllStates lists every state in lifecycle order.
var AllStates = []State{StatePending, StateApproved, StateDenied, StateExpired, StateCancelled, StateExecuted, StateFailed}

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	for _, k := range AllStates {
		if s == k {
			return true
		}
	}
	return false
}

// Terminal reports whether no further transition can leave s.
func (s State) Terminal() bool {
	switch s {
	case StateDenied, StateExpired, StateCancelled, StateExecuted, StateFailed:
		return true
	}
	return false
}

// Verdict is an approver's answer.
type Verdict string

// The verdicts.
const (
	VerdictApprove Verdict = "approve"
	VerdictDeny    Verdict = "deny"
)

// Valid reports whether v is a known verdict.
func (v Verdict) Valid() bool { return v == VerdictApprove || v == VerdictDeny }

// Kind says what a request asks for.
type Kind string

// The request kinds.
const (
	// KindAction is an operational action from the catalogue.
	KindAction Kind = "action"
	// KindWindow opens a change window.
	KindWindow Kind = "window"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindAction || k == KindWindow }
