package lifecycle

import (
	"errors"
	"testing"

	"github.com/countersign/countersign/models"
)

func TestCheckEveryPair(t *testing.T) {
	legal := map[[2]models.State]bool{
		{models.StatePending, models.StateApproved}:  true,
		{models.StatePending, models.StateDenied}:    true,
		{models.StatePending, models.StateExpired}:   true,
		{models.StatePending, models.StateCancelled}: true,
		{models.StateApproved, models.StateExecuted}: true,
		{models.StateApproved, models.StateFailed}:   true,
		{models.StateApproved, models.StateExpired}:  true,
	}
	states := append([]models.State{"", "bogus"}, models.AllStates...)
	for _, from := range states {
		for _, to := range states {
			err := Check(from, to)
			want := legal[[2]models.State{from, to}]
			if want && err != nil {
				t.Errorf("%q → %q: want legal, got %v", from, to, err)
			}
			if !want {
				if err == nil {
					t.Errorf("%q → %q: want refused, got nil", from, to)
					continue
				}
				if !errors.Is(err, models.ErrIllegalTransition) {
					t.Errorf("%q → %q: error %v does not match ErrIllegalTransition", from, to, err)
				}
				var te *models.TransitionError
				if !errors.As(err, &te) || te.From != from || te.To != to {
					t.Errorf("%q → %q: want *TransitionError naming both states, got %#v", from, to, err)
				}
			}
		}
	}
}

func TestTerminalStatesHaveNoSuccessors(t *testing.T) {
	for _, s := range models.AllStates {
		if got := len(Successors(s)); s.Terminal() != (got == 0) {
			t.Errorf("%s: Terminal()=%v but %d successors", s, s.Terminal(), got)
		}
	}
}

func TestSuccessorsIsACopy(t *testing.T) {
	got := Successors(models.StatePending)
	got[0] = models.StateExecuted
	if err := Check(models.StatePending, models.StateExecuted); err == nil {
		t.Fatal("mutating the result of Successors changed the state machine")
	}
}
