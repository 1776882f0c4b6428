package notify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/storetest"
)

// The worker's loader gives what the approval service gives, minus the
// captured conversation and tool chain (which no message shows), with the
// decisions in order; an unknown id is models.ErrNotFound.
func TestQueueLoaderHasWhatMessagesNeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		r := e.create(t, "restart", 3)
		e.decide(t, r.ID, "bob", models.VerdictApprove)
		e.decide(t, r.ID, "alice", models.VerdictApprove)
		want, err := e.svc.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.queue.Requests().Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Posts) == 0 || len(got.Posts) != 0 {
			t.Fatalf("posts: service %d, loader %d (want the loader to leave them out)", len(want.Posts), len(got.Posts))
		}
		if got.State != want.State || got.ContentHash != want.ContentHash || got.RequesterID != want.RequesterID || got.Purpose != want.Purpose || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("loader %+v\nservice %+v", got, want)
		}
		if len(got.Decisions) != 2 || got.Decisions[0].ID != want.Decisions[0].ID || got.Decisions[1].ID != want.Decisions[1].ID || got.Decisions[0].ID > got.Decisions[1].ID {
			t.Fatalf("decisions %+v, want %+v in order", got.Decisions, want.Decisions)
		}
		e.fake.ResetRequests()
		w := e.worker(t, "w1")
		drain(t, w)
		if n := len(e.botPosts(e.channel.Id, r.ID)); n != 3 {
			t.Fatalf("%d posts rendered from the loader, want the message and two replies", n)
		}
		if _, err := e.queue.Requests().Get(ctx, "REQ-NOPE"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown request: %v", err)
		}
	})
}
