package approval_test

import (
	"context"
	"errors"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/storetest"
)

// TestCancelOnlyByRequesterOrSponsor: a person's request is withdrawn by
// that person, an agent's by its sponsor (never by the agent or anyone
// else); only while pending; audited as the one who cancelled.
func TestCancelOnlyByRequesterOrSponsor(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{})
		ctx := context.Background()
		human := create(t, svc, humanRequest()) // requester mm-carol
		bot := create(t, svc, newRequest())     // agent b-deploy, sponsor u-dave
		for _, tc := range []struct {
			id, user string
		}{{human.ID, "u-alice"}, {human.ID, ""}, {bot.ID, "b-deploy"}, {bot.ID, "mm-carol"}} {
			if _, err := svc.Cancel(ctx, tc.id, tc.user, "x"); !errors.Is(err, approval.ErrNotYours) || !errors.Is(err, models.ErrForbidden) {
				t.Errorf("%s by %q: %v, want ErrNotYours", tc.id, tc.user, err)
			}
		}
		if _, err := svc.Cancel(ctx, "REQ-NOPE", "mm-carol", "x"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("unknown request: %v", err)
		}
		got, err := svc.Cancel(ctx, bot.ID, "u-dave", "withdrawn by the sponsor")
		if err != nil || got.State != models.StateCancelled {
			t.Fatalf("sponsor cancel: %v %v", got, err)
		}
		if _, err := svc.Cancel(ctx, human.ID, "mm-carol", "mine"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Cancel(ctx, human.ID, "mm-carol", "again"); !errors.Is(err, approval.ErrNotPending) {
			t.Errorf("second cancel: %v, want ErrNotPending", err)
		}
		evs := audittest.Events(t, s)
		last := evs[len(evs)-1]
		if len(evs) != 4 || last.Type != "request.cancelled" || last.ActorID != "mm-carol" || evs[2].ActorID != "u-dave" || evs[2].ActorType != models.ActorHuman {
			t.Fatalf("audit: %d events, last %s by %s", len(evs), last.Type, last.ActorID)
		}
	})
}
