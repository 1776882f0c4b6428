package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/comment"
	"github.com/countersign/countersign/models/outbox"
)

// TestCommentReachesTheThread: a comment written in the portal is
// delivered by the outbox worker as one reply in the request's thread,
// quoted line by line, with its author and "not a decision"; a refused
// comment stores and sends nothing.
func TestCommentReachesTheThread(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.create(t, "restart", 1)
		w := e.worker(t, "w1")
		drain(t, w)
		before := len(e.botPosts(e.channel.Id, r.ID))
		svc := comment.New(e.store, e.svc, comment.Config{Notes: outbox.CommentNotes{}, Now: e.clock.Now})
		bob := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: e.people["bob"].Id, Display: "bob"}, Username: "bob", Roles: []string{"approver"}}
		if _, err := svc.Add(ctx, r.ID, bob, "   "); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("an empty comment: %v", err)
		}
		if _, err := svc.Add(ctx, r.ID, bob, "which pods?\n**all** of them?"); err != nil {
			t.Fatal(err)
		}
		drain(t, w)
		posts := e.botPosts(e.channel.Id, r.ID)
		var notes []string
		for _, p := range posts[before:] {
			notes = append(notes, p.Message)
			if p.RootId == "" {
				t.Errorf("the comment note %q is not in the request's thread", p.Message)
			}
		}
		if len(notes) != 1 || !strings.Contains(notes[0], "commented on "+r.ID) || !strings.Contains(notes[0], "not a decision") ||
			!strings.Contains(notes[0], "> which pods?\n> \\*\\*all\\*\\* of them?") {
			t.Fatalf("thread after the comments: %q", notes)
		}
	})
}
