// Package lifecycle is the request state machine: the one place that says
// which state may follow which. It is pure and needs no database.
package lifecycle

import "github.com/countersign/countersign/models"

// next lists the legal successors of each state. States missing here are
// terminal.
var next = map[models.State][]models.State{
	models.StatePending:  {models.StateApproved, models.StateDenied, models.StateExpired, models.StateCancelled},
	models.StateApproved: {models.StateExecuted, models.StateFailed, models.StateExpired},
}

// Check returns nil when from → to is legal and a *models.TransitionError
// (matching models.ErrIllegalTransition) otherwise, including for unknown
// states and for "moves" that stay in place.
func Check(from, to models.State) error {
	for _, s := range next[from] {
		if s == to {
			return nil
		}
	}
	return &models.TransitionError{From: from, To: to}
}

// Successors returns the states that may follow from, in lifecycle order.
func Successors(from models.State) []models.State {
	out := make([]models.State, len(next[from]))
	copy(out, next[from])
	return out
}
