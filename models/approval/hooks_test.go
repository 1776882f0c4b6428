package approval_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/storetest"
)

// TestHooksSeeEveryChangeAndTheirErrorsRollBack checks that hooks run for
// create, move and decide with the right states, and that a failing hook
// undoes the change together with its audit event.
func TestHooksSeeEveryChangeAndTheirErrorsRollBack(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		var seen []approval.Change
		fail := false
		hook := approval.HookFunc(func(tx *gorm.DB, ch approval.Change) error {
			if fail {
				return errors.New("hook refused")
			}
			seen = append(seen, ch)
			return nil
		})
		svc := approval.New(s, approval.Config{Effects: approval.Effects{Chat: hook}, StepUp: lenientStepUp(approval.StepUpRule{})})
		ctx := context.Background()
		in := humanRequest()
		in.RequiredApprovals = 1
		req, err := svc.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decide(svc, req, aliceA, models.VerdictApprove, ""); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2 || seen[0].Kind != approval.ChangeCreated || seen[0].To != models.StatePending ||
			seen[1].Kind != approval.ChangeDecided || seen[1].From != models.StatePending || seen[1].To != models.StateApproved || seen[1].Decision == nil {
			t.Fatalf("hooks saw %+v", seen)
		}
		before := len(audittest.Events(t, s))
		fail = true
		_, err = svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StateApproved, To: models.StateExecuted, Actor: models.SystemActor("test")})
		if err == nil {
			t.Fatal("a failing hook must fail the move")
		}
		got, _ := svc.Get(ctx, req.ID)
		if got.State != models.StateApproved || len(audittest.Events(t, s)) != before {
			t.Fatalf("failed hook left the move behind: %s, %d events (want %d)", got.State, len(audittest.Events(t, s)), before)
		}
		if _, err := svc.Create(ctx, humanRequest()); err == nil {
			t.Fatal("a failing hook must fail the create")
		}
		var n int64
		s.DB(ctx).Model(&models.Request{}).Count(&n)
		if n != 1 {
			t.Fatalf("failed create left %d requests", n)
		}
	})
}

// TestEffectsRunInTheirOrder: whatever the wiring, the effects of a change
// run idempotency, terms, window, grant, execution, chat — the order
// approval.Effects documents and the effects rely on (a grant reads the
// terms, an execution the grant, chat the final state).
func TestEffectsRunInTheirOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		var got []string
		rec := func(name string) approval.Hook {
			return approval.HookFunc(func(tx *gorm.DB, ch approval.Change) error {
				got = append(got, name)
				return nil
			})
		}
		// Declared out of order on purpose: the field, not the wiring,
		// decides when an effect runs.
		fx := approval.Effects{
			Chat: rec("chat"), Grant: rec("grant"), Idempotency: rec("idempotency"),
			Execution: rec("execution"), Window: rec("window"), Terms: rec("terms"),
		}
		svc := approval.New(b.Open(t), approval.Config{Effects: fx})
		if _, err := svc.Create(context.Background(), newRequest()); err != nil {
			t.Fatal(err)
		}
		want := []string{"idempotency", "terms", "window", "grant", "execution", "chat"}
		if !slices.Equal(got, want) {
			t.Fatalf("effects ran %v, want %v", got, want)
		}
	})
}
